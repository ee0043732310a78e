"""People and their memberships: validation, add, update, remove, list.

A person is one normalised address across all communities; a membership carries what is
specific to one community (role, delivery, moderation flag, status, themes).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from mailhub.addresses import InvalidAddress, normalise_address
from mailhub.errors import Conflict, InvalidInput, NotFound
from mailhub.models import (
    Affiliation,
    Community,
    Delivery,
    Membership,
    MembershipStatus,
    Person,
    Role,
)
from mailhub.search.queue import mark_people

AFFILIATIONS = tuple(a.value for a in Affiliation)
ROLES = tuple(r.value for r in Role)
DELIVERIES = tuple(d.value for d in Delivery)
DIGEST_FORMATS = ("mime", "rfc1153")
STATUSES = tuple(s.value for s in MembershipStatus)
TRUE_WORDS = {"1", "true", "yes", "y", "on"}
FALSE_WORDS = {"0", "false", "no", "n", "off", ""}


def check_email(value: str) -> str:
    try:
        return normalise_address(value)
    except InvalidAddress as exc:
        raise InvalidInput(f"email {value!r}: {exc}") from None


def check_choice(field_name: str, value: str, allowed: tuple[str, ...]) -> str:
    folded = value.strip().lower()
    if folded not in allowed:
        raise InvalidInput(f"{field_name} {value!r}: expected one of {', '.join(allowed)}")
    return folded


def check_flag(field_name: str, value: str | bool) -> bool:
    if isinstance(value, bool):
        return value
    folded = value.strip().lower()
    if folded in TRUE_WORDS:
        return True
    if folded in FALSE_WORDS:
        return False
    raise InvalidInput(f"{field_name} {value!r}: expected yes or no")


def check_themes(values: list[str], known: set[str]) -> list[str]:
    themes = sorted({v.strip().lower() for v in values if v.strip()})
    unknown = [t for t in themes if t not in known]
    if unknown:
        listed = ", ".join(sorted(known)) or "none defined; add with 'mailhub theme add'"
        raise InvalidInput(f"unknown theme {', '.join(unknown)} (known: {listed})")
    return themes


@dataclass
class MemberFields:
    """Validated fields for one member; None means "leave as it is" on update."""

    email: str
    name: str | None = None
    affiliation: str | None = None
    country: str | None = None
    organisation: str | None = None
    themes: list[str] | None = None
    role: str | None = None
    delivery: str | None = None
    moderated: bool | None = None
    status: str | None = None
    digest_format: str | None = None
    only_my_themes: bool | None = None
    event_reminders: bool | None = None
    clear_country: bool = field(default=False, repr=False)

    PERSON_FIELDS = ("name", "affiliation", "country", "organisation")
    MEMBERSHIP_FIELDS = (
        "themes",
        "role",
        "delivery",
        "moderated",
        "status",
        "digest_format",
        "only_my_themes",
        "event_reminders",
    )


def find_person(session: Session, email: str) -> Person | None:
    return session.exec(select(Person).where(Person.email == check_email(email))).first()


def membership_of(session: Session, community: Community, person: Person) -> Membership | None:
    return session.exec(
        select(Membership).where(
            Membership.community_id == community.id, Membership.person_id == person.id
        )
    ).first()


def get_membership(session: Session, community: Community, email: str) -> tuple[Person, Membership]:
    person = find_person(session, email)
    membership = membership_of(session, community, person) if person else None
    if person is None or membership is None:
        raise NotFound(f"{email} is not a member of {community.slug}")
    return person, membership


def admin_addresses(
    session: Session, community_ids: Iterable[int] | None = None, extra: str | None = None
) -> list[tuple[str, int | None]]:
    """Who runs these communities (every community: None): each active admin's address and
    person id, and ``extra`` (the instance's admin_email) without one, once each."""
    query = (
        select(Person.email, Person.id)
        .join(Membership, col(Membership.person_id) == Person.id)
        .where(
            Membership.role == Role.ADMIN.value,
            Membership.status == MembershipStatus.ACTIVE.value,
        )
    )
    if community_ids is not None:
        query = query.where(col(Membership.community_id).in_(list(community_ids)))
    found: dict[str, int | None] = dict(session.exec(query).all())
    if extra:
        found.setdefault(extra.lower(), None)
    return sorted(found.items())


def _apply(target: Any, fields: MemberFields, names: tuple[str, ...]) -> list[str]:
    """Set the given fields; the names of those that changed."""
    changed = []
    for name in names:
        value = getattr(fields, name)
        if value is None and not (name == "country" and fields.clear_country):
            continue
        if getattr(target, name) != value:
            setattr(target, name, value)
            changed.append(name)
    return changed


def _apply_profile(session: Session, person: Person, fields: MemberFields) -> bool:
    """Set the person's profile fields; their items are queued for the search index
    again when a field they are found by changed."""
    changed = _apply(person, fields, MemberFields.PERSON_FIELDS)
    if changed and person.id is not None:
        session.flush()
        mark_people(session, [person.id], changed)
    return bool(changed)


def add_member(
    session: Session, community: Community, fields: MemberFields, now: datetime
) -> tuple[Person, Membership]:
    """Add a member; the person is created or reused by normalised address."""
    email = check_email(fields.email)
    person = find_person(session, email)
    if person is None:
        person = Person(email=email, created_at=now)
        session.add(person)
    _apply_profile(session, person, fields)
    session.flush()
    if membership_of(session, community, person) is not None:
        raise Conflict(f"{email} is already a member of {community.slug}; use 'member update'")
    assert community.id is not None and person.id is not None  # both are stored by now
    membership = Membership(
        community_id=community.id, person_id=person.id, joined_at=now, updated_at=now
    )
    _apply(membership, fields, MemberFields.MEMBERSHIP_FIELDS)
    session.add(membership)
    session.flush()
    return person, membership


def resume_delivery(person: Person, membership: Membership) -> None:
    """A member who asks for mail again after bounces gets it again, with a clean score."""
    membership.delivery_disabled_reason = None
    person.bounce_score = 0.0
    person.last_bounce_at = None


def start_digests_now(membership: Membership, now: datetime) -> None:
    """A member's next digest starts from now, not from their last digest or their joining:
    what was approved before reached them one by one, or they did not want it then (no
    mail, or away), and a first digest of all of it repeats or floods."""
    membership.last_digest_at = now


def update_member(
    session: Session, community: Community, fields: MemberFields, now: datetime
) -> tuple[Person, Membership, bool]:
    """Change the given fields; report whether anything changed."""
    person, membership = get_membership(session, community, fields.email)
    changed = _apply_profile(session, person, fields)
    if fields.delivery == Delivery.DIGEST.value and membership.delivery != fields.delivery:
        start_digests_now(membership, now)
    if fields.delivery is not None and membership.delivery_disabled_reason is not None:
        # An admin setting the delivery mode re-enables a member paused by bounces.
        resume_delivery(person, membership)
        changed = True
    if _apply(membership, fields, MemberFields.MEMBERSHIP_FIELDS):
        membership.updated_at = now
        changed = True
    session.flush()
    return person, membership, changed


def remove_member(
    session: Session, community: Community, email: str, now: datetime, *, ban: bool = False
) -> Membership | None:
    """Remove a membership, or keep it as banned so the address cannot post or rejoin."""
    _person, membership = get_membership(session, community, email)
    if ban:
        membership.status = MembershipStatus.BANNED.value
        membership.updated_at = now
        session.flush()
        return membership
    session.delete(membership)
    session.flush()
    return None
