"""The worker threads a batch of posts set-wise; the result must be what one-by-one gives.

The notmuch corpora (a month of a real list, an LKML patch series, threading traps) go into
one community as a single batch and into another one message per batch through the one-post
ORM path (`threads.store.place`, the reference), both in an order
where parents come first: both communities must end with the same threads, parents and post
counts. Shuffled, so that replies come before their parents within the batch and across its
write chunks (the full one-post path then merges and adopts), the threads are still the same.
"""

from __future__ import annotations

import random
from collections import defaultdict
from email import policy
from email.parser import BytesHeaderParser
from pathlib import Path

import pytest
from conftest import corpus
from sqlmodel import select

from mailhub.communities import create_community
from mailhub.context import Context
from mailhub.inbound import pipeline, spool
from mailhub.models import Community, Post, Thread
from mailhub.threads.batch import BatchThreader

FOLDERS = (("notmuch", "default"), ("notmuch", "lkml"), ("notmuch", "threading"))


def _messages() -> list[bytes]:
    found: list[bytes] = []
    for parts in FOLDERS:
        folder: Path = corpus(*parts)
        found += [p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()]
    return [m for m in found if b"Message-ID" in m or b"Message-Id" in m]


def _shape(ctx: Context, slug: str) -> tuple[set[frozenset[str]], dict[str, str | None], int]:
    """Threads as sets of Message-IDs, each post's parent, and whether counts add up."""
    with ctx.session() as session:
        community = session.exec(select(Community).where(Community.slug == slug)).one()
        posts = session.exec(select(Post).where(Post.community_id == community.id)).all()
        threads = session.exec(select(Thread).where(Thread.community_id == community.id)).all()
    by_id = {p.id: p.message_id for p in posts}
    members: dict[int | None, set[str]] = defaultdict(set)
    for post in posts:
        members[post.thread_id].add(post.message_id)
    parents = {p.message_id: by_id.get(p.parent_id) if p.parent_id else None for p in posts}
    counts = {t.id: t.post_count for t in threads}
    for thread_id, ids in members.items():
        assert thread_id is not None, "a post without a thread"
        assert counts[thread_id] == len(ids), f"thread {thread_id} counts {counts[thread_id]}"
    return {frozenset(ids) for ids in members.values()}, parents, len(posts)


def _spool(ctx: Context, raw: bytes, address: str) -> None:
    spool.store(ctx.engine, spool.Arrival("test", raw, "a@example.org", [address]), ctx.now())


def _parents_first(messages: list[bytes]) -> list[bytes]:
    """An arrival order in which every message comes after the messages it names."""
    parser = BytesHeaderParser(policy=policy.compat32)
    ids, names = [], []
    for raw in messages:
        head = parser.parsebytes(raw)
        ids.append((head["Message-ID"] or head["Message-Id"] or "").strip())
        named = f"{head['In-Reply-To'] or ''} {head['References'] or ''}"
        names.append({word for word in named.split() if word.startswith("<")})
    position = {message_id: index for index, message_id in enumerate(ids)}
    placed: list[int] = []
    seen: set[int] = set()

    def visit(index: int, trail: set[int]) -> None:
        if index in seen or index in trail:
            return
        for name in names[index]:
            if name in position:
                visit(position[name], trail | {index})
        seen.add(index)
        placed.append(index)

    for index in range(len(messages)):
        visit(index, set())
    return [messages[i] for i in placed]


def _load(ctx: Context, slug: str, messages: list[bytes], batched: bool) -> None:
    """``batched``: all in one batch, set-wise; else one message at a time, every post
    through the one-post ORM path (`threads.store.place`), the reference."""
    if batched:
        for raw in messages:
            _spool(ctx, raw, f"{slug}@lists.example.org")
        outcomes = pipeline.process_batch(ctx, limit=len(messages)).outcomes
        assert len(outcomes) == len(messages)
        return
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(BatchThreader, "_place_simply", lambda self, post: False)
        for raw in messages:
            _spool(ctx, raw, f"{slug}@lists.example.org")
            pipeline.drain(ctx)


@pytest.fixture
def two_communities(ctx: Context) -> Context:
    with ctx.session() as session:
        create_community(session, slug="skills", name="Skills", now=ctx.now())
        session.commit()
    return ctx


def test_one_batch_threads_exactly_like_one_at_a_time(two_communities: Context) -> None:
    ctx = two_communities
    messages = _parents_first(_messages())
    assert len(messages) > 200
    _load(ctx, "skills", messages, batched=True)
    _load(ctx, "irnet", messages, batched=False)
    batch_threads, batch_parents, batch_count = _shape(ctx, "skills")
    single_threads, single_parents, single_count = _shape(ctx, "irnet")
    assert batch_count == single_count > 200
    assert batch_parents == single_parents
    assert batch_threads == single_threads
    # The corpus really threads: many posts have parents and many threads hold several posts.
    assert sum(1 for p in batch_parents.values() if p) > 100
    assert sum(1 for t in batch_threads if len(t) > 1) > 20


def test_a_shuffled_batch_ends_in_the_same_threads(two_communities: Context) -> None:
    """Replies before their parents within a batch (and across its write chunks) still end
    in the same threads; parents may then be a nearer known ancestor."""
    ctx = two_communities
    messages = _parents_first(_messages())
    shuffled = list(messages)
    random.Random(7).shuffle(shuffled)
    _load(ctx, "skills", shuffled, batched=True)
    _load(ctx, "irnet", messages, batched=False)
    batch_threads, _, batch_count = _shape(ctx, "skills")
    single_threads, _, single_count = _shape(ctx, "irnet")
    assert batch_count == single_count
    assert batch_threads == single_threads
