"""Queueing changed items for the search index, in the transaction that changes them.

Called where items are approved, edited or removed; imports nothing but the schema, so the
ingest path pays one small insert and no import (search/index.py indexes them later).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import insert, literal, select
from sqlalchemy.engine import Connection
from sqlmodel import Session

from mailhub.models import Post, PostStatus, SearchPending, table_of

PENDING = table_of(SearchPending)
SHOWN_POSTS = (PostStatus.APPROVED.value, PostStatus.ARCHIVED.value)


def _connection(store: Session | Connection) -> Connection:
    return store.connection() if isinstance(store, Session) else store


def mark(store: Session | Connection, kind: str, ids: Iterable[int | None]) -> None:
    """Queue items for the index in the caller's transaction (one row each)."""
    rows = [{"kind": kind, "item_id": i} for i in ids if i]
    if rows:
        _connection(store).execute(insert(PENDING), rows)


def mark_discussion(session: Session, discussion_id: int | None) -> None:
    """A discussion is two documents: its question and, once written, its synopsis."""
    mark(session, "discussion", [discussion_id])
    mark(session, "synopsis", [discussion_id])


def mark_threads(session: Session, thread_ids: Iterable[int | None]) -> None:
    """Queue the shown posts of threads whose themes or posts changed (links, filters)."""
    wanted = [i for i in thread_ids if i]
    if wanted:
        posts = table_of(Post)
        chosen = select(literal("post"), posts.c.id).where(
            posts.c.thread_id.in_(wanted), posts.c.status.in_(SHOWN_POSTS)
        )
        session.connection().execute(insert(PENDING).from_select(["kind", "item_id"], chosen))
