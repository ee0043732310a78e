"""The members who get a digest, read in chunks so a run's memory does not grow with them.

Only active digest-mode members whose delivery no bounce has disabled; each with the time
their next digest starts from (their last digest, or when they joined).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, type_coerce
from sqlmodel import Session, col, select

from mailhub.context import Context
from mailhub.models import Delivery, Membership, MembershipStatus, Person, UTCDateTime

CHUNK = 1000


@dataclass(frozen=True)
class DigestMember:
    membership_id: int
    person_id: int
    email: str
    digest_format: str
    themes: tuple[str, ...]
    only_my_themes: bool
    since: datetime


def _receiving(community_id: int) -> list[Any]:
    return [
        Membership.community_id == community_id,
        Membership.status == MembershipStatus.ACTIVE.value,
        Membership.delivery == Delivery.DIGEST.value,
        col(Membership.delivery_disabled_reason).is_(None),
    ]


def oldest_cutoff(session: Session, community_id: int) -> datetime | None:
    """The earliest time any digest member's next digest starts from; None when none."""
    start = func.coalesce(col(Membership.last_digest_at), col(Membership.joined_at))
    return session.exec(
        select(type_coerce(func.min(start), UTCDateTime)).where(*_receiving(community_id))
    ).first()


def chunks(ctx: Context, community_id: int, size: int = CHUNK) -> Iterator[list[DigestMember]]:
    """Digest members in order of membership, ``size`` at a time, each chunk read in a
    short session of its own."""
    after = 0
    while True:
        with ctx.session() as session:
            rows = session.exec(
                select(Membership, Person.email)
                .join(Person, col(Person.id) == col(Membership.person_id))
                .where(*_receiving(community_id), col(Membership.id) > after)
                .order_by(col(Membership.id))
                .limit(size)
            ).all()
            chunk = [_member(m, email) for m, email in rows]
        if not chunk:
            return
        yield chunk
        after = chunk[-1].membership_id


def _member(membership: Membership, email: str) -> DigestMember:
    assert membership.id is not None
    return DigestMember(
        membership_id=membership.id,
        person_id=membership.person_id,
        email=email,
        digest_format=membership.digest_format,
        themes=tuple(membership.themes),
        only_my_themes=membership.only_my_themes,
        since=membership.last_digest_at or membership.joined_at,
    )


def one(session: Session, community_id: int, email: str) -> DigestMember | None:
    """One member by address, whatever their delivery (for previews)."""
    row = session.exec(
        select(Membership, Person.email)
        .join(Person, col(Person.id) == col(Membership.person_id))
        .where(Membership.community_id == community_id, Person.email == email.strip().lower())
    ).first()
    return _member(*row) if row else None
