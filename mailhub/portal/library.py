"""Reading discussions, synopses, news, events and resources for the portal, and the
cross-community views by theme and by country.

Themes are JSON lists of slugs, read as a whole; a filter on one theme matches its quoted
slug in the list's text (as `communities._retag` does), the same on SQLite and PostgreSQL.
A conversation's countries are its published authors' countries.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, cast
from sqlmodel import Session, col, select

from mailhub.models import (
    Discussion,
    DiscussionState,
    Event,
    Membership,
    MembershipStatus,
    NewsItem,
    Person,
    Post,
    PostStatus,
    Resource,
    SynopsisVersion,
    Theme,
    Thread,
)
from mailhub.portal.queries import published

SHOWN_EVENTS = (PostStatus.APPROVED.value, "cancelled")
SHOWN_DISCUSSIONS = (
    DiscussionState.SCHEDULED.value,
    DiscussionState.OPEN.value,
    DiscussionState.CLOSED.value,
    DiscussionState.SUMMARISED.value,
)


def tagged(column: Any, slug: str) -> Any:
    """Rows whose JSON list of theme slugs holds ``slug``."""
    return cast(column, String).like(f'%"{slug}"%')


def themes(session: Session) -> dict[str, str]:
    """Theme slug -> name, by name."""
    rows = session.exec(select(Theme.slug, Theme.name).order_by(col(Theme.name))).all()
    return dict(rows)


def discussions(
    session: Session,
    ids: list[int],
    *,
    states: tuple[str, ...] = SHOWN_DISCUSSIONS,
    theme: str | None = None,
    limit: int | None = None,
) -> list[Discussion]:
    query = select(Discussion).where(
        col(Discussion.community_id).in_(ids), col(Discussion.state).in_(states)
    )
    if theme:
        query = query.where(tagged(Discussion.themes, theme))
    query = query.order_by(col(Discussion.opens_at).desc(), col(Discussion.id))
    return list(session.exec(query.limit(limit) if limit else query))


def open_and_upcoming(session: Session, ids: list[int]) -> list[Discussion]:
    found = discussions(
        session, ids, states=(DiscussionState.OPEN.value, DiscussionState.SCHEDULED.value)
    )
    return sorted(found, key=lambda d: (d.state != "open", d.closes_at or d.created_at))


def synopses(session: Session, ids: list[int], limit: int = 5) -> list[Discussion]:
    query = (
        select(Discussion)
        .where(col(Discussion.community_id).in_(ids), col(Discussion.synopsis).is_not(None))
        .where(Discussion.state == DiscussionState.SUMMARISED.value)
        .order_by(col(Discussion.synopsis_at).desc())
    )
    return list(session.exec(query.limit(limit)))


def synopsis_versions(session: Session, discussion: Discussion) -> list[SynopsisVersion]:
    """Every version of a discussion's synopsis, the newest first."""
    query = select(SynopsisVersion).where(SynopsisVersion.discussion_id == discussion.id)
    return list(session.exec(query.order_by(col(SynopsisVersion.version).desc())))


def discussion_thread(session: Session, discussion: Discussion) -> Thread | None:
    return session.exec(select(Thread).where(Thread.discussion_id == discussion.id)).first()


def news(
    session: Session, ids: list[int], limit: int | None = None, theme: str | None = None
) -> list[NewsItem]:
    query = (
        select(NewsItem)
        .where(col(NewsItem.community_id).in_(ids), NewsItem.status == PostStatus.APPROVED.value)
        .order_by(col(NewsItem.published_at).desc(), col(NewsItem.id).desc())
    )
    if theme:
        query = query.where(tagged(NewsItem.themes, theme))
    return list(session.exec(query.limit(limit) if limit else query))


def events(
    session: Session,
    ids: list[int],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
    theme: str | None = None,
) -> list[Event]:
    query = select(Event).where(
        col(Event.community_id).in_(ids), col(Event.status).in_(SHOWN_EVENTS)
    )
    if theme:
        query = query.where(tagged(Event.themes, theme))
    if since is not None:
        query = query.where(Event.starts_at >= since)
    if until is not None:
        query = query.where(Event.starts_at < until)
    query = query.order_by(col(Event.starts_at), col(Event.id))
    return list(session.exec(query.limit(limit) if limit else query))


def resources(
    session: Session,
    ids: list[int],
    *,
    theme: str | None = None,
    country: str | None = None,
    kind: str | None = None,
    limit: int | None = None,
) -> list[Resource]:
    query = select(Resource).where(col(Resource.community_id).in_(ids))
    if theme:
        query = query.where(tagged(Resource.themes, theme))
    if country:
        query = query.where(Resource.country == country)
    if kind:
        query = query.where(Resource.kind == kind)
    query = query.order_by(col(Resource.created_at).desc(), col(Resource.id).desc())
    return list(session.exec(query.limit(limit) if limit else query))


def one(session: Session, model: Any, item_id: int, ids: list[int]) -> Any:
    """A news item, event, resource or discussion of a readable community, or None."""
    item = session.get(model, item_id)
    if item is None or item.community_id not in ids:
        return None
    if model is NewsItem and item.status != PostStatus.APPROVED.value:
        return None
    if model is Event and item.status not in SHOWN_EVENTS:
        return None
    if model is Discussion and item.state not in SHOWN_DISCUSSIONS:
        return None
    return item


def threads_from(session: Session, country: str) -> Any:
    """The ids of threads with a published post by someone from ``country`` (a subquery)."""
    return (
        select(Post.thread_id)
        .join(Person, col(Person.id) == col(Post.person_id))
        .where(Person.country == country, *published())
    )


def thread_ids(
    session: Session, ids: list[int], *, theme: str | None, country: str | None, limit: int
) -> list[int]:
    """Conversations of these communities with a theme and/or an author from a country."""
    query = select(Thread.id).where(col(Thread.community_id).in_(ids))
    if theme:
        query = query.where(tagged(Thread.themes, theme))
    if country:
        query = query.where(col(Thread.id).in_(threads_from(session, country)))
    query = query.order_by(col(Thread.last_activity_at).desc()).limit(limit)
    return [i for i in session.exec(query) if i is not None]


def matrix(session: Session, ids: list[int]) -> dict[tuple[str, str], int]:
    """(theme, country) -> conversations and resources tagged with the theme from there."""
    counts: dict[tuple[str, str], int] = {}
    for tags, country in session.exec(
        select(Resource.themes, Resource.country).where(
            col(Resource.community_id).in_(ids), col(Resource.country).is_not(None)
        )
    ):
        for tag in tags:
            counts[(tag, country or "")] = counts.get((tag, country or ""), 0) + 1
    has_themes = [col(Thread.community_id).in_(ids), cast(Thread.themes, String) != "[]"]
    tags_of = dict(session.exec(select(Thread.id, Thread.themes).where(*has_themes)).all())
    pairs = session.exec(
        select(Post.thread_id, Person.country)
        .distinct()
        .join(Thread, col(Thread.id) == col(Post.thread_id))
        .join(Person, col(Person.id) == col(Post.person_id))
        .where(*has_themes, col(Person.country).is_not(None), *published())
    ).all()
    for thread_id, country in pairs:
        for tag in tags_of.get(thread_id, []):
            counts[(tag, country or "")] = counts.get((tag, country or ""), 0) + 1
    return counts


def resource_countries(session: Session, ids: list[int]) -> list[str]:
    query = select(Resource.country).distinct().where(col(Resource.community_id).in_(ids))
    return sorted(c for c in session.exec(query.where(col(Resource.country).is_not(None))) if c)


def countries(session: Session, ids: list[int]) -> list[str]:
    """Every country a resource or an active member of these communities is from (members
    rather than authors: reading every post's author on each home page costs too much)."""
    found = set(
        session.exec(
            select(Resource.country)
            .distinct()
            .where(col(Resource.community_id).in_(ids), col(Resource.country).is_not(None))
        )
    )
    found |= set(
        session.exec(
            select(Person.country)
            .distinct()
            .join(Membership, col(Membership.person_id) == col(Person.id))
            .where(col(Membership.community_id).in_(ids), col(Person.country).is_not(None))
            .where(Membership.status == MembershipStatus.ACTIVE.value)
        )
    )
    return sorted(c for c in found if c)
