"""Queueing changed items for the search index, in the transaction that changes them.

Called where items are approved, edited or removed; imports nothing but the schema, so the
ingest path pays one small insert and no import (search/index.py indexes them later).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import insert, literal, select
from sqlalchemy.engine import Connection
from sqlmodel import Session

from mailhub.models import PUBLISHED, Discussion, Post, SearchPending, table_of

PENDING = table_of(SearchPending)
# The profile fields a person's items are found by: `country:` and `affiliation:` of their
# posts and of the discussions they moderate, and a moderator's name (a post keeps the
# name it was sent with).
FILTER_FIELDS = ("affiliation", "country")
PROFILE_FIELDS = (*FILTER_FIELDS, "name")


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
            posts.c.thread_id.in_(wanted), posts.c.status.in_(PUBLISHED)
        )
        session.connection().execute(insert(PENDING).from_select(["kind", "item_id"], chosen))


def mark_people(
    store: Session | Connection, person_ids: Iterable[int | None], fields: Iterable[str]
) -> None:
    """Queue the items that carry these people's profile, whose ``fields`` changed: search
    filters follow a member's current profile, as the portal shows it and as a rebuild
    reads it, so a member who moves country is found under the new one."""
    wanted = sorted({i for i in person_ids if i})
    changed = set(fields)
    if not wanted or not changed & set(PROFILE_FIELDS):
        return
    connection = _connection(store)
    columns = ["kind", "item_id"]
    if changed & set(FILTER_FIELDS):
        posts = table_of(Post)
        chosen = select(literal("post"), posts.c.id).where(
            posts.c.person_id.in_(wanted), posts.c.status.in_(PUBLISHED)
        )
        connection.execute(insert(PENDING).from_select(columns, chosen))
    talks = table_of(Discussion)
    for kind in ("discussion", "synopsis"):
        chosen = select(literal(kind), talks.c.id).where(talks.c.moderator_id.in_(wanted))
        connection.execute(insert(PENDING).from_select(columns, chosen))
