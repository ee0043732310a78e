"""A discussion's mails to the whole community: the announcement, the reminder and the
synopsis. Unlike a post, a discussion reaches digest members too: it is an event, not a
message among many.

Each mail is written once with placeholders for the member's reply and unsubscribe tokens,
then personalised per member (as posts are, see outbound.copies). The reply address names
the announcement, so whatever a member answers joins the discussion's thread.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlmodel import Session

from mailhub.context import Context
from mailhub.models import Community, Delivery
from mailhub.outbound.copies import (
    ListHead,
    Marks,
    PostMail,
    Recipient,
    list_head,
    queue_copies,
    receiving_members,
    with_leave,
)
from mailhub.outbound.rawmail import text_part

RECEIVING = (Delivery.EACH.value, Delivery.DIGEST.value)


def receivers(session: Session, community_id: int) -> list[Recipient]:
    """Active members who receive mail (each or digest) and whose delivery is not disabled."""
    return receiving_members(session, community_id, RECEIVING)


@dataclass(frozen=True)
class ListMail:
    """What one discussion mail says; the same for every member."""

    subject: str
    text: str
    message_id: str
    in_reply_to: str | None = None


def build(ctx: Context, session: Session, community: Community, mail: ListMail) -> PostMail:
    """The mail with placeholders for each member's reply and unsubscribe tokens."""
    book = ctx.address_book(session)
    marks = Marks.new()
    parents = [mail.in_reply_to] if mail.in_reply_to else []
    head = ListHead(
        sender_name=community.name,
        subject=mail.subject,
        date=ctx.now(),
        message_id=mail.message_id,
        in_reply_to=parents,
        references=parents,
    )

    def write(leave: str) -> bytes:
        part_headers, body = text_part(
            f"{mail.text.rstrip()}\n\n-- \n{leave}" if leave else mail.text
        )
        return f"MIME-Version: 1.0\r\n{part_headers}\r\n{body}".encode("ascii")

    content = with_leave(ctx, community, marks, write)
    return PostMail.of(list_head(ctx, book, community, head, marks), content, marks)


def send_to(
    ctx: Context,
    session: Session,
    community: Community,
    mail: ListMail,
    *,
    recipients: Iterable[Recipient],
    root_post_id: int,
    kind: str,
    key: str,
) -> int:
    """Queue ``mail`` to each recipient under the dedup key ``<key>:person:<id>``; return how
    many copies were new (none when this was done before)."""
    template = build(ctx, session, community, mail)
    return queue_copies(
        ctx, session, community, template, recipients, replied=root_post_id, kind=kind, key=key
    )
