"""Who moderates a community, and the address each of them answers at about one item.

Apart from the actions, so that what mails moderators (held notices, queue reminders, offers
of attachments, owner forwards) needs no import of the decisions themselves.
"""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, col, select

from mailhub import tokens
from mailhub.addresses import Kind
from mailhub.context import Context
from mailhub.models import Community, Membership, Person, Post

MODERATOR_ROLES = ("moderator", "admin")
# A decision address stays valid long enough for any holiday, not forever.
DECISION_TOKEN_LIFETIME = timedelta(days=60)


def moderators(session: Session, community: Community) -> list[Person]:
    """Active moderators and admins of a community, in a stable order (read once a session)."""
    cache = session.info.setdefault("moderators", {})
    if community.id not in cache:
        cache[community.id] = _moderators(session, community)
    return cache[community.id]


def _moderators(session: Session, community: Community) -> list[Person]:
    query = (
        select(Person)
        .join(Membership, col(Membership.person_id) == Person.id)
        .where(
            Membership.community_id == community.id,
            col(Membership.role).in_(MODERATOR_ROLES),
            Membership.status == "active",
        )
        .order_by(col(Person.id))
    )
    return list(session.exec(query))


def is_moderator(session: Session, community: Community, person: Person | None) -> bool:
    return person is not None and any(m.id == person.id for m in moderators(session, community))


def moderation_address(
    ctx: Context,
    session: Session,
    community: Community,
    post: Post,
    moderator: Person,
    purpose: str = tokens.MODERATION,
) -> str:
    """The address one moderator answers about one post at (a decision, or which of its
    attachments to keep as resources: ``purpose``)."""
    expires = ctx.now() + DECISION_TOKEN_LIFETIME
    token = tokens.sign(ctx.secret, purpose, post.id or 0, moderator.id or 0, expires_at=expires)
    return ctx.address_book(session).address(community.slug, Kind.MODERATION, token)


def queue_address(ctx: Context, session: Session, community: Community, moderator: Person) -> str:
    """The address one moderator answers the queue reminder at: lines of decisions on
    several items (`approve 3 4`)."""
    expires = ctx.now() + DECISION_TOKEN_LIFETIME
    token = tokens.sign(
        ctx.secret, tokens.QUEUE, community.id or 0, moderator.id or 0, expires_at=expires
    )
    return ctx.address_book(session).address(community.slug, Kind.MODERATION, token)
