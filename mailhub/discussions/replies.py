"""The moderator's synopsis by email: the route for mail to `<list>+s-<token>@`.

The reply's own text (quotes and signature trimmed) becomes the synopsis, if the token is
genuine and of this community, the discussion is closed, and the mail comes from the
discussion's moderator or an admin of the community. Anything else changes nothing and
the sender is told why; a synopsis already set is replaced only by an explicit correction.
"""

from __future__ import annotations

from sqlmodel import select

from mailhub import tokens
from mailhub.addresses import Kind
from mailhub.discussions import synopsis
from mailhub.errors import MailhubError
from mailhub.inbound.outcomes import Incoming, Outcome
from mailhub.inbound.trim import trim_reply
from mailhub.models import Discussion, Membership, Person
from mailhub.outbound.compose import Notice, owner_reply_to, send_notice
from mailhub.rendering import render


def _answer(
    incoming: Incoming, to: str, subject: str, text: str, key: str, reply_to: str | None = None
) -> None:
    notice = Notice(
        to=to,
        subject=subject,
        text=text,
        kind="synopsis-reply",
        dedup_key=f"synopsis-reply:{incoming.item.message_id}:{key}",
        in_reply_to=incoming.item.message_id,
        reply_to=reply_to,
    )
    send_notice(incoming.ctx, incoming.session, incoming.community, notice)


def _refuse(incoming: Incoming, sender: str, why: str) -> Outcome:
    community = incoming.community
    book = incoming.ctx.address_book(incoming.session)
    text = render(
        "discussions/synopsis_refused.txt",
        incoming.ctx.settings.templates_override,
        community=community,
        why=why,
        owner_address=book.address(community.slug, Kind.OWNER),
    )
    if sender:
        owner = owner_reply_to(book, community)
        _answer(incoming, sender, "Your synopsis was not published", text, "refused", owner)
    return incoming.outcome("synopsis", f"refused: {why}")


def _may_write(incoming: Incoming, discussion: Discussion, person: Person | None) -> bool:
    if person is None:
        return False
    if person.id == discussion.moderator_id:
        return True
    role = incoming.session.exec(
        select(Membership.role).where(
            Membership.community_id == incoming.community.id,
            Membership.person_id == person.id,
            Membership.status == "active",
        )
    ).first()
    return role == "admin"


def handle(incoming: Incoming) -> Outcome:
    """Route for Kind.SYNOPSIS."""
    ctx, session, community = incoming.ctx, incoming.session, incoming.community
    sender = (incoming.parsed.from_address or "").lower()
    try:
        token = tokens.verify(
            ctx.secret, tokens.SYNOPSIS, incoming.destination.token or "", now=ctx.now()
        )
        discussion = session.get(Discussion, token.int_value(0))
    except (tokens.TokenError, ValueError, IndexError):
        return _refuse(incoming, sender, "the address carries no valid synopsis token")
    if discussion is None or discussion.community_id != community.id:
        return _refuse(incoming, sender, "the token belongs to another community")
    person = session.exec(select(Person).where(Person.email == sender)).first()
    if not _may_write(incoming, discussion, person):
        why = f"{sender or 'the sender'} is not the moderator of \u201c{discussion.title}\u201d"
        return _refuse(incoming, sender, why)
    text = trim_reply(incoming.parsed.text).own_words
    if not text.strip():
        why = "the reply had nothing of yours above the quoted mail; write the synopsis at the top"
        return _refuse(incoming, sender, why)
    try:
        sent = synopsis.set_synopsis(ctx, session, discussion.id or 0, text)
    except MailhubError as exc:
        return _refuse(incoming, sender, str(exc))
    summary = (
        f"The synopsis of \u201c{discussion.title}\u201d is stored and was sent to "
        f"{sent} member(s).\n"
    )
    _answer(incoming, sender, f"Synopsis published: {discussion.title}", summary, "done")
    return incoming.outcome("synopsis", f"synopsis of discussion #{discussion.id} by {sender}")
