"""Reading conversations for the portal: lists of threads (newest first, by month) and one
thread's posts with their authors and attachments.

Only what was published is shown: approved posts and imported archive posts, never a held,
rejected or discarded one, and never a news or event submission (those have pages of
their own). A thread is listed only when it holds at least one published post.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, and_, exists, func
from sqlmodel import Session, col, select

from mailhub.models import (
    PUBLISHED,
    SUBMISSION_KINDS,
    Attachment,
    Community,
    Person,
    Post,
    Thread,
)


def published() -> list[ColumnElement[bool]]:
    """The conditions that make a post visible on the portal."""
    return [col(Post.status).in_(PUBLISHED), col(Post.kind).not_in(SUBMISSION_KINDS)]


@dataclass(frozen=True)
class ThreadLine:
    """One conversation in a list: its thread and how many posts it shows."""

    thread: Thread
    posts: int


@dataclass(frozen=True)
class Author:
    """How a post's author is shown: never their address."""

    name: str
    organisation: str = ""
    affiliation: str = ""
    country: str | None = None


@dataclass(frozen=True)
class ShownPost:
    post: Post
    author: Author
    attachments: list[Attachment]


def _has_published_post() -> ColumnElement[bool]:
    return exists().where(and_(col(Post.thread_id) == col(Thread.id), *published()))


def thread_lines(
    session: Session,
    community_ids: list[int],
    *,
    limit: int,
    offset: int = 0,
    since: datetime | None = None,
    until: datetime | None = None,
    thread_ids: list[int] | None = None,
) -> list[ThreadLine]:
    """Conversations of these communities, newest activity first (started in a month:
    oldest first, as a month's archive reads)."""
    query = select(Thread).where(col(Thread.community_id).in_(community_ids), _has_published_post())
    if thread_ids is not None:
        query = query.where(col(Thread.id).in_(thread_ids))
    if since is not None and until is not None:
        query = query.where(Thread.created_at >= since, Thread.created_at < until)
        query = query.order_by(col(Thread.created_at), col(Thread.id))
    else:
        query = query.order_by(col(Thread.last_activity_at).desc(), col(Thread.id).desc())
    threads = list(session.exec(query.offset(offset).limit(limit)))
    return [ThreadLine(t, n) for t, n in zip(threads, _counts(session, threads), strict=True)]


def _counts(session: Session, threads: list[Thread]) -> list[int]:
    ids = [t.id for t in threads]
    if not ids:
        return []
    rows = session.exec(
        select(Post.thread_id, func.count())
        .where(col(Post.thread_id).in_(ids), *published())
        .group_by(col(Post.thread_id))
    ).all()
    found = dict(rows)
    return [found.get(t.id, 0) for t in threads]


def get_thread(session: Session, community: Community, thread_id: int) -> Thread | None:
    """The thread, when it is this community's and shows at least one post."""
    thread = session.get(Thread, thread_id)
    if thread is None or thread.community_id != community.id:
        return None
    return thread


def shown_name(name: str | None, unnamed: str = "A member") -> str:
    """A person's name as the portal and its feeds show it: an address never (a name that
    is itself an address is replaced by its part before the @); ``unnamed`` for none."""
    if name and "@" in name:
        name = name.split("@", 1)[0]
    return name or unnamed


def author_of(post: Post, person: Person | None) -> Author:
    """The author as shown: the person's name, or the name the mail gave (shown_name)."""
    name = shown_name(person.name if person and person.name else post.author_name)
    if person is None:
        return Author(name)
    return Author(name, person.organisation, person.affiliation, person.country)


def thread_posts(session: Session, thread: Thread) -> list[ShownPost]:
    """The published posts of a thread in the order they arrived, with authors and files."""
    rows = session.exec(
        select(Post, Person)
        .outerjoin(Person, col(Person.id) == col(Post.person_id))
        .where(Post.thread_id == thread.id, *published())
        .order_by(col(Post.received_at), col(Post.id))
    ).all()
    ids = [post.id for post, _ in rows]
    files: dict[int, list[Attachment]] = {}
    if ids:
        for item in session.exec(
            select(Attachment).where(col(Attachment.post_id).in_(ids)).order_by(col(Attachment.id))
        ):
            files.setdefault(item.post_id, []).append(item)
    return [ShownPost(p, author_of(p, who), files.get(p.id or 0, [])) for p, who in rows]


def months(session: Session, community: Community) -> list[tuple[int, int, int]]:
    """(year, month, conversations started) for every month with a published conversation,
    newest first. Months are UTC months, so a month's URL lists the same threads forever."""
    starts = session.exec(
        select(Thread.created_at).where(Thread.community_id == community.id, _has_published_post())
    ).all()
    counted: dict[tuple[int, int], int] = {}
    for start in starts:
        key = (start.year, start.month)
        counted[key] = counted.get(key, 0) + 1
    return [(y, m, n) for (y, m), n in sorted(counted.items(), reverse=True)]


def month_bounds(year: int, month: int) -> tuple[datetime, datetime]:
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
    return start, end


def attachment_in(session: Session, community: Community, attachment_id: int) -> Attachment | None:
    """An attachment of a published post of this community, or None."""
    row = session.exec(
        select(Attachment)
        .join(Post, col(Post.id) == col(Attachment.post_id))
        .where(Attachment.id == attachment_id, Post.community_id == community.id, *published())
    ).first()
    return row
