"""A discussion's mails to the whole community: the announcement, the reminder and the
synopsis. Unlike a post, a discussion reaches digest members too: it is an event, not a
message among many.

Each mail is written once with placeholders for the member's reply and unsubscribe tokens,
then personalised per member (as posts are, see outbound.fanout). The reply address names
the announcement, so whatever a member answers joins the discussion's thread.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from email.utils import format_datetime

from sqlmodel import Session

from mailhub.addresses import Kind
from mailhub.context import Context
from mailhub.models import Community, Delivery
from mailhub.outbound import headers
from mailhub.outbound.fanout import PostMail, Recipient, queue_copies, receiving_members
from mailhub.outbound.leave import leave_text, mark_survived
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
    reply_mark = f"mhr{secrets.token_hex(10)}"
    unsubscribe_mark = f"mhu{secrets.token_hex(10)}"
    list_address = book.address(community.slug, Kind.POST)
    subject = headers.encoded_text("Subject", headers.tag_subject(mail.subject, community.tag))
    lines = [
        headers.header_line("From", headers.mailbox(community.name, list_address)),
        headers.header_line("To", list_address),
        f"Subject: {subject}\r\n",
        headers.header_line("Date", format_datetime(ctx.now())),
        headers.header_line("Reply-To", book.address(community.slug, Kind.REPLY, reply_mark)),
    ]
    lines += [
        headers.header_line(name, value)
        for name, value in headers.list_headers(
            ctx.settings, book, community, unsubscribe_mark
        ).items()
    ]
    parents = [mail.in_reply_to] if mail.in_reply_to else []
    ids = (
        headers.id_header("Message-ID", [mail.message_id])
        + headers.id_header("In-Reply-To", parents)
        + headers.id_header("References", parents)
    )
    leave = leave_text(ctx.settings, community.name, unsubscribe_mark)
    part_headers, body = text_part(f"{mail.text.rstrip()}\n\n-- \n{leave}" if leave else mail.text)
    if not mark_survived(body.encode("ascii"), unsubscribe_mark, leave):
        part_headers, body = text_part(mail.text)
    head = ("".join(lines) + "MIME-Version: 1.0\r\n").encode("ascii") + ids
    head += part_headers.encode("ascii")
    return PostMail(
        head, b"\r\n" + body.encode("ascii"), reply_mark.encode(), unsubscribe_mark.encode()
    )


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
