"""Leases on claimed rows: the spool's (workers) and the outbox's (senders).

A claim sets a row's state to busy, its ``lease_until`` to now plus the lease, and adds one
to its ``attempts``; a row whose lease ran out is claimed again by whoever looks next, which
is how the rows of a worker or sender that died come back. So ``(id, attempts)`` names one
claim: a later claim of the same row has a higher count. The holder writes its outcome only
where the row still carries its own count (see `held`), so a holder that was too slow and
lost a row to another never overwrites that other's work.

A live holder must not lose its rows just because its batch takes longer than the lease
(a slow relay, a long message to parse, a busy machine): it renews its lease whenever a
third of it has passed (`Renewal`), so a row is taken from a holder only when the holder
has not been heard from for two thirds of a lease or more.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, or_, select, tuple_, update
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

Claim = tuple[int, int]  # (row id, attempts after the claim)


def claim(
    connection: Connection,
    table: Any,
    waiting: ColumnElement[bool],
    busy: str,
    now: datetime,
    lease: timedelta,
    limit: int,
    columns: Sequence[Any],
) -> list[Sequence[Any]]:
    """Claim up to ``limit`` rows, oldest first: those ``waiting`` and those whose holder's
    lease ran out. Each becomes ``busy`` until ``now + lease`` with one more attempt; the
    rows' ``columns`` (the id first) come back in id order. On PostgreSQL two claimers
    skip each other's locked rows rather than wait (FOR UPDATE SKIP LOCKED)."""
    due = or_(waiting, and_(table.c.state == busy, table.c.lease_until < now))
    pick = select(table.c.id).where(due).order_by(table.c.id).limit(limit)
    if connection.dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    statement = (
        update(table)
        .where(table.c.id.in_(pick.scalar_subquery()))
        .values(state=busy, lease_until=now + lease, attempts=table.c.attempts + 1)
        .returning(*columns)
    )
    return sorted(connection.execute(statement).all(), key=lambda row: row[0])


def held(table: Any, busy: str) -> ColumnElement[bool]:
    """Where clause: the row is still busy under one claim, given as the parameters
    ``claim_id`` and ``claim_attempts`` (see `claim_parameters`). Built once and run with
    parameters, a statement costs a tenth of one built anew for each row."""
    return and_(
        table.c.id == bindparam("claim_id"),
        table.c.state == busy,
        table.c.attempts == bindparam("claim_attempts"),
    )


def claim_parameters(claim: Claim, **values: Any) -> dict[str, Any]:
    """The parameters of `held` for one claim, with the statement's other values."""
    return {"claim_id": claim[0], "claim_attempts": claim[1], **values}


def renew(
    connection: Connection, table: Any, busy: str, claims: Sequence[Claim], until: datetime
) -> set[int]:
    """Move the lease of the rows still held under ``claims`` to ``until``; return their ids.

    Rows not returned were finished (their outcome is written), taken by another holder,
    or (PostgreSQL) locked at this moment by the transaction writing their outcome: the
    renewal skips those rather than wait, since the sender records outcomes while it renews
    and two transactions locking the same rows in different orders would deadlock.
    (The plain ``id IN`` lets SQLite find the rows by their key; for the pairs alone it
    would scan the whole table.)
    """
    if not claims:
        return set()
    pick = select(table.c.id).where(
        table.c.id.in_([row_id for row_id, _ in claims]),
        table.c.state == busy,
        tuple_(table.c.id, table.c.attempts).in_(list(claims)),
    )
    if connection.dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    statement = (
        update(table)
        .where(table.c.id.in_(pick.scalar_subquery()))
        .values(lease_until=until)
        .returning(table.c.id)
    )
    return set(connection.execute(statement).scalars())


class Renewal:
    """When a holder renews: each time a third of the lease has passed since the last time."""

    def __init__(self, lease: timedelta) -> None:
        self.lease = lease
        self.every = lease.total_seconds() / 3
        self._last = time.monotonic()

    def due(self) -> bool:
        return time.monotonic() - self._last >= self.every

    def seconds_left(self) -> float:
        """Until the next renewal is due (0 when it is)."""
        return max(0.0, self.every - (time.monotonic() - self._last))

    def done(self) -> None:
        self._last = time.monotonic()
