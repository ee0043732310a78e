"""The tokens that act on a membership, minted and read only here: unsubscribe and confirm.

Every list mail carries an unsubscribe token (its `List-Unsubscribe` mailto and one-click
link); every confirmation mail a confirmation token. Both name the membership and its person,
so a token for a removed membership can never act on another one that reuses its id.

- An unsubscribe token never expires (a mail years old must still let its reader leave) and
  may act again (leaving twice changes nothing).
- A confirmation token expires after `CONFIRM_DAYS` and acts once: `consume` records its
  digest in `used_token`, so a replayed confirmation (a join answered again after the member
  left) is answered "already used" and changes nothing.

The membership's community is checked by the caller against the address or page the token
arrived at, so one community's token never acts at another's address.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.engine import Connection

from mailhub import tokens
from mailhub.db import insert_once
from mailhub.models import Delivery, UsedToken, table_of

CONFIRM_DAYS = 7
JOIN, LEAVE = "join", "leave"  # what a confirmation token confirms
ACTIONS = (JOIN, LEAVE)
# The delivery a join asks for, as a short token value (local parts hold 64 characters).
JOIN_DELIVERY = {"e": Delivery.EACH.value, "n": Delivery.NEWSLETTER.value}
_DELIVERY_CODE = {mode: code for code, mode in JOIN_DELIVERY.items()}


class UnusableToken(ValueError):
    """A token that is malformed, forged, expired or for another purpose; the message is
    for people."""


@dataclass(frozen=True)
class MembershipToken:
    """What a verified token names: a membership of a person and, for a confirmation, the
    action and the delivery a join asks for (None: keep the current one)."""

    membership_id: int
    person_id: int
    action: str = ""
    delivery: str | None = None


def unsubscribe_token(secret: str, membership_id: int, person_id: int) -> str:
    """The token of a member's unsubscribe address and one-click link; valid for ever."""
    return tokens.sign(secret, tokens.UNSUBSCRIBE, membership_id, person_id)


def confirmation_token(
    secret: str,
    membership_id: int,
    person_id: int,
    action: str,
    now: datetime,
    delivery: str | None = None,
) -> str:
    """The token of a confirmation mail's reply address and page, valid `CONFIRM_DAYS`."""
    if action not in ACTIONS:
        raise ValueError(f"unknown confirmation action {action!r}")
    values: tuple[str | int, ...] = (membership_id, person_id, action)
    if action == JOIN and delivery in _DELIVERY_CODE:
        values += (_DELIVERY_CODE[delivery],)
    expires = now + timedelta(days=CONFIRM_DAYS)
    return tokens.sign(secret, tokens.CONFIRM, *values, expires_at=expires)


def read(secret: str, purpose: str, token: str, now: datetime) -> MembershipToken:
    """The membership a token of ``purpose`` (UNSUBSCRIBE or CONFIRM) names; UnusableToken
    when it cannot be trusted."""
    try:
        found = tokens.verify(secret, purpose, token, now=now)
        membership_id, person_id = found.int_value(0), found.int_value(1)
    except tokens.TokenError as exc:
        if "expired" in str(exc):
            raise UnusableToken("this link has expired") from None
        raise UnusableToken("this link is not valid (it may be incomplete)") from None
    except (IndexError, ValueError):
        raise UnusableToken("this link is not valid (it may be incomplete)") from None
    if purpose != tokens.CONFIRM:
        return MembershipToken(membership_id, person_id)
    action = found.values[2] if len(found.values) > 2 else ""
    if action not in ACTIONS:
        raise UnusableToken("this link is not valid (it may be incomplete)")
    code = found.values[3] if len(found.values) > 3 else ""
    return MembershipToken(membership_id, person_id, action, JOIN_DELIVERY.get(code))


def digest(token: str) -> str:
    """What the store keeps of a used token: its hash, never the token itself."""
    return hashlib.sha256(token.strip().lower().encode()).hexdigest()


def consume(connection: Connection, purpose: str, token: str, now: datetime) -> bool:
    """Record a single-use token as used; False when it was used before. Whoever inserts the
    row acts, however many answers to one confirmation arrive at once."""
    values = {"digest": digest(token), "purpose": purpose, "used_at": now}
    return insert_once(connection, table_of(UsedToken), values, ["digest"])


def is_used(connection: Connection, token: str) -> bool:
    table = table_of(UsedToken)
    query = table.select().where(table.c.digest == digest(token))
    return connection.execute(query).first() is not None
