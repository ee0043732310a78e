"""The counts of the discussions, resources, news and reach reports over one community and
one period, each an SQL aggregate (people and posts are in queries.py)."""

from __future__ import annotations

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from mailhub.models import (
    Discussion,
    InboundMessage,
    NewsItem,
    OutboundMessage,
    OutboundState,
    Person,
    PostStatus,
    Resource,
)
from mailhub.reports.queries import UNKNOWN, Period, unsubscribed

REACH_KINDS = ("digest", "newsletter", "event-digest")


def contributed(
    session: Session, community_id: int, period: Period, model: type[Resource] | type[NewsItem]
) -> list[tuple[str, str, int, int]]:
    """(affiliation, country, items, people) of the resources or published news items added
    in the period, by who contributed them (an admin's additions are "not given")."""
    person = col(Resource.added_by if model is Resource else NewsItem.person_id)
    created = col(Resource.created_at if model is Resource else NewsItem.created_at)
    community = col(Resource.community_id if model is Resource else NewsItem.community_id)
    conditions = [community == community_id, created >= period.since, created < period.until]
    if model is NewsItem:
        conditions.append(col(NewsItem.status) == PostStatus.APPROVED.value)
    affiliation = func.coalesce(Person.affiliation, UNKNOWN)
    country = func.coalesce(Person.country, UNKNOWN)
    query = (
        select(affiliation, country, func.count(), func.count(func.distinct(person)))
        .select_from(model)
        .outerjoin(Person, col(Person.id) == person)
        .where(*conditions)
        .group_by(affiliation, country)
    )
    return [(a, c, n, p) for a, c, n, p in session.exec(query).all()]


def reach(session: Session, community_id: int, period: Period) -> dict[str, int]:
    """Digests, newsletters and event digests delivered; bounces received; unsubscribes."""
    sent = dict(
        session.exec(
            select(OutboundMessage.kind, func.count())
            .where(
                col(OutboundMessage.community_id) == community_id,
                col(OutboundMessage.kind).in_(REACH_KINDS),
                col(OutboundMessage.state) == OutboundState.SENT.value,
                col(OutboundMessage.sent_at) >= period.since,
                col(OutboundMessage.sent_at) < period.until,
            )
            .group_by(OutboundMessage.kind)
        ).all()
    )
    bounces = session.exec(
        select(func.count()).where(
            col(InboundMessage.community_id) == community_id,
            col(InboundMessage.msg_class) == "bounce",
            col(InboundMessage.received_at) >= period.since,
            col(InboundMessage.received_at) < period.until,
        )
    ).one()
    unsubscribes = session.exec(
        select(func.count()).where(*unsubscribed(community_id, period))
    ).one()
    found = {f"{kind}s delivered": sent.get(kind, 0) for kind in REACH_KINDS}
    return {**found, "bounces": bounces, "unsubscribes": unsubscribes}


def discussions(session: Session, community_id: int, period: Period) -> list[Discussion]:
    """The discussions open at some time in the period, by opening."""
    opened = func.coalesce(Discussion.opened_at, Discussion.opens_at)
    query = (
        select(Discussion)
        .where(
            col(Discussion.community_id) == community_id,
            col(Discussion.opened_at).is_not(None),
            opened < period.until,
            or_(col(Discussion.closed_at).is_(None), col(Discussion.closed_at) >= period.since),
        )
        .order_by(opened, col(Discussion.id))
    )
    return list(session.exec(query))
