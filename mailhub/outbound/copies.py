"""List mail written once and copied per member: the part posts (fanout.py) and a
discussion's mails (discussions/listmail.py) share.

A mail is built and serialised once, with placeholders (`Marks`) where each member's reply
and unsubscribe tokens go; a member's copy is that text with their tokens put in, so ten
thousand members cost ten thousand string replacements, not ten thousand serialisations.
Its header (`list_head`) is the community's list header with what sets the mail apart
(`ListHead`); its body shows the member's unsubscribe link when it survives the encoding
(`with_leave`).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime

from sqlmodel import Session, col, select

from mailhub.addresses import AddressBook, Kind
from mailhub.context import Context
from mailhub.member_tokens import unsubscribe_token
from mailhub.models import Community, Delivery, Membership, MembershipStatus, Person
from mailhub.outbound import headers, outbox
from mailhub.outbound.compose import bounce_address
from mailhub.outbound.leave import leave_text, mark_survived
from mailhub.outbound.outbox import Outgoing

log = logging.getLogger("mailhub.delivery")
BLANK_LINE = b"\r\n\r\n"


@dataclass(frozen=True)
class Recipient:
    person_id: int
    email: str
    membership_id: int


def receiving_members(
    session: Session, community_id: int, deliveries: tuple[str, ...] = (Delivery.EACH.value,)
) -> list[Recipient]:
    """Active members whose delivery is one of ``deliveries`` (every post by default) and
    whose delivery bounces have not disabled."""
    query = (
        select(Person.id, Person.email, Membership.id)
        .join(Membership, col(Membership.person_id) == col(Person.id))
        .where(
            Membership.community_id == community_id,
            Membership.status == MembershipStatus.ACTIVE.value,
            col(Membership.delivery).in_(deliveries),
            col(Membership.delivery_disabled_reason).is_(None),
        )
        .order_by(col(Membership.id))
    )
    return [Recipient(*row) for row in session.exec(query).all()]


@dataclass(frozen=True)
class Marks:
    """The placeholders of one list mail for each member's reply and unsubscribe tokens."""

    reply: str
    unsubscribe: str

    @classmethod
    def new(cls) -> Marks:
        return cls(f"mhr{secrets.token_hex(10)}", f"mhu{secrets.token_hex(10)}")


@dataclass(frozen=True)
class PostMail:
    """A list mail with placeholders for the per-member tokens, split once for speed.
    The body holds the unsubscribe placeholder too when it shows the member's link."""

    head: bytes
    body: bytes
    reply_mark: bytes
    unsubscribe_mark: bytes

    @classmethod
    def of(cls, head: bytes, content: bytes, marks: Marks) -> PostMail:
        """``head`` (the list's fields) and ``content`` (a MIME entity: its own header
        lines, a blank line, its body) as one mail."""
        mime_head, body = content.split(BLANK_LINE, 1)
        return cls(
            head + mime_head,
            BLANK_LINE + body,
            marks.reply.encode(),
            marks.unsubscribe.encode(),
        )

    def personalise(self, reply: str, unsubscribe: str) -> bytes:
        token = unsubscribe.encode()
        head = self.head.replace(self.reply_mark, reply.encode())
        head = head.replace(self.unsubscribe_mark, token)
        if self.unsubscribe_mark in self.body:
            return head + self.body.replace(self.unsubscribe_mark, token)
        return head + self.body


def with_leave(
    ctx: Context, community: Community, marks: Marks, write: Callable[[str], bytes]
) -> bytes:
    """The content ``write`` makes around the lines with the unsubscribe link, or without
    them when the placeholder did not come through the body's encoding whole."""
    leave = leave_text(ctx.settings, community.name, marks.unsubscribe)
    content = write(leave)
    if mark_survived(content, marks.unsubscribe, leave):
        return content
    return write("")


@dataclass(frozen=True)
class ListHead:
    """What sets the header of one list mail apart; the rest is the community's."""

    sender_name: str
    subject: str
    date: datetime
    message_id: str
    in_reply_to: Sequence[str] = ()
    references: Sequence[str] = ()
    # A member's post names its author (X-Original-From), and with delivery.reply_to =
    # list-and-author gives their mailbox next to the member's reply address.
    original_from: str | None = None
    reply_to_author: str | None = None
    # Fields after the list's own (Archived-At).
    extra: Sequence[tuple[str, str]] = ()


def list_head(
    ctx: Context, book: AddressBook, community: Community, head: ListHead, marks: Marks
) -> bytes:
    """The header fields of a list mail (DMARC-safe From, the member's reply address, the
    list headers, tag in the subject), its MIME fields left to the content."""
    list_address = book.address(community.slug, Kind.POST)
    reply_to = book.address(community.slug, Kind.REPLY, marks.reply)
    if head.reply_to_author:
        reply_to = f"{reply_to}, {head.reply_to_author}"
    subject = headers.encoded_text("Subject", headers.tag_subject(head.subject, community.tag))
    fields = [
        ("From", headers.mailbox(head.sender_name, list_address)),
        ("To", list_address),
        ("Subject", subject),
        ("Date", format_datetime(head.date)),
        ("Reply-To", reply_to),
    ]
    if head.original_from:
        fields.append(("X-Original-From", head.original_from))
    fields += headers.list_headers(ctx.settings, book, community, marks.unsubscribe).items()
    fields += head.extra
    ids = (
        headers.id_header("Message-ID", [head.message_id])
        + headers.id_header("In-Reply-To", list(head.in_reply_to))
        + headers.id_header("References", list(head.references))
    )
    return "".join(headers.header_line(n, v) for n, v in fields).encode("ascii") + ids


def queue_copies(
    ctx: Context,
    session: Session,
    community: Community,
    template: PostMail,
    recipients: Iterable[Recipient],
    *,
    replied: int,
    kind: str,
    key: str,
) -> int:
    """Queue one personal copy of ``template`` per recipient (their reply address naming the
    post ``replied``, their own unsubscribe token and return path) under the dedup key
    ``<key>:person:<id>``; how many copies were new (none when this was done before)."""
    assert community.id is not None
    book = ctx.address_book(session)
    copies = [
        Outgoing(
            dedup_key=f"{key}:person:{r.person_id}",
            kind=kind,
            recipient=r.email,
            envelope_from=bounce_address(ctx, book, community, r.person_id),
            raw=template.personalise(
                headers.reply_token(ctx.secret, replied, r.person_id),
                unsubscribe_token(ctx.secret, r.membership_id, r.person_id),
            ),
            community_id=community.id,
            person_id=r.person_id,
        )
        for r in recipients
    ]
    return outbox.enqueue_many(session, copies, ctx.queue_time())
