"""Threading a worker's batch of new posts with a few set-wise statements.

`threads.store.place` threads one post through the ORM: right for a moderator's repairs, but
at several queries and flushes per post it would cost the intake more than parsing does. Here
the same rules run over a whole batch against lookups read once (the posts and remembered ids
the batch names, the threads they point to, the recent threads of the same subjects); new
threads, remembered ids and post counts are written once at the end. The rare post that needs
more — two threads to merge, or replies already waiting for it — is handed to `place` after
everything before it is written, and the lookups are read again.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypedDict, TypeVar

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Connection, Row

from mailhub.models import Post, Thread, ThreadRef, naive_utc, table_of
from mailhub.threads.store import Placement
from mailhub.threads.subjects import is_reply_subject, normalise_subject

POSTS = table_of(Post)
THREADS = table_of(Thread)
REFS = table_of(ThreadRef)
CHUNK = 500
T = TypeVar("T")


@dataclass
class NewPost:
    """What threading needs of a post just inserted."""

    id: int
    community_id: int
    message_id: str
    in_reply_to: str | None
    references: list[str]
    subject: str
    received_at: datetime
    tag: str
    pinned_parent_id: int | None = None

    def named_ids(self) -> list[str]:
        """The ids it names, nearest ancestor first: In-Reply-To, then References backwards."""
        ordered = [self.in_reply_to] if self.in_reply_to else []
        ordered += list(reversed(self.references))
        return [m for m in dict.fromkeys(ordered) if m and m != self.message_id]


@dataclass
class _Thread:
    id: int
    community_id: int
    discussion_id: int | None
    key: str
    last_activity_at: datetime
    added: int = 0
    new: bool = False
    subject: str = ""
    root_message_id: str | None = None


@dataclass
class _Lookups:
    """What the database knew before the batch, plus what the batch has decided since."""

    posts: dict[tuple[int, str], tuple[int, int | None]] = field(default_factory=dict)
    posts_by_id: dict[int, tuple[int, str]] = field(default_factory=dict)
    refs: dict[tuple[int, str], int] = field(default_factory=dict)
    threads: dict[int, _Thread] = field(default_factory=dict)
    by_subject: dict[tuple[int, str], int] = field(default_factory=dict)


class _NewRef(TypedDict):
    """A thread_ref row the batch writes: a Message-ID now known to be in a thread."""

    community_id: int
    message_id: str
    thread_id: int


SlowPlace = Callable[[NewPost], Placement]


class BatchThreader:
    """Places new posts in arrival order, as `place` would one by one."""

    def __init__(
        self, connection: Connection, window: timedelta, now: datetime, slow: SlowPlace
    ) -> None:
        self.connection = connection
        self.since = naive_utc(now - window)
        self.now = naive_utc(now)
        self.slow = slow
        self._temp_ids = itertools.count(-1, -1)
        self.placements: dict[int, Placement] = {}
        self._thread_of: dict[int, int] = {}  # post id -> thread id (temporary while negative)
        self._parent_of: dict[int, int | None] = {}
        self._refs_to_add: list[_NewRef] = []
        self.discussion_of_thread: dict[int, int | None] = {}

    def place_all(self, posts: list[NewPost]) -> dict[int, Placement]:
        """Thread every post; return each post's placement by post id."""
        remaining = list(posts)
        while remaining:
            self.look = self._load(remaining)
            handed_over = None
            for index, post in enumerate(remaining):
                if not self._place_simply(post):
                    handed_over = index
                    break
            if handed_over is None:
                self._write()
                return self.placements
            post = remaining[handed_over]
            self._write()
            self.placements[post.id] = self.slow(post)
            self.discussion_of_thread.setdefault(self.placements[post.id].thread_id, None)
            remaining = remaining[handed_over + 1 :]
        self._write()
        return self.placements

    # ---- reading ----

    def _load(self, posts: list[NewPost]) -> _Lookups:
        look = _Lookups()
        by_community: dict[int, set[str]] = {}
        keys: dict[int, set[str]] = {}
        pinned = {p.pinned_parent_id for p in posts if p.pinned_parent_id}
        for post in posts:
            names = by_community.setdefault(post.community_id, set())
            names.add(post.message_id)
            names.update(post.named_ids())
            key = normalise_subject(post.subject, [post.tag])
            if key:
                keys.setdefault(post.community_id, set()).add(key)
        thread_ids: set[int] = set()
        for community_id, names in by_community.items():
            for chunk in _chunks(sorted(names)):
                rows = self.connection.execute(
                    select(POSTS.c.message_id, POSTS.c.id, POSTS.c.thread_id).where(
                        POSTS.c.community_id == community_id, POSTS.c.message_id.in_(chunk)
                    )
                )
                for message_id, post_id, thread_id in rows:
                    look.posts[(community_id, message_id)] = (post_id, thread_id)
                    look.posts_by_id[post_id] = (community_id, message_id)
                    if thread_id is not None:
                        thread_ids.add(thread_id)
                refs = self.connection.execute(
                    select(REFS.c.message_id, REFS.c.thread_id).where(
                        REFS.c.community_id == community_id, REFS.c.message_id.in_(chunk)
                    )
                )
                for message_id, thread_id in refs:
                    look.refs[(community_id, message_id)] = thread_id
                    thread_ids.add(thread_id)
        if pinned:
            parents = self.connection.execute(
                select(
                    POSTS.c.id, POSTS.c.community_id, POSTS.c.message_id, POSTS.c.thread_id
                ).where(POSTS.c.id.in_(sorted(pinned)))
            )
            for post_id, community_id, message_id, thread_id in parents:
                look.posts[(community_id, message_id)] = (post_id, thread_id)
                look.posts_by_id[post_id] = (community_id, message_id)
                if thread_id is not None:
                    thread_ids.add(thread_id)
        columns = (
            THREADS.c.id,
            THREADS.c.community_id,
            THREADS.c.discussion_id,
            THREADS.c.normalised_subject,
            THREADS.c.last_activity_at,
        )
        threads: list[Row[Any, Any, Any, Any, Any]] = []
        for some_ids in _chunks(sorted(thread_ids)):
            threads += self.connection.execute(
                select(*columns).where(THREADS.c.id.in_(some_ids))
            ).all()
        for community_id, subjects in keys.items():
            for chunk in _chunks(sorted(subjects)):
                threads += self.connection.execute(
                    select(*columns).where(
                        THREADS.c.community_id == community_id,
                        THREADS.c.normalised_subject.in_(chunk),
                        THREADS.c.last_activity_at >= self.since,
                    )
                ).all()
        for thread_id, community_id, discussion_id, key, last in threads:
            thread = _Thread(thread_id, community_id, discussion_id, key, naive_utc(last))
            look.threads[thread_id] = thread
            self.discussion_of_thread[thread_id] = discussion_id
            if last is not None and naive_utc(last) >= self.since:
                _note_subject(look, community_id, thread)
        return look

    # ---- deciding ----

    def _place_simply(self, post: NewPost) -> bool:
        """Place ``post`` from the lookups; False when it needs the full `place`."""
        look = self.look
        community = post.community_id
        named = post.named_ids()
        parent = self._parent(post, named)
        known = {
            m: look.refs[(community, m)]
            for m in (post.message_id, *named)
            if (community, m) in look.refs
        }
        if post.message_id in known:
            return False  # replies are waiting for it: adoption needs the full path
        candidates = set(known.values())
        parent_thread = self._thread_id_of(parent) if parent is not None else None
        if parent_thread is not None:
            candidates.add(parent_thread)
        if len(candidates) > 1:
            return False  # two threads meet: merging needs the full path
        how = "reply address" if post.pinned_parent_id is not None and parent else ""
        thread: _Thread | None = None
        if candidates:
            thread = look.threads.get(next(iter(candidates)))
            if thread is None:
                return False
            in_reply = parent is not None and parent[1] == post.in_reply_to
            how = how or ("in-reply-to" if in_reply else "references")
        elif named or is_reply_subject(post.subject):
            key = normalise_subject(post.subject, [post.tag])
            found = look.by_subject.get((community, key)) if key else None
            thread = look.threads.get(found) if found is not None else None
            if thread is not None and thread.last_activity_at < self.since:
                thread = None
            how = "subject" if thread else ""
        if thread is None:
            thread = _Thread(
                next(self._temp_ids),
                community,
                None,
                normalise_subject(post.subject, [post.tag]),
                self.now,
                new=True,
                subject=post.subject,
                root_message_id=post.message_id,
            )
            look.threads[thread.id] = thread
            self.discussion_of_thread[thread.id] = None
            how = "new thread"
        parent_id = parent[0] if parent is not None else None
        self._thread_of[post.id] = thread.id
        self._parent_of[post.id] = parent_id
        self.placements[post.id] = Placement(thread.id, parent_id, how)
        look.posts[(community, post.message_id)] = (post.id, thread.id)
        look.posts_by_id[post.id] = (community, post.message_id)
        for message_id in (post.message_id, *named):
            if message_id not in known:
                look.refs[(community, message_id)] = thread.id
                self._refs_to_add.append(
                    {"community_id": community, "message_id": message_id, "thread_id": thread.id}
                )
        thread.added += 1
        thread.last_activity_at = max(thread.last_activity_at, naive_utc(post.received_at))
        if thread.key:
            _note_subject(look, community, thread)
        return True

    def _parent(self, post: NewPost, named: list[str]) -> tuple[int, str] | None:
        """(id, Message-ID) of the parent: the pinned one, else the nearest named post."""
        look = self.look
        if post.pinned_parent_id is not None:
            found = look.posts_by_id.get(post.pinned_parent_id)
            if found is not None and found[0] == post.community_id:
                return (post.pinned_parent_id, found[1])
        for message_id in named:
            hit = look.posts.get((post.community_id, message_id))
            if hit is not None:
                return (hit[0], message_id)
        return None

    def _thread_id_of(self, parent: tuple[int, str]) -> int | None:
        if parent[0] in self._thread_of:
            return self._thread_of[parent[0]]
        community_id, message_id = self.look.posts_by_id[parent[0]]
        return self.look.posts[(community_id, message_id)][1]

    # ---- writing ----

    def _write(self) -> None:
        """Write what was decided since the last write; temporary thread ids become real."""
        look = getattr(self, "look", None)
        if look is None:
            return
        fresh = [t for t in look.threads.values() if t.new and t.added]
        real: dict[int, int] = {}
        if fresh:
            rows = [
                {
                    "community_id": t.community_id,
                    "subject": t.subject,
                    "normalised_subject": t.key,
                    "root_message_id": t.root_message_id,
                    "discussion_id": None,
                    "post_count": t.added,
                    "created_at": self.now,
                    "last_activity_at": t.last_activity_at,
                }
                for t in fresh
            ]
            statement = insert(THREADS).returning(THREADS.c.id, sort_by_parameter_order=True)
            ids = [row[0] for row in self.connection.execute(statement, rows)]
            real = {t.id: new_id for t, new_id in zip(fresh, ids, strict=True)}
        for thread in fresh:
            thread.id = real[thread.id]
            thread.new = False
            thread.added = 0
            self.discussion_of_thread[thread.id] = None
        if real:
            self.placements = {
                post_id: Placement(real.get(p.thread_id, p.thread_id), p.parent_id, p.how)
                for post_id, p in self.placements.items()
            }
            self._thread_of = {k: real.get(v, v) for k, v in self._thread_of.items()}
            for ref in self._refs_to_add:
                ref["thread_id"] = real.get(ref["thread_id"], ref["thread_id"])
        if self._thread_of:
            self.connection.execute(
                update(POSTS)
                .where(POSTS.c.id == bindparam("post_id"))
                .values(thread_id=bindparam("new_thread"), parent_id=bindparam("new_parent")),
                [
                    {"post_id": p, "new_thread": t, "new_parent": self._parent_of[p]}
                    for p, t in self._thread_of.items()
                ],
            )
        if self._refs_to_add:
            self.connection.execute(insert(REFS), self._refs_to_add)
        grown = [t for t in look.threads.values() if t.added]
        if grown:
            self.connection.execute(
                update(THREADS)
                .where(THREADS.c.id == bindparam("thread"))
                .values(
                    post_count=THREADS.c.post_count + bindparam("added"),
                    last_activity_at=bindparam("last"),
                ),
                [{"thread": t.id, "added": t.added, "last": t.last_activity_at} for t in grown],
            )
            for thread in grown:
                thread.added = 0
        self._thread_of = {}
        self._parent_of = {}
        self._refs_to_add = []
        self.look = _Lookups()


def _note_subject(look: _Lookups, community_id: int, thread: _Thread) -> None:
    """Keep, per subject, the thread with the latest activity (as `place` would choose)."""
    if not thread.key:
        return
    current = look.by_subject.get((community_id, thread.key))
    if current is None or current == thread.id:
        look.by_subject[(community_id, thread.key)] = thread.id
        return
    other = look.threads.get(current)
    if other is None or thread.last_activity_at >= other.last_activity_at:
        look.by_subject[(community_id, thread.key)] = thread.id


def _chunks(items: list[T]) -> Iterator[list[T]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]
