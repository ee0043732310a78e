"""Who gets a newsletter or an event mail: active members whose delivery is `each`,
`digest` or `newsletter` and not disabled by bounces, read in chunks so memory stays flat.

A member who chose `nomail` (delivery `none`) asked for no list mail at all, so they get no
newsletter, event digest or reminder either. A newsletter-only subscriber signed up for the
periodic mail (the newsletter and the event digest), not for the community's day-to-day
traffic, so event reminders go only to `each` and `digest` members who keep them on.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlmodel import col, select

from mailhub.context import Context
from mailhub.models import Delivery, Membership, MembershipStatus, Person

CHUNK = 1000


@dataclass(frozen=True)
class Recipient:
    membership_id: int
    person_id: int
    email: str


# Who receives the periodic mail (newsletters, event digests), and who event reminders.
PERIODIC = (Delivery.EACH.value, Delivery.DIGEST.value, Delivery.NEWSLETTER.value)
REMINDED = (Delivery.EACH.value, Delivery.DIGEST.value)


def _receiving(community_id: int, reminders_only: bool) -> list[Any]:
    conditions = [
        Membership.community_id == community_id,
        Membership.status == MembershipStatus.ACTIVE.value,
        col(Membership.delivery).in_(REMINDED if reminders_only else PERIODIC),
        col(Membership.delivery_disabled_reason).is_(None),
    ]
    if reminders_only:
        conditions.append(col(Membership.event_reminders).is_(True))
    return conditions


def chunks(
    ctx: Context, community_id: int, reminders_only: bool = False, size: int = CHUNK
) -> Iterator[list[Recipient]]:
    """Recipients in membership order, ``size`` at a time, each chunk in its own session."""
    after = 0
    while True:
        with ctx.session() as session:
            rows = session.exec(
                select(col(Membership.id), Membership.person_id, Person.email)
                .join(Person, col(Person.id) == col(Membership.person_id))
                .where(*_receiving(community_id, reminders_only), col(Membership.id) > after)
                .order_by(col(Membership.id))
                .limit(size)
            ).all()
        chunk = [Recipient(m, p, e) for m, p, e in rows if m is not None]
        if not chunk:
            return
        yield chunk
        after = chunk[-1].membership_id
