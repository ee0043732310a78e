"""Claiming one discussion for one transition, so that each happens once.

Two schedulers (two processes, two nodes) may see the same discussion due at the same
moment. Whoever claims the row does the transition in the same transaction; the other
finds it locked (PostgreSQL: ``FOR UPDATE SKIP LOCKED``) or no longer in the state the
transition starts from (SQLite: a conditional UPDATE takes the single write lock, and the
condition is checked again once the first writer has committed).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlmodel import Session, select

from mailhub.models import Discussion, table_of

TABLE = table_of(Discussion)


def claim(
    session: Session, discussion_id: int, *conditions: Any, wait: bool = False
) -> Discussion | None:
    """Lock the discussion if it still meets ``conditions``; None when another has it or it
    moved on. ``wait`` waits for a lock held by another instead of skipping the row."""
    if session.connection().dialect.name == "postgresql":
        query = (
            select(Discussion)
            .where(Discussion.id == discussion_id, *conditions)
            .with_for_update(skip_locked=not wait)
            .execution_options(populate_existing=True)
        )
        return session.exec(query).first()
    claimed = session.connection().execute(
        update(TABLE).where(TABLE.c.id == discussion_id, *conditions).values(state=TABLE.c.state)
    )
    if claimed.rowcount != 1:
        return None
    return session.get(Discussion, discussion_id, populate_existing=True)
