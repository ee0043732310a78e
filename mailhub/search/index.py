"""Keeping the index true: changes are queued where items are approved, edited or removed,
and indexed in batches off the ingest path; the whole index can be rebuilt.

`queue.mark` is the one insert the approving transaction pays (a row in search_pending), so
ingest keeps its pace (bench/search.py measures it); `catch_up` (a due job of the
scheduler, also run by `mailhub search reindex`) reads each queued item as it is now and
writes or removes its document, so an item approved and then rejected, or edited twice,
ends up right whatever the order. Only one process catches up at a time (an advisory lock
on PostgreSQL; SQLite has one writer).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

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


def write(connection: Connection, kind: str, ids: Sequence[int], docs: list[Doc]) -> None:
    """Replace the documents of these items by ``docs`` (those missing leave the index)."""
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
    backend.insert(connection, values, docs)


def _index(session: Session, root: Path, kind: str, ids: Sequence[int]) -> int:
    docs = documents.load(session, kind, list(ids), root)
    write(session.connection(), kind, ids, docs)
    return len(docs)


def _claim(connection: Connection, batch: int) -> list[tuple[str, int]] | None:
    """Take queued rows off the queue; None when another process is indexing."""
    if connection.dialect.name == "postgresql":
        locked = connection.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        if not locked.scalar():
            return None
    rows = connection.execute(
        text(
            "DELETE FROM search_pending WHERE id IN"
            " (SELECT id FROM search_pending ORDER BY id LIMIT :n) RETURNING kind, item_id"
        ),
        {"n": batch},
    ).all()
    return [(row[0], row[1]) for row in rows]


def catch_up(ctx: Context, *, rounds: int | None = None) -> int:
    """Index what was queued, a batch per transaction; the number of items read."""
    root = ctx.settings.data_dir / "attachments"
    done = 0
    while rounds is None or rounds > 0:
        rounds = None if rounds is None else rounds - 1
        with ctx.session() as session:
            claimed = _claim(session.connection(), ctx.settings.search.batch_size)
            if not claimed:
                return done
            by_kind: dict[str, set[int]] = defaultdict(set)
            for kind, item_id in claimed:
                by_kind[kind].add(item_id)
            for kind, ids in by_kind.items():
                _index(session, root, kind, sorted(ids))
            session.commit()
            done += len(claimed)
    return done


def pending(ctx: Context) -> int:
    with ctx.session() as session:
        return (
            session.connection().execute(text("SELECT count(*) FROM search_pending")).scalar_one()
        )


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
        return sum(len(documents.item_ids(session, k, community_id)) for k in KINDS)
