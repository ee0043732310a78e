"""How the SMTP front end makes an accepted message safe before it answers 250.

On PostgreSQL a writer thread commits whatever arrived meanwhile in one transaction (group
commit). On SQLite the message is appended to the spool log (see filespool.py), so accepting mail
never waits for the database's single write lock.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy.engine import Engine

from mailhub.clock import Clock
from mailhub.context import Context
from mailhub.inbound.filespool import FileSpool
from mailhub.inbound.spool import Arrival, store_many


class Committer(Protocol):
    """Makes an arrival durable; answers with a reference only once it is."""

    async def commit(self, arrival: Arrival) -> str: ...

    def close(self) -> None: ...


def spool_folder(ctx: Context) -> FileSpool:
    return FileSpool(ctx.settings.data_dir / "spool", fsync=ctx.settings.inbound.spool_fsync)


def make_committer(ctx: Context) -> Committer:
    if ctx.engine.dialect.name == "sqlite":
        return FileCommitter(spool_folder(ctx), ctx.clock)
    return GroupCommitter(ctx.engine, ctx.clock)


class FileCommitter:
    """Appends each arrival to the spool log, on the loop: one write of a few microseconds."""

    def __init__(self, spool: FileSpool, clock: Clock) -> None:
        self.spool = spool
        self.clock = clock

    async def commit(self, arrival: Arrival) -> str:
        return self.spool.write(arrival, self.clock.now())

    def close(self) -> None:
        self.spool.close()


@dataclass
class _Pending:
    arrival: Arrival
    future: Future[int] = field(default_factory=Future)


class GroupCommitter:
    """One writer thread that commits whatever arrived meanwhile in a single transaction.

    Under load this turns hundreds of commits into a few; when idle, a message is committed
    at once. Every waiting client hears of a failure, and answers 451.
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

    async def commit(self, arrival: Arrival) -> str:
        row_id = await asyncio.wrap_future(self.submit(arrival))
        return f"#{row_id}"

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
