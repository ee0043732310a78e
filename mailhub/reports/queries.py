"""The counts behind participation reports, each one SQL aggregate over one community and
one period, so a report over 200,000 posts reads a few hundred rows, never the posts.

What counts: a member is an active membership that had joined before the period ended; a
post is a published one (approved or imported, not a news or event submission, not a
discussion's announcement); a conversation starts with its thread's first such post (by
time), and its first reply is the second. Affiliation and country are the author's as the
store has them now. Nothing here reads who read what: only who wrote, joined or left.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Subquery, and_, case, func, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from mailhub.discussions.figures import ROOT_KIND
from mailhub.models import (
    Discussion,
    InboundMessage,
    Membership,
    MembershipStatus,
    NewsItem,
    OutboundMessage,
    OutboundState,
    Person,
    Post,
    PostStatus,
    Resource,
    Thread,
)
from mailhub.portal.queries import published

UNKNOWN = "not given"
NOT_A_MEMBER = "not a member"
REACH_KINDS = ("digest", "newsletter", "event-digest")


@dataclass(frozen=True)
class Period:
    """From ``since`` up to, not including, ``until`` (UTC)."""

    since: datetime
    until: datetime


def month_of(session: Session, column: Any) -> Any:
    """``YYYY-MM`` of a timestamp column, in SQL, on either database."""
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(column, "YYYY-MM")
    return func.strftime("%Y-%m", column)


def _members(community_id: int, until: datetime) -> list[ColumnElement[bool]]:
    return [
        col(Membership.community_id) == community_id,
        col(Membership.status) == MembershipStatus.ACTIVE.value,
        col(Membership.joined_at) < until,
    ]


def _counted(community_id: int) -> list[ColumnElement[bool]]:
    return [col(Post.community_id) == community_id, col(Post.kind) != ROOT_KIND, *published()]


def ranked_posts(community_id: int, until: datetime) -> Subquery:
    """Every published post before ``until`` with its rank in its thread (1: it started the
    conversation, 2: the first reply). A discussion's announcement is ranked, so the first
    contribution is its first reply, and marked by its kind, so it is not counted."""
    rank = func.row_number().over(
        partition_by=col(Post.thread_id), order_by=(col(Post.received_at), col(Post.id))
    )
    return (
        sa_select(
            col(Post.thread_id).label("thread_id"),
            col(Post.person_id).label("person_id"),
            col(Post.author_email).label("author"),
            col(Post.received_at).label("received_at"),
            (col(Post.kind) == ROOT_KIND).label("announcement"),
            rank.label("rank"),
        )
        .where(
            col(Post.community_id) == community_id,
            *published(),
            col(Post.received_at) < until,
        )
        .subquery("ranked")
    )


def member_levels(
    session: Session, community_id: int, period: Period, core_posts: int
) -> list[tuple[str, str, str, int]]:
    """(affiliation, country, level, members): level core, active or peripheral by the
    member's posts in the period."""
    per_person = (
        select(col(Post.person_id).label("person_id"), func.count().label("posts"))
        .where(
            *_counted(community_id),
            col(Post.received_at) >= period.since,
            col(Post.received_at) < period.until,
        )
        .group_by(col(Post.person_id))
        .subquery("per_person")
    )
    posts = func.coalesce(per_person.c.posts, 0)
    level = case((posts >= core_posts, "core"), (posts >= 1, "active"), else_="peripheral")
    country = func.coalesce(Person.country, UNKNOWN)
    query = (
        select(Person.affiliation, country, level, func.count())
        .select_from(Membership)
        .join(Person, col(Person.id) == Membership.person_id)
        .outerjoin(per_person, per_person.c.person_id == Membership.person_id)
        .where(*_members(community_id, period.until))
        .group_by(Person.affiliation, country, level)
    )
    return [(a, c, lv, n) for a, c, lv, n in session.exec(query).all()]


def posts_by_affiliation(
    session: Session, community_id: int, period: Period
) -> list[tuple[str, int, int, int]]:
    """(affiliation, posts, new conversations, authors) of the period's posts."""
    ranked = ranked_posts(community_id, period.until)
    counted = [ranked.c.received_at >= period.since, ranked.c.announcement.is_(False)]
    affiliation = func.coalesce(Person.affiliation, NOT_A_MEMBER)
    query = (
        select(
            affiliation,
            func.count(),
            func.sum(case((ranked.c.rank == 1, 1), else_=0)),
            func.count(func.distinct(ranked.c.author)),
        )
        .select_from(ranked)
        .outerjoin(Person, col(Person.id) == ranked.c.person_id)
        .where(*counted)
        .group_by(affiliation)
    )
    return [(a, n, int(new or 0), people) for a, n, new, people in session.exec(query).all()]


def conversations(
    session: Session, community_id: int, period: Period
) -> list[tuple[int, datetime, datetime | None, list[str]]]:
    """(thread id, started, first reply or None, themes) of the conversations started in
    the period; one row per conversation."""
    ranked = ranked_posts(community_id, period.until)
    first = ranked.alias("first")
    reply = ranked.alias("reply")
    query = (
        select(first.c.thread_id, first.c.received_at, reply.c.received_at, Thread.themes)
        .select_from(first)
        .join(Thread, col(Thread.id) == first.c.thread_id)
        .outerjoin(reply, and_(reply.c.thread_id == first.c.thread_id, reply.c.rank == 2))
        .where(first.c.rank == 1, first.c.received_at >= period.since)
    )
    return [(t, s, r, list(themes or [])) for t, s, r, themes in session.exec(query).all()]


def joined_and_left(
    session: Session, community_id: int, period: Period
) -> dict[str, tuple[int, int]]:
    """Month -> (memberships that began, memberships that ended by unsubscribing)."""
    joined_month = month_of(session, Membership.joined_at)
    joined = session.exec(
        select(joined_month, func.count())
        .where(
            col(Membership.community_id) == community_id,
            col(Membership.joined_at) >= period.since,
            col(Membership.joined_at) < period.until,
            col(Membership.status).in_(
                (MembershipStatus.ACTIVE.value, MembershipStatus.UNSUBSCRIBED.value)
            ),
        )
        .group_by(joined_month)
    ).all()
    left_month = month_of(session, Membership.updated_at)
    left = session.exec(
        select(left_month, func.count())
        .where(*_unsubscribed(community_id, period))
        .group_by(left_month)
    ).all()
    months = sorted({m for m, _ in joined} | {m for m, _ in left})
    joined_by, left_by = dict(joined), dict(left)
    return {m: (joined_by.get(m, 0), left_by.get(m, 0)) for m in months}


def _unsubscribed(community_id: int, period: Period) -> list[ColumnElement[bool]]:
    return [
        col(Membership.community_id) == community_id,
        col(Membership.status) == MembershipStatus.UNSUBSCRIBED.value,
        col(Membership.updated_at) >= period.since,
        col(Membership.updated_at) < period.until,
    ]


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
        select(func.count()).where(*_unsubscribed(community_id, period))
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
