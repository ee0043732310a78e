"""Acting on bounces: whose address failed, how badly, and when to stop mailing it.

The member is found by the VERP token of the return path (``+b-<token>``), which names the
community and the person; a bounce to any other address of ours is matched by the failed
recipients it names. A token that does not verify means the mail is not a bounce of ours:
it is logged and ignored, never matched by address instead, so nobody can pause a member's
mail with a forged notice to a made-up return path.

Scores belong to the person, because it is their address that fails: a hard bounce adds
``hard_bounce_score``, a soft one ``soft_bounce_score``, at most once per calendar day (UTC),
and a score older than ``bounce_memory_days`` is forgotten. At the threshold delivery is
paused in every community the person is an active member of, since every one of them
mails the same dead address; the person and the admins of those communities are told.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from mailhub import tokens
from mailhub.addresses import Kind
from mailhub.context import Context
from mailhub.inbound.classify import classify
from mailhub.inbound.outcomes import Incoming, Outcome
from mailhub.inbound.parse import ParsedMessage
from mailhub.models import Community, Person
from mailhub.outbound.bounce_notices import disable_delivery
from mailhub.outbound.bounces import BouncedRecipient, dsn_blocks, parse_bounce

log = logging.getLogger("mailhub.bounces")


@dataclass(frozen=True)
class Failure:
    """One failed delivery to one of our people."""

    person_id: int
    address: str
    hard: bool
    status: str | None


def handle_bounce(incoming: Incoming) -> Outcome:
    """The CLASS_ROUTES entry for bounces: score the member, pause delivery at the limit."""
    parsed = incoming.parsed
    found = classify(parsed, envelope_sender=incoming.item.row.envelope_sender)
    if found.kind != "bounce":
        # Mail to a return path is not always a bounce: vacation replies and delay warnings
        # come there too, and must never count. What reads as written by a person stays in
        # the bounce class of its address, uncounted.
        msg_class = "bounce" if found.kind == "normal" else found.kind
        return incoming.outcome(msg_class, f"{found.reason}; not counted as a bounce")
    failures, problem = _failures(incoming)
    if problem:
        return incoming.outcome("bounce", problem)
    if not failures:
        return incoming.outcome("bounce", "no member among the failed recipients")
    reasons = [
        count_failure(incoming.ctx, incoming.session, incoming.community, f) for f in failures
    ]
    return incoming.outcome("bounce", "; ".join(reasons))


def _failures(incoming: Incoming) -> tuple[list[Failure], str | None]:
    """Who failed and how, or a reason why the bounce is ignored."""
    recipients = _failed_recipients(incoming.parsed)
    destination = incoming.destination
    if destination.kind is Kind.BOUNCE and destination.token:
        person_id, problem = _verp_person(incoming, destination.token)
        if person_id is None:
            return [], problem
        worst = _worst(recipients)
        person = incoming.session.get(Person, person_id)
        if person is None:
            return [], f"bounce for person #{person_id}, who is no longer known"
        if worst is None:
            return [Failure(person_id, person.email, False, None)], None
        return [Failure(person_id, worst.address, worst.hard, worst.status)], None
    by_address = {r.address: r for r in recipients}
    people = incoming.session.exec(
        select(Person.id, Person.email).where(col(Person.email).in_(list(by_address)))
    ).all()
    return [
        Failure(pid, email, by_address[email].hard, by_address[email].status)
        for pid, email in people
        if pid is not None
    ], None


def _verp_person(incoming: Incoming, token: str) -> tuple[int | None, str | None]:
    ctx = incoming.ctx
    try:
        verified = tokens.verify(ctx.secret, tokens.BOUNCE, token, now=ctx.now())
        community_id, person_id = verified.int_value(0), verified.int_value(1)
    except (tokens.TokenError, ValueError, IndexError) as exc:
        log.warning("bounce to a return path with a bad token %r ignored: %s", token, exc)
        return None, f"return path token does not verify ({exc}); ignored"
    if community_id != incoming.community.id:
        log.warning(
            "bounce token for community #%s came to %s", community_id, incoming.community.slug
        )
        return None, "return path token is for another community; ignored"
    if not person_id:
        return None, "bounce of a mail to someone who is not a member; nothing to count"
    return person_id, None


def _failed_recipients(parsed: ParsedMessage) -> list[BouncedRecipient]:
    """Recipients that failed; those a mixed report only says are delayed are left out."""
    delayed: set[str] = set()
    for report in parsed.delivery_status:
        for block in dsn_blocks(report):
            if block.get("action", "").lower().startswith("delayed"):
                delayed.update(
                    v.split(";")[-1].strip(" <>").lower()
                    for k, v in block.items()
                    if k.endswith("recipient")
                )
    return [r for r in parse_bounce(parsed).recipients if r.address not in delayed]


def _worst(recipients: list[BouncedRecipient]) -> BouncedRecipient | None:
    return max(recipients, key=lambda r: (r.hard, r.permanent), default=None)


def count_failure(ctx: Context, session: Session, community: Community, failure: Failure) -> str:
    """Add this failure (a bounce, or a relay's refusal: outbound/refusals.py) to the
    person's score; pause delivery at the threshold."""
    settings = ctx.settings.delivery
    now = ctx.now()
    person = session.exec(
        select(Person).where(Person.id == failure.person_id).with_for_update()
    ).one()
    kind = "hard" if failure.hard else "soft"
    code = f" ({failure.status})" if failure.status else ""
    what = f"{kind} bounce for {failure.address}{code}"
    memory = timedelta(days=settings.bounce_memory_days)
    if person.last_bounce_at and now - person.last_bounce_at > memory:
        person.bounce_score = 0.0
    of = f"{settings.bounce_threshold:.1f}"
    if _same_day(person.last_bounce_at, now):
        return f"{what}, already counted today (score {person.bounce_score:.1f} of {of})"
    person.bounce_score += (
        settings.hard_bounce_score if failure.hard else settings.soft_bounce_score
    )
    person.last_bounce_at = now
    session.add(person)
    session.flush()
    reason = f"{what}, score {person.bounce_score:.1f} of {of}"
    if person.bounce_score >= settings.bounce_threshold:
        paused = disable_delivery(ctx, session, community, person, reason)
        if paused:
            reason += f"; delivery paused in {', '.join(paused)}"
    log.info("%s", reason)
    return reason


def _same_day(last: datetime | None, now: datetime) -> bool:
    return last is not None and last.date() == now.date()
