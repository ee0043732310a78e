"""Mail to ``<list>+c-<token>@`` (answers to a confirmation) and ``<list>+u-<token>@`` (the
mailto form of List-Unsubscribe): the token is the proof, so what it names is done at once.

Only the address the token was minted for has it (a confirmation mail, or the headers of a
list mail sent to that member), so a forged From can do nothing here. A confirmation acts
once; either token acts only at its own community's address. The answer goes to the address
the token names, not to whoever sent the mail; a token that cannot be trusted changes nothing
and its sender is told why. Both count towards the daily reply cap of the command address.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from mailhub import tokens
from mailhub.addresses import InvalidAddress, normalise_address
from mailhub.inbound.commands import REPLIES_PER_DAY, REPLY_KINDS
from mailhub.inbound.outcomes import Incoming, Outcome
from mailhub.subscriptions import (
    LEAVE,
    BadToken,
    change_name,
    confirm,
    mails_since,
    member_for_token,
    notify_change,
    unsubscribe,
)


def _dedup_key(incoming: Incoming, kind: str) -> str:
    key = hashlib.sha256(incoming.item.message_id.encode()).hexdigest()[:24]
    return f"{kind}:{incoming.community.id}:{key}"


def _answer(
    incoming: Incoming,
    to: str | None,
    change: str,
    kind: str,
    person_id: int | None,
    reason: str = "",
    delivery: str = "",
) -> bool:
    """Reply unless the address had its share of replies today; True when queued."""
    if to is None:
        return False
    ctx, session = incoming.ctx, incoming.session
    if mails_since(session, to, REPLY_KINDS, ctx.now() - timedelta(days=1)) >= REPLIES_PER_DAY:
        return False
    return notify_change(
        ctx,
        session,
        incoming.community,
        to,
        change,
        kind=kind,
        dedup_key=_dedup_key(incoming, kind),
        person_id=person_id,
        reason=reason,
        delivery=delivery,
    )


def _sender(incoming: Incoming) -> str | None:
    try:
        return normalise_address(incoming.parsed.from_address or "")
    except InvalidAddress:
        return None


def handle_confirmation(incoming: Incoming) -> Outcome:
    """The route for ``+c-``: join or leave as the confirmation said."""
    kind = "confirmation-reply"
    try:
        result, member, action = confirm(
            incoming.ctx, incoming.session, incoming.destination.token or "", incoming.community
        )
    except BadToken as exc:
        _answer(incoming, _sender(incoming), "bad-token", kind, None, str(exc))
        return incoming.outcome("confirmation", f"not confirmed: {exc}")
    change = change_name(action, result)
    delivery = member.membership.delivery
    _answer(incoming, member.person.email, change, kind, member.person.id, delivery=delivery)
    return incoming.outcome("confirmation", f"{member.person.email}: {change}")


def handle_unsubscribe(incoming: Incoming) -> Outcome:
    """The route for ``+u-``: leave at once, and say so with how to come back."""
    kind = "unsubscribe-reply"
    ctx, session = incoming.ctx, incoming.session
    try:
        member, _ = member_for_token(
            ctx, session, tokens.UNSUBSCRIBE, incoming.destination.token or "", incoming.community
        )
    except BadToken as exc:
        _answer(incoming, _sender(incoming), "bad-token", kind, None, str(exc))
        return incoming.outcome("command", f"not unsubscribed: {exc}")
    change = change_name(LEAVE, unsubscribe(member, ctx.now()))
    session.flush()
    _answer(incoming, member.person.email, change, kind, member.person.id)
    return incoming.outcome("command", f"{member.person.email}: {change} (unsubscribe address)")
