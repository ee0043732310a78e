"""Commits the outcomes of several connections' deliveries as they come, grouped.

A connection's thread hands over each outcome (`submit`) and goes on with the next
message's envelope, but before that message's DATA it waits (`wait`) until the outcome is
committed, so a sender killed at any moment leaves at most one message per connection
delivered but not recorded. Outcomes submitted while a commit is under way go together in
the next one (a group commit): whichever waiting thread gets the turn writes every waiting
outcome in one transaction, and the others find theirs done. Committing each outcome alone
before the next message, in its own transaction, made every connection wait a transaction
per message and cost ~250 µs of CPU per message (bench/fanout.py fell from ~85 % of the
bare client to ~55 % on a busy machine).

The recorder keeps one connection for its commits: taking one from the pool for each cost
as much again as the commit itself. On PostgreSQL its commits do not wait for the WAL to
reach the disk (synchronous_commit off, for this connection only): a commit is then as
safe against mailhub being killed, since the server has it, and only a crash of the
database server itself could lose the last fraction of a second of outcomes (those mails
would go out again). Waiting for the flush, ~1-3 ms per commit here, held every connection
that long per message: bench/fanout.py on PostgreSQL fell to ~60-70 % of the bare client.
A group whose transaction fails for a passing reason (a deadlock, a dropped connection) is
written again, up to three times, since a delivered message left unrecorded would be sent
a second time; after that every wait raises, and the batch stops.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError

Item = TypeVar("Item")
TRIES = 3
log = logging.getLogger("mailhub.sender")


@dataclass
class Ticket(Generic[Item]):
    """One submitted item, done once committed."""

    item: Item
    done: bool = False


class Recorder(Generic[Item]):
    """Writes items with ``write(connection, items)``, one transaction per group, on one
    connection of ``engine`` held until `close`."""

    def __init__(self, engine: Engine, write: Callable[[Connection, list[Item]], None]) -> None:
        self.write = write
        self._connection = engine.connect()
        self._postgres = engine.dialect.name == "postgresql"
        if self._postgres:
            self._connection.exec_driver_sql("SET synchronous_commit TO OFF")
            self._connection.commit()
        self._waiting: list[Ticket[Item]] = []
        self._error: BaseException | None = None
        self._waiting_lock = threading.Lock()
        self._turn = threading.Lock()

    def close(self) -> None:
        """Give the connection back to the pool as it was lent (or not at all)."""
        try:
            if self._postgres:
                self._connection.exec_driver_sql("RESET synchronous_commit")
                self._connection.commit()
        except SQLAlchemyError:
            self._connection.invalidate()
        finally:
            self._connection.close()

    def submit(self, item: Item) -> Ticket[Item]:
        """Queue ``item`` for the next commit; `wait` on the ticket before anything that
        depends on it being recorded."""
        ticket = Ticket(item)
        with self._waiting_lock:
            self._waiting.append(ticket)
        return ticket

    def wait(self, ticket: Ticket[Item]) -> None:
        """Return once the ticket's item is committed (committing the waiting group if no
        one else is); raise if the recorder has failed."""
        with self._turn:
            if self._error is None and not ticket.done:
                self._commit_waiting()
        if self._error is not None:
            raise self._error

    def _commit_waiting(self) -> None:
        with self._waiting_lock:
            group, self._waiting = self._waiting, []
        try:
            self._write_group([ticket.item for ticket in group])
        except BaseException as exc:
            self._error = exc
            return
        for ticket in group:
            ticket.done = True

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
