"""The moderator's synopsis by email: the route for mail to `<list>+s-<token>@`.

The reply's own text (quotes and signature trimmed) becomes the synopsis, if the token is
genuine and of this community, the discussion is closed, and the mail comes from the
discussion's moderator or an admin of the community. Anything else changes nothing and
the sender is told why; a synopsis already set is replaced only by an explicit correction:
a reply whose first line is the word "correction", the corrected synopsis below it (the
moderator has no command line, and a second send by mistake must not replace anything).
"""

from __future__ import annotations

import re

from sqlmodel import select

from mailhub import tokens
from mailhub.addresses import Kind
from mailhub.discussions import synopsis
from mailhub.errors import MailhubError
from mailhub.inbound.outcomes import Incoming, Outcome
from mailhub.inbound.trim import trim_reply
from mailhub.models import Discussion, DiscussionState, Membership, Person
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


# The first line of a correction by mail: the word alone ("Correction:", "CORRECTION").
CORRECTION_LINE = re.compile(r"\s*correction\s*[:.!-]?\s*", re.IGNORECASE)


def read_correction(text: str) -> tuple[bool, str]:
    """Whether the reply's own text opens with the word "correction", and the text after."""
    first, _, rest = text.strip().partition("\n")
    if CORRECTION_LINE.fullmatch(first):
        return True, rest
    return False, text


def _refuse(
    incoming: Incoming,
    sender: str,
    why: str,
    *,
    who_may: bool = True,
    reply_here: str | None = None,
) -> Outcome:
    """Tell the sender why nothing changed. ``reply_here``: the synopsis address, when
    answering this mail again is the way on (a correction)."""
    community = incoming.community
    book = incoming.ctx.address_book(incoming.session)
    text = render(
        "discussions/synopsis_refused.txt",
        incoming.ctx.settings.templates_override,
        community=community,
        why=why,
        who_may=who_may,
        reply_here=reply_here is not None,
        owner_address=book.address(community.slug, Kind.OWNER),
    )
    if sender:
        answer_to = reply_here or owner_reply_to(book, community)
        _answer(incoming, sender, "Your synopsis was not published", text, "refused", answer_to)
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
    book = ctx.address_book(session)
    here = book.address(community.slug, Kind.SYNOPSIS, incoming.destination.token)
    correction, text = read_correction(trim_reply(incoming.parsed.text).own_words)
    if not text.strip():
        why = "the reply had nothing of yours above the quoted mail; write the synopsis at the top"
        return _refuse(incoming, sender, why)
    summarised = discussion.state == DiscussionState.SUMMARISED.value
    if summarised and not correction:
        why = (
            f"\u201c{discussion.title}\u201d already has a synopsis. To replace it, reply with\n"
            "the word 'correction' alone on the first line and the whole corrected\n"
            "synopsis below it"
        )
        return _refuse(incoming, sender, why, who_may=False, reply_here=here)
    try:
        sent = synopsis.set_synopsis(
            ctx, session, discussion.id or 0, text, correction=correction and summarised
        )
    except MailhubError as exc:
        return _refuse(incoming, sender, str(exc), who_may=False)
    _answer(
        incoming,
        sender,
        f"{'Correction' if correction and summarised else 'Synopsis'} published: "
        f"{discussion.title}",
        _published(discussion.title, sent),
        "done",
        reply_to=here,
    )
    return incoming.outcome("synopsis", f"synopsis of discussion #{discussion.id} by {sender}")


def _published(title: str, sent: int) -> str:
    return (
        f"The synopsis of \u201c{title}\u201d is stored and was sent to {sent} member(s).\n\n"
        "To correct it, reply to this mail: write the word 'correction' alone on\n"
        "the first line, then the whole synopsis as it should read. It replaces\n"
        "this one and goes to every member as a correction.\n"
    )
