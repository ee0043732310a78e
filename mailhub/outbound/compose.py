"""Building the mails mailhub writes itself (notices, confirmations, decisions, forwards to
a community's owners), and queueing them. Every such mail is marked as machine-written
(RFC 3834) and carries our loop marker, so no auto-responder answers it and it can never
come back to us as a post. A mail on behalf of the instance rather than a community (to its
admins, from postmaster@) has postmaster@ as sender and return path, and no List-Id.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from email.utils import format_datetime, make_msgid
from typing import Any

from sqlmodel import Session

from mailhub import tokens
from mailhub.addresses import AddressBook, Kind
from mailhub.context import Context
from mailhub.models import Community, Person
from mailhub.outbound import outbox
from mailhub.outbound.headers import list_id, loop_marker, mailbox, usable_ids
from mailhub.outbound.outbox import Outgoing
from mailhub.outbound.rawmail import assemble
from mailhub.rendering import render


def bounce_address(
    ctx: Context, book: AddressBook, community: Community, person_id: int | None
) -> str:
    """The VERP return path: a bounce to it names the community and the recipient."""
    token = tokens.sign(ctx.secret, tokens.BOUNCE, community.id or 0, person_id or 0)
    return book.address(community.slug, Kind.BOUNCE, token)


def owner_reply_to(book: AddressBook, community: Community) -> str:
    """The Reply-To of a notice that invites a question: the community's -owner address, so
    that a reply reaches its moderators and admins rather than the command robot."""
    return mailbox(f"{community.name} moderators", book.address(community.slug, Kind.OWNER))


@dataclass(kw_only=True)
class Notice:
    """One machine-written mail to one person (its text left empty when a template writes
    it, see `send_rendered`)."""

    to: str
    subject: str
    kind: str
    dedup_key: str
    text: str = ""
    person_id: int | None = None
    html: str | None = None
    reply_to: str | None = None
    from_kind: Kind = Kind.REQUEST
    from_name: str | None = None  # the community's name when not given
    in_reply_to: str | None = None
    extra_headers: dict[str, str] = field(default_factory=dict)


def staff_notice(
    community: Community,
    person: Person,
    subject: str,
    *,
    kind: str,
    dedup_key: str,
    reply_to: str | None = None,
) -> Notice:
    """A notice to one of a community's moderators or admins: the community's tag (or
    name) leads its subject, so their inbox sorts it with the community's other work."""
    return Notice(
        to=person.email,
        subject=f"{community.tag or community.name} {subject}",
        kind=kind,
        dedup_key=dedup_key,
        person_id=person.id,
        reply_to=reply_to,
    )


def build_notice(
    ctx: Context,
    session: Session,
    community: Community | None,
    notice: Notice,
    book: AddressBook | None = None,
) -> Outgoing:
    """Turn a notice into the bytes of a well-formed message and its envelope; without a
    community it comes from the instance's postmaster."""
    book = book or ctx.address_book(session)
    domain = ctx.settings.instance.domain
    if community is None:
        sender = return_path = book.postmaster()
        name = notice.from_name or ctx.settings.instance.name
    else:
        sender = book.address(community.slug, notice.from_kind)
        return_path = bounce_address(ctx, book, community, notice.person_id)
        name = notice.from_name or community.name
    fields = [
        ("From", mailbox(name, sender)),
        ("To", notice.to),
        ("Subject", notice.subject),
        ("Date", format_datetime(ctx.now())),
        ("Message-ID", make_msgid(domain=domain)),
    ]
    if notice.reply_to:
        fields.append(("Reply-To", notice.reply_to))
    if notice.in_reply_to and usable_ids("In-Reply-To", [notice.in_reply_to]):
        fields += [
            ("In-Reply-To", f"<{notice.in_reply_to}>"),
            ("References", f"<{notice.in_reply_to}>"),
        ]
    fields += [
        ("Auto-Submitted", "auto-generated"),
        ("X-Auto-Response-Suppress", "All"),
        ("X-Loop", loop_marker(domain)),
    ]
    if community is not None:
        fields.append(("List-Id", list_id(ctx.settings, community)))
    fields += notice.extra_headers.items()
    return Outgoing(
        dedup_key=notice.dedup_key,
        kind=notice.kind,
        recipient=notice.to,
        envelope_from=return_path,
        raw=assemble(fields, notice.text, notice.html),
        community_id=community.id if community else None,
        person_id=notice.person_id,
    )


def send_notice(
    ctx: Context, session: Session, community: Community | None, notice: Notice
) -> bool:
    """Queue a notice in the caller's transaction; False if its dedup key was queued before."""
    return outbox.enqueue(session, build_notice(ctx, session, community, notice), ctx.queue_time())


def send_rendered(
    ctx: Context,
    session: Session,
    community: Community | None,
    template: str,
    notice: Notice,
    /,
    **context: Any,
) -> bool:
    """Queue ``notice`` with ``template`` rendered as its text; False if queued before.

    The template sees ``community`` and, for a community, its request, post and owner
    addresses, besides ``context`` (which wins where it names the same thing).
    """
    shared: dict[str, Any] = {"community": community}
    if community is not None:
        book = ctx.address_book(session)
        shared["request_address"] = book.address(community.slug, Kind.REQUEST)
        shared["post_address"] = book.address(community.slug, Kind.POST)
        shared["owner_address"] = book.address(community.slug, Kind.OWNER)
    text = render(template, ctx.settings.templates_override, **{**shared, **context})
    return send_notice(ctx, session, community, replace(notice, text=text))
