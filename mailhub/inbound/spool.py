"""The spool: raw bytes and envelope of every accepted message, committed before we say yes.

Writers (SMTP, LMTP, IMAP, pipe) call `store` or hand messages to a `GroupCommitter`, which
commits many messages in one transaction and only then resolves each caller's future, so
the SMTP "250" always follows a commit. Workers `claim` rows with a lease; a worker that died
leaves its rows to be claimed again once the lease expires.
"""

from __future__ import annotations

import asyncio
import hashlib
import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.engine import Connection, Engine

from mailhub.clock import Clock
from mailhub.db import make_engine
from mailhub.models import InboundMessage, InboundState

TABLE = InboundMessage.__table__
LOOP_BUSY_TIMEOUT_MS = 3000


@dataclass(frozen=True)
class Arrival:
    """One message as it reached us, before anything is decided about it."""

    source: str
    raw: bytes
    mail_from: str = ""
    rcpt_to: Sequence[str] = ()
    source_ref: str | None = None


def _row(arrival: Arrival, now: datetime) -> dict[str, Any]:
    return {
        "source": arrival.source,
        "source_ref": arrival.source_ref,
        "mail_from": arrival.mail_from,
        "rcpt_to": list(arrival.rcpt_to),
        "raw": arrival.raw,
        "size": len(arrival.raw),
        "sha256": hashlib.sha256(arrival.raw).hexdigest(),
        "state": InboundState.NEW.value,
        "attempts": 0,
        "received_at": now.replace(tzinfo=None),
    }


def store_many(connection: Connection, arrivals: Sequence[Arrival], now: datetime) -> list[int]:
    """Insert arrivals in the caller's transaction; return their ids in order."""
    statement = insert(TABLE).returning(TABLE.c.id, sort_by_parameter_order=True)
    rows = connection.execute(statement, [_row(a, now) for a in arrivals]).all()
    return [row[0] for row in rows]


def store(engine: Engine, arrival: Arrival, now: datetime) -> int:
    """Commit one arrival; when this returns, the message is safe."""
    with engine.begin() as connection:
        return store_many(connection, [arrival], now)[0]


class Committer(Protocol):
    """Commits an arrival and answers with its spool id only once it is durable."""

    async def commit(self, arrival: Arrival) -> int: ...

    def close(self) -> None: ...


def make_committer(engine: Engine, clock: Clock) -> Committer:
    """On SQLite commit on the loop; on a networked database, in a writer thread."""
    if engine.dialect.name == "sqlite":
        # Its own connection with a short busy timeout: if another process held the write
        # lock for long, the loop must not freeze; the client gets 451 and retries.
        short = make_engine(str(engine.url), busy_timeout_ms=LOOP_BUSY_TIMEOUT_MS)
        return LoopCommitter(short, clock)
    return GroupCommitter(engine, clock)


@dataclass
class _Pending:
    arrival: Arrival
    future: Future[int] = field(default_factory=Future)


class GroupCommitter:
    """One writer thread that commits whatever arrived meanwhile in a single transaction.

    Under load this turns hundreds of commits into a few, which is what lets the SMTP front
    end keep up with a bare server; when idle, a message is committed at once.
    """

    def __init__(self, engine: Engine, clock: Clock, max_batch: int = 256) -> None:
        self.engine = engine
        self.clock = clock
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="spool-writer", daemon=True)
        self._thread.start()

    def submit(self, arrival: Arrival) -> Future[int]:
        pending = _Pending(arrival)
        self._queue.put(pending)
        return pending.future

    async def commit(self, arrival: Arrival) -> int:
        return await asyncio.wrap_future(self.submit(arrival))

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
            self._commit(batch)
            if stop:
                return

    def _commit(self, batch: list[_Pending]) -> None:
        try:
            with self.engine.begin() as connection:
                ids = store_many(connection, [p.arrival for p in batch], self.clock.now())
        except Exception as exc:  # every waiting client must hear of the failure
            for pending in batch:
                pending.future.set_exception(exc)
            return
        for pending, row_id in zip(batch, ids, strict=True):
            pending.future.set_result(row_id)


class LoopCommitter:
    """Group commit on the event loop itself, for SQLite: no thread hand-off per message.

    Every DATA that finishes in one turn of the loop joins one transaction, committed in
    the next turn; each caller's future is resolved only after the commit. SQLite commits
    in well under a millisecond here, and the worker keeps its own write transactions short,
    so the loop is never held for long.
    """

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock
        self._pending: list[tuple[Arrival, asyncio.Future[int]]] = []

    async def commit(self, arrival: Arrival) -> int:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int] = loop.create_future()
        if not self._pending:
            loop.call_soon(self._flush)
        self._pending.append((arrival, future))
        return await future

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        try:
            with self.engine.begin() as connection:
                ids = store_many(connection, [a for a, _ in batch], self.clock.now())
        except Exception as exc:  # every waiting client must hear of the failure
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), row_id in zip(batch, ids, strict=True):
            if not future.done():
                future.set_result(row_id)

    def close(self) -> None:
        self.engine.dispose()


@dataclass(frozen=True)
class SpoolRow:
    id: int
    raw: bytes
    mail_from: str
    rcpt_to: list[str]
    source: str
    attempts: int


def claim(connection: Connection, now: datetime, lease: timedelta, limit: int) -> list[SpoolRow]:
    """Lease up to ``limit`` new rows (or rows whose worker's lease ran out)."""
    naive = now.replace(tzinfo=None)
    due = or_(
        TABLE.c.state == InboundState.NEW.value,
        and_(TABLE.c.state == InboundState.PROCESSING.value, TABLE.c.lease_until < naive),
    )
    pick = select(TABLE.c.id).where(due).order_by(TABLE.c.id).limit(limit)
    if connection.dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    statement = (
        update(TABLE)
        .where(TABLE.c.id.in_(pick.scalar_subquery()))
        .values(
            state=InboundState.PROCESSING.value,
            lease_until=(now + lease).replace(tzinfo=None),
            attempts=TABLE.c.attempts + 1,
        )
        .returning(
            TABLE.c.id,
            TABLE.c.raw,
            TABLE.c.mail_from,
            TABLE.c.rcpt_to,
            TABLE.c.source,
            TABLE.c.attempts,
        )
    )
    return sorted((SpoolRow(*row) for row in connection.execute(statement)), key=lambda r: r.id)


def release(connection: Connection, ids: Sequence[int]) -> int:
    """Put rows back to new (an admin's retry, or a worker shutting down cleanly)."""
    statement = (
        update(TABLE)
        .where(TABLE.c.id.in_(list(ids)))
        .values(state=InboundState.NEW.value, lease_until=None, error=None)
    )
    return connection.execute(statement).rowcount
