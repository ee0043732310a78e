"""Commits the outcomes of several connections' deliveries as they come, grouped.

A connection's thread hands over each outcome and waits until it is committed before it
sends anything else, so a sender killed at any moment leaves at most one message per
connection delivered but not recorded. Committing each outcome alone made every
connection wait a whole transaction (a WAL flush on PostgreSQL, SQLite's write lock shared
by eight threads) per message: bench/fanout.py fell from ~85 % of the bare client to ~55 %.
So outcomes that arrive while a commit is under way wait for the next one and go together
(a group commit): whichever waiting thread gets the turn writes every waiting outcome in
one transaction, and the others find theirs done. The recorder keeps one connection for
its commits: taking one from the pool for each cost as much again as the commit itself.
A group whose transaction fails for a passing reason (a deadlock, a dropped connection) is
written again, up to three times, since a delivered message left unrecorded would be sent
a second time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError

Item = TypeVar("Item")
TRIES = 3
log = logging.getLogger("mailhub.sender")


@dataclass
class _Slot(Generic[Item]):
    item: Item
    done: bool = False
    error: BaseException | None = None


class Recorder(Generic[Item]):
    """Writes items with ``write(connection, items)``, one transaction per group, on one
    connection of ``engine`` held until `close`."""

    def __init__(self, engine: Engine, write: Callable[[Connection, list[Item]], None]) -> None:
        self.write = write
        self._connection = engine.connect()
        self._waiting: list[_Slot[Item]] = []
        self._waiting_lock = threading.Lock()
        self._turn = threading.Lock()

    def close(self) -> None:
        self._connection.close()

    def record(self, item: Item) -> None:
        """Return once ``item`` is committed; raise what its transaction raised."""
        slot = _Slot(item)
        with self._waiting_lock:
            self._waiting.append(slot)
        with self._turn:
            if not slot.done and slot.error is None:
                self._commit_waiting()
        if slot.error is not None:
            raise slot.error

    def _commit_waiting(self) -> None:
        with self._waiting_lock:
            group, self._waiting = self._waiting, []
        try:
            self._write_group([slot.item for slot in group])
        except BaseException as exc:
            for slot in group:
                slot.error = exc
            return
        for slot in group:
            slot.done = True

    def _write_group(self, items: list[Item]) -> None:
        for attempt in range(1, TRIES + 1):
            try:
                with self._connection.begin():
                    self.write(self._connection, items)
                return
            except OperationalError as exc:
                if attempt == TRIES:
                    raise
                log.warning("outcomes not recorded, trying again: %s", exc)
