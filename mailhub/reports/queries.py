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

from sqlalchemy import ColumnElement, Select, case, func, literal, type_coerce, union_all
from sqlalchemy import select as sa_select
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from mailhub.discussions.figures import ROOT_KIND
from mailhub.models import (
    SUBMISSION_KINDS,
    Membership,
    MembershipStatus,
    Person,
    Post,
    Thread,
    UTCDateTime,
)
from mailhub.portal.queries import PUBLISHED, published

UNKNOWN = "not given"
NOT_A_MEMBER = "not a member"


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


def _in(period: Period) -> list[ColumnElement[bool]]:
    return [col(Post.received_at) >= period.since, col(Post.received_at) < period.until]


@dataclass(frozen=True)
class Group:
    """People of one affiliation, country and level (core, active, peripheral; "none" for
    authors who are not members now), how many are members and authors, and their posts."""

    affiliation: str
    country: str
    level: str
    members: int
    authors: int
    posts: int


def groups(session: Session, community_id: int, period: Period, core_posts: int) -> list[Group]:
    """Members and the period's authors by affiliation, country and level: the memberships
    and the period's posts read once each, as one list grouped by person, with no join that
    would need the planner's statistics to stay fast."""
    member_rows: Select[Any, int, int] = sa_select(
        col(Membership.person_id).label("person_id"),
        literal(1).label("member"),
        literal(0).label("posts"),
    ).where(*_members(community_id, period.until))
    # Posts by no person in the store come from _outsiders.
    post_rows = sa_select(col(Post.person_id), literal(0), literal(1)).where(
        *_counted(community_id), *_in(period), col(Post.person_id).is_not(None)
    )
    rows = union_all(member_rows, post_rows).subquery("rows")
    people = (
        sa_select(
            rows.c.person_id,
            func.max(rows.c.member).label("member"),
            func.sum(rows.c.posts).label("posts"),
        )
        .group_by(rows.c.person_id)
        .subquery("people")
    )
    level = case(
        (people.c.member == 0, "none"),
        (people.c.posts >= core_posts, "core"),
        (people.c.posts >= 1, "active"),
        else_="peripheral",
    )
    affiliation = func.coalesce(Person.affiliation, NOT_A_MEMBER)
    country = func.coalesce(Person.country, UNKNOWN)
    query = (
        sa_select(
            affiliation,
            country,
            level,
            func.sum(people.c.member),
            func.sum(case((people.c.posts > 0, 1), else_=0)),
            func.sum(people.c.posts),
        )
        .select_from(people)
        .outerjoin(Person, col(Person.id) == people.c.person_id)
        .group_by(affiliation, country, level)
    )
    found = [Group(*row[:3], *(int(n or 0) for n in row[3:])) for row in session.execute(query)]
    return [*found, *_outsiders(session, community_id, period)]


def _outsiders(session: Session, community_id: int, period: Period) -> list[Group]:
    """Authors who are no person in the store, told apart by their addresses."""
    authors, posts = session.execute(
        sa_select(func.count(func.distinct(Post.author_email)), func.count()).where(
            *_counted(community_id), *_in(period), col(Post.person_id).is_(None)
        )
    ).one()
    return [Group(NOT_A_MEMBER, UNKNOWN, "none", 0, authors, posts)] if posts else []


@dataclass(frozen=True)
class Conversation:
    """A conversation started in the period: when, by which constituency (None when a
    discussion's announcement started it), its first reply, and its themes."""

    thread_id: int
    started: datetime
    replied: datetime | None
    affiliation: str | None
    themes: list[str]


def conversations(session: Session, community_id: int, period: Period) -> list[Conversation]:
    """The conversations started in the period: each thread's first published post by time
    (a discussion's announcement too, so the first contribution is its first reply) and its
    second, found by two index seeks per conversation."""
    shown = [col(Post.community_id) == community_id, *published()]
    started = func.min(Post.received_at)
    firsts = (
        sa_select(col(Post.thread_id).label("thread_id"), started.label("started"))
        .where(*shown, col(Post.received_at) < period.until)
        .group_by(col(Post.thread_id))
        .having(started >= period.since)
        .subquery("firsts")
    )
    later = aliased(Post)

    def nth(column: Any, offset: int) -> Any:
        return (
            sa_select(column)
            .where(
                col(later.community_id) == community_id,
                col(later.thread_id) == firsts.c.thread_id,
                col(later.status).in_(PUBLISHED),
                col(later.kind).not_in(SUBMISSION_KINDS),
            )
            .order_by(col(later.received_at), col(later.id))
            .limit(1)
            .offset(offset)
            .scalar_subquery()
        )

    ends = sa_select(
        firsts.c.thread_id,
        type_coerce(firsts.c.started, UTCDateTime).label("started"),
        nth(later.id, 0).label("starter"),
        type_coerce(nth(later.received_at, 1), UTCDateTime).label("replied"),
    ).subquery("ends")
    affiliation = case(
        (col(Post.kind) == ROOT_KIND, None), else_=func.coalesce(Person.affiliation, NOT_A_MEMBER)
    )
    query = (
        sa_select(ends.c.thread_id, ends.c.started, ends.c.replied, affiliation, col(Thread.themes))
        .join(Thread, col(Thread.id) == ends.c.thread_id)
        .join(Post, col(Post.id) == ends.c.starter)
        .outerjoin(Person, col(Person.id) == Post.person_id)
    )
    return [
        Conversation(t, start, replied, a, list(themes or []))
        for t, start, replied, a, themes in session.execute(query).all()
    ]


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
        .where(*unsubscribed(community_id, period))
        .group_by(left_month)
    ).all()
    months = sorted({m for m, _ in joined} | {m for m, _ in left})
    joined_by, left_by = dict(joined), dict(left)
    return {m: (joined_by.get(m, 0), left_by.get(m, 0)) for m in months}


def unsubscribed(community_id: int, period: Period) -> list[ColumnElement[bool]]:
    return [
        col(Membership.community_id) == community_id,
        col(Membership.status) == MembershipStatus.UNSUBSCRIBED.value,
        col(Membership.updated_at) >= period.since,
        col(Membership.updated_at) < period.until,
    ]
