"""Threads in the store: where a new post goes, and repairs a moderator makes by hand.

A post joins a thread by, in order: the reply-token address it was sent to (which names the
exact post it answers), In-Reply-To, References, and last its normalised subject within the
community and a time window. Every Message-ID a post names is remembered in `thread_ref`,
so a reply whose parent has not arrived (or is held) still finds the thread, and a parent
that arrives late joins its replies' thread and becomes their parent (JWZ's placeholders,
kept in the database).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from mailhub.errors import Conflict
from mailhub.models import Community, Post, Thread, ThreadRef, table_of
from mailhub.search.queue import mark, mark_threads
from mailhub.threads.subjects import is_reply_subject, normalise_subject

REFS = table_of(ThreadRef)
POSTS = table_of(Post)


@dataclass(frozen=True)
class Placement:
    thread_id: int
    parent_id: int | None
    how: str


def _named_ids(post: Post) -> list[str]:
    """The ids a post names, nearest ancestor first: In-Reply-To, then References backwards."""
    ordered = [post.in_reply_to] if post.in_reply_to else []
    ordered += list(reversed(post.references))
    seen: dict[str, None] = {}
    for message_id in ordered:
        if message_id and message_id != post.message_id:
            seen.setdefault(message_id, None)
    return list(seen)


def _parent(session: Session, community_id: int, ids: list[str]) -> Post | None:
    if not ids:
        return None
    found = {
        p.message_id: p
        for p in session.exec(
            select(Post).where(Post.community_id == community_id, col(Post.message_id).in_(ids))
        )
    }
    return next((found[i] for i in ids if i in found), None)


def _subject_thread(
    session: Session, community: Community, subject: str, since: datetime
) -> Thread | None:
    key = normalise_subject(subject, [community.tag or ""])
    if not key:
        return None
    return session.exec(
        select(Thread)
        .where(
            Thread.community_id == community.id,
            Thread.normalised_subject == key,
            Thread.last_activity_at >= since,
        )
        .order_by(col(Thread.last_activity_at).desc())
    ).first()


def merge_threads(session: Session, into: int, others: set[int]) -> None:
    """Move every post and remembered id of ``others`` into thread ``into``; drop the others."""
    others = others - {into}
    if not others:
        return
    connection = session.connection()
    connection.execute(update(POSTS).where(POSTS.c.thread_id.in_(others)).values(thread_id=into))
    connection.execute(update(REFS).where(REFS.c.thread_id.in_(others)).values(thread_id=into))
    for thread_id in others:
        thread = session.get(Thread, thread_id)
        if thread is not None:
            session.delete(thread)
    session.flush()
    refresh_thread(session, into)
    mark_threads(session, [into])


def refresh_thread(session: Session, thread_id: int) -> None:
    """Recount a thread's posts and last activity from the posts themselves."""
    thread = session.get(Thread, thread_id)
    if thread is None:
        return
    count, last = session.exec(
        select(func.count(), func.max(Post.received_at)).where(Post.thread_id == thread_id)
    ).one()
    thread.post_count = count
    if last is not None:
        thread.last_activity_at = last
    session.add(thread)


def place(
    session: Session,
    community: Community,
    post: Post,
    *,
    pinned_parent: Post | None,
    window: timedelta,
    now: datetime,
) -> Placement:
    """Put ``post`` (already flushed) in its thread; set its thread and parent."""
    assert community.id is not None and post.id is not None
    named = _named_ids(post)
    parent = pinned_parent or (_parent(session, community.id, named) if named else None)
    how = "reply address" if pinned_parent is not None else ""
    known = session.exec(
        select(ThreadRef.message_id, ThreadRef.thread_id).where(
            ThreadRef.community_id == community.id,
            col(ThreadRef.message_id).in_([post.message_id, *named]),
        )
    ).all()
    candidates = {thread_id for _, thread_id in known}
    if parent is not None and parent.thread_id is not None:
        candidates.add(parent.thread_id)
    thread: Thread | None = None
    merged = False
    if candidates:
        target = parent.thread_id if parent is not None and parent.thread_id else min(candidates)
        merged = len(candidates) > 1
        merge_threads(session, target, candidates)
        thread = session.get(Thread, target)
        how = how or (
            "in-reply-to" if parent and parent.message_id == post.in_reply_to else "references"
        )
    elif named or is_reply_subject(post.subject):
        thread = _subject_thread(session, community, post.subject, now - window)
        how = "subject" if thread else ""
    if thread is None:
        thread = Thread(
            community_id=community.id,
            subject=post.subject,
            normalised_subject=normalise_subject(post.subject, [community.tag or ""]),
            root_message_id=post.message_id,
            created_at=now,
            last_activity_at=now,
        )
        session.add(thread)
        session.flush()
        how = "new thread"
    assert thread.id is not None
    post.thread_id = thread.id
    post.parent_id = parent.id if parent is not None else None
    session.add(post)
    known_ids = {message_id for message_id, _ in known}
    _remember(session, community.id, thread.id, [post.message_id, *named], known_ids)
    if post.message_id in known_ids:
        # Someone named this post before it arrived: its replies may be waiting for it.
        _adopt_waiting_replies(session, community.id, post)
    if merged or post.message_id in known_ids:
        session.flush()
        refresh_thread(session, thread.id)
    else:
        thread.post_count += 1
        thread.last_activity_at = max(thread.last_activity_at, post.received_at)
        session.add(thread)
    return Placement(thread.id, post.parent_id, how)


def _remember(
    session: Session, community_id: int, thread_id: int, ids: list[str], present: set[str]
) -> None:
    """Note the ids not yet known (``present`` are those already in thread_ref)."""
    for message_id in dict.fromkeys(ids):
        if message_id not in present:
            session.add(
                ThreadRef(community_id=community_id, message_id=message_id, thread_id=thread_id)
            )


def _adopt_waiting_replies(session: Session, community_id: int, post: Post) -> None:
    """Replies that arrived before this post and answer it become its children."""
    waiting = session.exec(
        select(Post).where(
            Post.community_id == community_id,
            col(Post.parent_id).is_(None),
            # Placed already: a reply stored in the same batch but not yet threaded will find
            # this post as its parent when its own turn comes.
            col(Post.thread_id).is_not(None),
            Post.id != post.id,
            Post.in_reply_to == post.message_id,
        )
    ).all()
    thread = session.get(Thread, post.thread_id) if post.thread_id else None
    for reply in waiting:
        reply.parent_id = post.id
        reply.thread_id = post.thread_id
        session.add(reply)
        mark(session, "post", [reply.id])
        if thread is not None and thread.root_message_id == reply.message_id:
            thread.root_message_id = post.message_id
            thread.subject = post.subject


def descendants(session: Session, post: Post) -> list[Post]:
    """The post and every reply below it, breadth first."""
    found = [post]
    frontier = [post.id]
    while frontier:
        children = session.exec(select(Post).where(col(Post.parent_id).in_(frontier))).all()
        found.extend(children)
        frontier = [c.id for c in children]
    return found


def move(session: Session, post: Post, thread: Thread) -> int:
    """Move a post and its replies into another thread (a client split a conversation)."""
    old = post.thread_id
    moved = descendants(session, post)
    for item in moved:
        item.thread_id = thread.id
        session.add(item)
    session.connection().execute(
        update(REFS)
        .where(
            REFS.c.community_id == post.community_id,
            REFS.c.message_id.in_([item.message_id for item in moved]),
        )
        .values(thread_id=thread.id)
    )
    if post.parent_id is not None:
        parent = session.get(Post, post.parent_id)
        if parent is None or parent.thread_id != thread.id:
            post.parent_id = None
    session.flush()
    assert thread.id is not None
    refresh_thread(session, thread.id)
    mark(session, "post", [item.id for item in moved])
    if old is not None:
        refresh_thread(session, old)
    return len(moved)


def split(session: Session, post: Post, now: datetime) -> Thread:
    """Make a post and its replies a thread of their own (a client joined two topics).
    A post that with its replies is the whole of its thread has nothing to leave behind:
    refused, or the thread (its address, its themes) would be left empty for a copy."""
    community = session.get(Community, post.community_id)
    assert community is not None
    if post.thread_id is not None:
        moving = len(descendants(session, post))
        count = select(func.count()).select_from(Post).where(Post.thread_id == post.thread_id)
        if moving >= session.exec(count).one():
            raise Conflict(
                f"post {post.id} and its replies are the whole of thread {post.thread_id}:"
                " nothing to split off"
            )
    thread = Thread(
        community_id=post.community_id,
        subject=post.subject,
        normalised_subject=normalise_subject(post.subject, [community.tag or ""]),
        root_message_id=post.message_id,
        created_at=now,
        last_activity_at=now,
    )
    session.add(thread)
    session.flush()
    post.parent_id = None
    move(session, post, thread)
    return thread
