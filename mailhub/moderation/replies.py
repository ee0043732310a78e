"""Moderators decide by email: the route for mail to `<list>+m-<token>@`.

A reply to one held item's notification carries a token for that item and that moderator;
a reply to the queue reminder carries a queue token and may hold several lines of
decisions; a reply to an offer of an approved post's attachments carries a resource token
and adds them to the library (see `mailhub.library.offers`). A decision counts only
when the token is genuine, belongs to this community, and the mail comes from one of its
moderators; anything else changes nothing and the sender is told why. An empty or unclear
reply never approves anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlmodel import Session, select

from mailhub import tokens
from mailhub.context import Context
from mailhub.errors import InvalidInput
from mailhub.inbound.closings import is_valediction
from mailhub.inbound.outcomes import Incoming, Outcome
from mailhub.inbound.trim import trim_reply
from mailhub.library import offers as resource_offers
from mailhub.models import Community, Person, Post
from mailhub.moderation import actions, team
from mailhub.outbound.compose import Notice, owner_reply_to, send_notice, send_rendered
from mailhub.times import human

WORDS = {
    "approve": "approve",
    "approved": "approve",
    "accept": "approve",
    "reject": "reject",
    "rejected": "reject",
    "discard": "discard",
    "delete": "discard",
    "defer": "defer",
    "later": "defer",
}
# `approve 1 3 4`, `approve [6] and [7]`, `discard #5`: the numbers in the reminder's brackets.
BATCH_LINE = re.compile(
    r"^\s*(approve|reject|discard|defer)\s+((?:[#\[]?\d+\]?(?:[\s,]+(?:and\s+)?|$))+)(.*)$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Answer:
    action: str
    reason: str | None
    themes: tuple[str, ...] = ()


THEMES_WORD = re.compile(r"^themes?\b[\s:=]*", re.IGNORECASE)


# A line that only greets ("Hi Maria,", "Dear colleagues,", "Hello"): read past it.
GREETING = re.compile(
    r"(?:hi|hello|hey|dear|greetings|good\s+(?:morning|afternoon|evening))"
    r"(?:\s+[^\s,!.:;]+){0,3}\s*[,!]?",
    re.IGNORECASE,
)


def read_decision(text: str) -> Answer | None:
    """The decision on the first line of the reply that is neither quoted, blank nor a
    greeting, if any. A rejection's reason may follow on its own line ("reject" and
    below it "Off topic for this list")."""
    lines = [
        stripped
        for line in trim_reply(text).own_words.splitlines()
        for stripped in [line.strip().strip("*_").strip()]
        if stripped and not stripped.startswith(">")
    ]
    while lines and GREETING.fullmatch(lines[0]):
        lines.pop(0)
    if not lines:
        return None
    word, _, rest = lines[0].partition(" ")
    action = WORDS.get(word.lower().rstrip(".,:;!"))
    if action is None:
        return None
    if action == "approve" and THEMES_WORD.match(rest.strip()):
        # `approve themes skills green-jobs`: the post's thread takes those themes.
        listed = THEMES_WORD.sub("", rest.strip())
        return Answer(action, None, tuple(t for t in re.split(r"[,;\s]+", listed) if t))
    if action != "reject":
        return Answer(action, None)
    reason = rest.strip(" :-") or None
    if reason is None and len(lines) > 1 and not is_valediction(lines[1]):
        reason = lines[1].strip(" :-") or None
    return Answer(action, reason)


def read_batch(text: str) -> list[tuple[str, list[int], str | None]]:
    """Lines such as `approve 1 3 4` or `reject 2 off topic`."""
    found = []
    for line in trim_reply(text).own_words.splitlines():
        match = BATCH_LINE.match(line)
        if match:
            numbers = [int(n) for n in re.findall(r"\d+", match.group(2))]
            reason = match.group(3).strip() or None
            found.append((match.group(1).lower(), numbers, reason))
    return found


def _answer(
    incoming: Incoming,
    to: str,
    subject: str,
    key: str,
    person: Person | None,
    *,
    text: str = "",
    reply_to: str | None = None,
) -> Notice:
    """The answer to a moderator's mail, threaded under it: one per mail and ``key``."""
    return Notice(
        to=to,
        subject=subject,
        text=text,
        kind="moderation-reply",
        dedup_key=f"moderation-reply:{incoming.item.message_id}:{key}",
        person_id=person.id if person else None,
        in_reply_to=incoming.item.message_id,
        reply_to=reply_to,
    )


def _refuse(
    incoming: Incoming,
    sender: str,
    why: str,
    hint: str | None = None,
    *,
    reply_here: str | None = None,
) -> Outcome:
    """Tell the sender why nothing changed; ``reply_here``, a decision address, when
    answering again with a corrected decision is the way on."""
    ctx, session, community = incoming.ctx, incoming.session, incoming.community
    if sender:
        owner = owner_reply_to(ctx.address_book(session), community)
        notice = _answer(
            incoming,
            sender,
            "Your moderation reply changed nothing",
            "refused",
            None,
            reply_to=reply_here or owner,
        )
        rcpt_to = incoming.item.row.rcpt_to
        send_rendered(
            ctx,
            session,
            community,
            "moderation/refused.txt",
            notice,
            address=rcpt_to[0] if rcpt_to else "this address",
            why=why,
            hint=hint,
            reply_here=reply_here is not None,
        )
    return incoming.outcome("decision", f"refused: {why}")


def handle(incoming: Incoming) -> Outcome:
    """Route for Kind.MODERATION."""
    ctx, session, community = incoming.ctx, incoming.session, incoming.community
    sender_address = (incoming.parsed.from_address or "").lower()
    sender = session.exec(select(Person).where(Person.email == sender_address)).first()
    token = incoming.destination.token or ""
    item = _verify(ctx, tokens.MODERATION, token)
    queue = None if item else _verify(ctx, tokens.QUEUE, token)
    offer = None if item or queue else _verify(ctx, tokens.RESOURCE, token)
    if item is None and queue is None and offer is None:
        return _refuse(
            incoming,
            sender_address,
            "the address carries no valid decision token",
            "Reply to the notification you received, without changing its address.",
        )
    if not team.is_moderator(session, community, sender):
        return _refuse(
            incoming,
            sender_address,
            f"{sender_address or 'the sender'} is not a moderator of {community.name}",
        )
    assert sender is not None
    if queue is not None:
        if queue.int_value(0) != community.id:
            return _refuse(incoming, sender_address, "the token belongs to another community")
        return _batch(incoming, sender)
    found = item or offer
    assert found is not None
    post = session.get(Post, found.int_value(0))
    if post is None or post.community_id != community.id:
        return _refuse(incoming, sender_address, "the token belongs to another community or item")
    if offer is not None:
        return resource_offers.handle_reply(incoming, sender, post)
    return _single(incoming, sender, post)


def _verify(ctx: Context, purpose: str, token: str) -> tokens.Token | None:
    try:
        return tokens.verify(ctx.secret, purpose, token, now=ctx.now())
    except tokens.TokenError:
        return None


def _single(incoming: Incoming, sender: Person, post: Post) -> Outcome:
    ctx, session, community = incoming.ctx, incoming.session, incoming.community
    decision = read_decision(incoming.parsed.text) or read_decision(incoming.parsed.subject)
    if decision is None:
        # Its Reply-To is this item's decision address, so the moderator simply answers again.
        notice = _answer(
            incoming,
            sender.email,
            f"No decision read for item {post.id}",
            "unclear",
            sender,
            reply_to=team.moderation_address(ctx, session, community, post, sender),
        )
        send_rendered(ctx, session, community, "moderation/unclear.txt", notice, post=post)
        return incoming.outcome("decision", f"unclear reply about item {post.id}; nothing changed")
    try:
        actions.decide(
            ctx,
            session,
            post,
            decision.action,
            by=sender,
            via="email",
            reason=decision.reason,
            themes=decision.themes,
        )
    except actions.AlreadyDecided as exc:
        notice = _answer(
            incoming, sender.email, f"Item {post.id} was already decided", "already", sender
        )
        send_rendered(
            ctx,
            session,
            community,
            "moderation/already.txt",
            notice,
            post=post,
            status=post.status,
            decided_by=exc.by,
            decided_at=human(post.decided_at, community.timezone) if post.decided_at else "earlier",
        )
        return incoming.outcome("decision", f"item {post.id} already decided by {exc.by}")
    except InvalidInput as exc:  # an unknown theme, refused before anything was decided
        again = team.moderation_address(ctx, session, community, post, sender)
        return _refuse(incoming, sender.email, str(exc), reply_here=again)
    summary = f"Item {post.id} ({post.subject or 'no subject'}): {_past(decision.action)}."
    done = _answer(incoming, sender.email, summary, "done", sender, text=summary + "\n")
    send_notice(ctx, session, community, done)
    return incoming.outcome("decision", f"{sender.email} {decision.action} item {post.id} by email")


def _past(action: str) -> str:
    return {
        "approve": "approved",
        "reject": "rejected",
        "discard": "discarded",
        "defer": "left waiting",
    }[action]


def _batch(incoming: Incoming, sender: Person) -> Outcome:
    ctx, session, community = incoming.ctx, incoming.session, incoming.community
    lines = read_batch(incoming.parsed.text)
    report: list[str] = []
    for action, numbers, reason in lines:
        for number in numbers:
            report.append(_batch_one(ctx, session, community, sender, action, number, reason))
    if not report:
        report.append("No decision lines were found, so nothing changed.")
        report.append("Reply to this message with lines such as 'approve 1 3 4'.")
    text = "What was done:\n\n" + "\n".join(f"  {line}" for line in report) + "\n"
    subject = f"{community.tag or community.name} moderation summary"
    send_notice(
        ctx,
        session,
        community,
        _answer(
            incoming,
            sender.email,
            subject,
            "batch",
            sender,
            text=text,
            reply_to=team.queue_address(ctx, session, community, sender),
        ),
    )
    return incoming.outcome("decision", f"batch from {sender.email}: {len(report)} line(s)")


def _batch_one(
    ctx: Context,
    session: Session,
    community: Community,
    sender: Person,
    action: str,
    number: int,
    reason: str | None,
) -> str:
    post = session.get(Post, number)
    if post is None or post.community_id != community.id:
        return f"[{number}] no such item in {community.name}: nothing done"
    try:
        actions.decide(
            ctx,
            session,
            post,
            action,
            by=sender,
            via="email",
            reason=reason if action == "reject" else None,
        )
    except actions.AlreadyDecided as exc:
        return f"[{number}] already {post.status} by {exc.by}: nothing done"
    return f"[{number}] {post.subject or '(no subject)'}: {_past(action)}"
