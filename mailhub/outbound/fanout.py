"""Delivery of an approved post: one personalised outbox row per each-message member.

The post is built once as a list mail with placeholders for each member's tokens, then
copied per member (see copies.py): its DMARC-safe From, the author kept visible, its
attachments.
"""

from __future__ import annotations

import logging
from email import policy
from email.message import EmailMessage

from sqlmodel import Session, col, select

from mailhub import rendering
from mailhub.addresses import AddressBook, Kind
from mailhub.context import Context
from mailhub.inbound.attachments import attachment_path
from mailhub.models import Attachment, Community, Post
from mailhub.outbound import headers
from mailhub.outbound.copies import (
    ListHead,
    Marks,
    PostMail,
    list_head,
    queue_copies,
    receiving_members,
    with_leave,
)
from mailhub.portal import links

log = logging.getLogger("mailhub.delivery")


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


def build_post_mail(
    ctx: Context, session: Session, book: AddressBook, community: Community, post: Post
) -> PostMail:
    """The post as delivered: DMARC-safe From, author kept visible, list headers, tag."""
    settings = ctx.settings
    marks = Marks.new()
    author = headers.short_name(post.author_name) or post.author_email
    original_from = headers.mailbox(post.author_name, post.author_email)
    extra = []
    archived = links.archived_at(
        settings, community, links.post_path(community.slug, post.thread_id, post.id)
    )
    if archived and post.thread_id:
        extra.append(("Archived-At", f"<{archived}>"))
    with_author = settings.delivery.reply_to == "list-and-author" and post.author_email
    head = ListHead(
        sender_name=f"{author} via {community.name}",
        subject=post.subject,
        date=post.sent_at or post.received_at,
        message_id=post.message_id,
        in_reply_to=[post.in_reply_to] if post.in_reply_to else [],
        references=list(post.references),
        original_from=original_from,
        reply_to_author=original_from if with_author else None,
        extra=extra,
    )
    content = with_leave(
        ctx, community, marks, lambda leave: _content(ctx, session, book, community, post, leave)
    )
    return PostMail.of(list_head(ctx, book, community, head, marks), content, marks)


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
