"""Delivery of an approved post: one personalised outbox row per each-message member.

The message is built and serialised once, with placeholders where each member's reply and
unsubscribe tokens go; a member's copy is that text with their tokens put in. Ten thousand
members cost ten thousand string replacements, not ten thousand serialisations.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime

from sqlmodel import Session, col, select

from mailhub import rendering
from mailhub.addresses import AddressBook, Kind
from mailhub.context import Context
from mailhub.inbound.attachments import attachment_path
from mailhub.member_tokens import unsubscribe_token
from mailhub.models import (
    Attachment,
    Community,
    Delivery,
    Membership,
    MembershipStatus,
    Person,
    Post,
)
from mailhub.outbound import headers, outbox
from mailhub.outbound.compose import bounce_address
from mailhub.outbound.leave import leave_text, mark_survived
from mailhub.outbound.outbox import Outgoing
from mailhub.portal import links

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
class PostMail:
    """A post's message with placeholders for the per-member tokens, split once for speed.
    The body holds the unsubscribe placeholder too when it shows the member's link."""

    head: bytes
    body: bytes
    reply_mark: bytes
    unsubscribe_mark: bytes

    def personalise(self, reply: str, unsubscribe: str) -> bytes:
        token = unsubscribe.encode()
        head = self.head.replace(self.reply_mark, reply.encode())
        head = head.replace(self.unsubscribe_mark, token)
        if self.unsubscribe_mark in self.body:
            return head + self.body.replace(self.unsubscribe_mark, token)
        return head + self.body


def fan_out(ctx: Context, session: Session, post: Post) -> int:
    """Queue the approved ``post`` to every each-message member in the caller's transaction.

    Idempotent: each copy's dedup key is ``post:<post id>:person:<person id>``, so a second
    run (or a second node) queues nothing. Returns how many copies were new.
    """
    assert post.id is not None
    community = session.get(Community, post.community_id)
    assert community is not None and community.id is not None
    members = receiving_members(session, community.id)
    if not members:
        return 0
    book = ctx.address_book(session)
    template = build_post_mail(ctx, session, book, community, post)
    added = queue_copies(
        ctx,
        session,
        community,
        template,
        members,
        replied=post.id,
        kind="post",
        key=f"post:{post.id}",
    )
    log.info("post #%s: %s of %s copies queued", post.id, added, len(members))
    return added


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


def build_post_mail(
    ctx: Context, session: Session, book: AddressBook, community: Community, post: Post
) -> PostMail:
    """The post as delivered: DMARC-safe From, author kept visible, list headers, tag."""
    settings = ctx.settings
    reply_mark = f"mhr{secrets.token_hex(10)}"
    unsubscribe_mark = f"mhu{secrets.token_hex(10)}"
    list_address = book.address(community.slug, Kind.POST)
    author = headers.short_name(post.author_name) or post.author_email
    reply_to = book.address(community.slug, Kind.REPLY, reply_mark)
    if settings.delivery.reply_to == "list-and-author" and post.author_email:
        reply_to = f"{reply_to}, {headers.mailbox(post.author_name, post.author_email)}"
    sent = post.sent_at or post.received_at
    lines = [
        headers.header_line(
            "From", headers.mailbox(f"{author} via {community.name}", list_address)
        ),
        headers.header_line("To", list_address),
        headers.header_line(
            "Subject",
            headers.encoded_text("Subject", headers.tag_subject(post.subject, community.tag)),
        ),
        headers.header_line("Date", format_datetime(sent)),
        headers.header_line("Reply-To", reply_to),
        headers.header_line(
            "X-Original-From", headers.mailbox(post.author_name, post.author_email)
        ),
    ]
    lines += [
        headers.header_line(name, value)
        for name, value in headers.list_headers(settings, book, community, unsubscribe_mark).items()
    ]
    archived = links.archived_at(
        settings, community, links.post_path(community.slug, post.thread_id, post.id)
    )
    if archived and post.thread_id:
        lines.append(headers.header_line("Archived-At", f"<{archived}>"))
    ids = (
        headers.id_header("Message-ID", [post.message_id])
        + headers.id_header("In-Reply-To", [post.in_reply_to] if post.in_reply_to else [])
        + headers.id_header("References", list(post.references))
    )
    leave = leave_text(settings, community.name, unsubscribe_mark)
    content = _content(ctx, session, book, community, post, leave)
    if not mark_survived(content, unsubscribe_mark, leave):
        content = _content(ctx, session, book, community, post, "")
    mime_head, body = content.split(BLANK_LINE, 1)
    head = "".join(lines).encode("ascii") + ids + mime_head
    return PostMail(head, BLANK_LINE + body, reply_mark.encode(), unsubscribe_mark.encode())


def _content(
    ctx: Context,
    session: Session,
    book: AddressBook,
    community: Community,
    post: Post,
    leave: str,
) -> bytes:
    """The MIME part of the mail: the trimmed text, the footer (with ``leave``, the lines
    with the unsubscribe link) and the post's attachments."""
    footer = rendering.render(
        "delivery/footer.txt",
        ctx.settings.templates_override,
        author_name=post.author_name,
        author_email=post.author_email,
        community=community.name,
        request=book.address(community.slug, Kind.REQUEST),
        leave=leave,
    )
    text = post.body_text.rstrip() + "\n" + footer
    part = EmailMessage(policy=policy.SMTP)
    plain = text.isascii() and all(len(line) < 990 for line in text.splitlines())
    part.set_content(text, cte="7bit" if plain else "quoted-printable")
    root = ctx.settings.data_dir / "attachments"
    stored = session.exec(
        select(Attachment).where(Attachment.post_id == post.id).order_by(col(Attachment.id))
    )
    for item in stored:
        path = attachment_path(root, item.sha256)
        if not path.exists():
            log.warning("post #%s: attachment %s missing at %s", post.id, item.filename, path)
            continue
        maintype, _, subtype = item.content_type.partition("/")
        part.add_attachment(
            path.read_bytes(),
            maintype=maintype or "application",
            subtype=subtype or "octet-stream",
            filename=item.filename,
        )
    return part.as_bytes()
