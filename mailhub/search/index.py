"""Keeping the index true: changes are queued where items are approved, edited or removed,
and indexed in batches off the ingest path; the whole index can be rebuilt.

`queue.mark` is the one insert the approving transaction pays (a row in search_pending), so
ingest keeps its pace (bench/search.py measures it); `catch_up` (run by serve's indexer
process, search/indexer.py, or as a due job of the scheduler, and by `mailhub search
reindex`) reads each queued item as it is now and
writes or removes its document, so an item approved and then rejected, or edited twice,
ends up right whatever the order. Only one process catches up at a time (an advisory lock
on PostgreSQL; SQLite has one writer).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select, text
from sqlalchemy.engine import Connection
from sqlmodel import Session

from mailhub.context import Context
from mailhub.models import SearchDoc, SearchPending, table_of
from mailhub.search import documents
from mailhub.search.backends import backend_for
from mailhub.search.documents import KINDS, Doc

DOCS = table_of(SearchDoc)
PENDING = table_of(SearchPending)
_LOCK_KEY = 0x5EA2C4  # the advisory lock of the indexer on PostgreSQL


def write(
    connection: Connection,
    kind: str,
    ids: Sequence[int],
    docs: list[Doc],
    prepared: list[Any] | None = None,
) -> None:
    """Replace the documents of these items by ``docs`` (those missing leave the index);
    ``prepared``: their tokens, made beforehand by the backend (otherwise made here)."""
    backend = backend_for(connection)
    old = [
        row[0]
        for row in connection.execute(
            select(DOCS.c.id).where(DOCS.c.kind == kind, DOCS.c.item_id.in_(ids))
        )
    ]
    if old:
        backend.drop(connection, old)
        connection.execute(delete(DOCS).where(DOCS.c.id.in_(old)))
    if not docs:
        return
    values = [
        {
            "kind": d.kind,
            "item_id": d.item_id,
            "community_id": d.community_id,
            "thread_id": d.thread_id,
            "title": d.title,
            "author": d.author,
            "occurred_at": d.occurred_at,
            "body": d.body,
        }
        for d in docs
    ]
    backend.insert(connection, values, backend.prepare(docs) if prepared is None else prepared)


def _index(session: Session, root: Path, kind: str, ids: Sequence[int]) -> int:
    docs = documents.load(session, kind, list(ids), root)
    write(session.connection(), kind, ids, docs)
    return len(docs)


@dataclass
class Batch:
    """Queued items read, their documents loaded and tokenized: all but the writing."""

    queue_ids: list[int]
    work: list[tuple[str, list[int], list[Doc], list[Any]]]


def _read(ctx: Context, size: int) -> Batch | None:
    """The next batch of the queue, made ready without holding any write lock (SQLite has
    one writer: the intake's commits must not wait while text is tokenized)."""
    root = ctx.settings.data_dir / "attachments"
    with ctx.session() as session:
        connection = session.connection()
        rows = connection.execute(
            text("SELECT id, kind, item_id FROM search_pending ORDER BY id LIMIT :n"), {"n": size}
        ).all()
        if not rows:
            return None
        by_kind: dict[str, set[int]] = defaultdict(set)
        for _, kind, item_id in rows:
            by_kind[kind].add(item_id)
        backend = backend_for(connection)
        work = []
        for kind, wanted in by_kind.items():
            ids = sorted(wanted)
            docs = documents.load(session, kind, ids, root)
            work.append((kind, ids, docs, backend.prepare(docs)))
    return Batch([row[0] for row in rows], work)


def _write(ctx: Context, batch: Batch) -> bool:
    """Take the batch off the queue and write it, in one short transaction; False when
    another process took it (or is indexing) meanwhile."""
    with ctx.session() as session:
        connection = session.connection()
        if connection.dialect.name == "postgresql":
            lock = text("SELECT pg_try_advisory_xact_lock(:k)")
            if not connection.execute(lock, {"k": _LOCK_KEY}).scalar():
                return False
        taken = connection.execute(
            delete(PENDING).where(PENDING.c.id.in_(batch.queue_ids)).returning(PENDING.c.id)
        ).all()
        if len(taken) != len(batch.queue_ids):
            session.rollback()
            return False
        for kind, ids, docs, prepared in batch.work:
            write(connection, kind, ids, docs, prepared)
    return True


def catch_up(
    ctx: Context, *, rounds: int | None = None, stopped: Callable[[], bool] | None = None
) -> int:
    """Index what was queued, a batch per transaction, until the queue is empty, ``rounds``
    batches are written or ``stopped()``; the number of queue rows read."""
    done = 0
    while (rounds is None or rounds > 0) and not (stopped is not None and stopped()):
        rounds = None if rounds is None else rounds - 1
        batch = _read(ctx, ctx.settings.search.batch_size)
        if batch is None or not _write(ctx, batch):
            return done
        done += len(batch.queue_ids)
    return done


Progress = Callable[[int], None]


def reindex(ctx: Context, community_id: int | None = None, progress: Progress | None = None) -> int:
    """Rebuild the index (of one community, or all) from the store; documents written."""
    root = ctx.settings.data_dir / "attachments"
    batch = ctx.settings.search.batch_size
    with ctx.session() as session:
        todo = [(kind, documents.item_ids(session, kind, community_id)) for kind in KINDS]
        _clear(session.connection(), community_id)
        session.commit()
    written = 0
    for kind, ids in todo:
        for start in range(0, len(ids), batch):
            chunk = ids[start : start + batch]
            with ctx.session() as session:
                written += _index(session, root, kind, chunk)
                session.commit()
            if progress is not None:
                progress(len(chunk))
    with ctx.session() as session:
        backend_for(session.connection()).tidy(session.connection())
    return written


def _clear(connection: Connection, community_id: int | None) -> None:
    if community_id is None:
        connection.execute(delete(PENDING))
        if connection.dialect.name == "sqlite":
            connection.execute(text("DELETE FROM search_fts"))
        connection.execute(delete(DOCS))
        return
    ids = [
        row[0]
        for row in connection.execute(select(DOCS.c.id).where(DOCS.c.community_id == community_id))
    ]
    backend_for(connection).drop(connection, ids)
    connection.execute(delete(DOCS).where(DOCS.c.community_id == community_id))


def total(ctx: Context, community_id: int | None = None) -> int:
    """How many items a rebuild reads (for its progress bar)."""
    with ctx.session() as session:
        return sum(documents.item_count(session, k, community_id) for k in KINDS)
