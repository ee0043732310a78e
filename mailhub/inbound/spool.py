"""The spool: raw bytes and envelope of every accepted message, committed before we say yes.

Writers (IMAP, pipe) call `store`; the SMTP front end goes through a committer (see
committers.py), which answers only once the bytes are safe. Workers `claim` rows with a
lease; a worker that died leaves its rows to be claimed again once the lease expires, and a
live one renews it (leases.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.engine import Connection, Engine

from mailhub import leases
from mailhub.models import InboundMessage, InboundState, table_of

TABLE = table_of(InboundMessage)
PROCESSING = InboundState.PROCESSING.value


@dataclass(frozen=True)
class Arrival:
    """One message as it reached us, before anything is decided about it."""

    source: str
    raw: bytes
    mail_from: str = ""
    rcpt_to: Sequence[str] = ()
    source_ref: str | None = None


def row_values(arrival: Arrival, now: datetime) -> dict[str, Any]:
    """The spool row of an arrival received at ``now`` (UTC)."""
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
        "received_at": now,
    }


def store_many(connection: Connection, arrivals: Sequence[Arrival], now: datetime) -> list[int]:
    """Insert arrivals in the caller's transaction; return their ids in order."""
    statement = insert(TABLE).returning(TABLE.c.id, sort_by_parameter_order=True)
    rows = connection.execute(statement, [row_values(a, now) for a in arrivals]).all()
    return [row[0] for row in rows]


def store(engine: Engine, arrival: Arrival, now: datetime) -> int:
    """Commit one arrival; when this returns, the message is safe."""
    with engine.begin() as connection:
        return store_many(connection, [arrival], now)[0]


@dataclass(frozen=True)
class SpoolRow:
    id: int
    raw: bytes
    mail_from: str
    rcpt_to: list[str]
    source: str
    attempts: int

    @property
    def envelope_sender(self) -> str | None:
        """MAIL FROM when the source knows it, "<>" being the null sender; else None.

        SMTP and LMTP always know it (aiosmtpd keeps the null sender as "<>"), a pipe when
        the MTA passed ``-f``. IMAP and archives have only the headers, where an empty
        value means "not recorded", so the classifier reads Return-Path itself.
        """
        if self.source in ("smtp", "lmtp") or self.mail_from:
            return self.mail_from
        return None

    @property
    def claim(self) -> leases.Claim:
        return (self.id, self.attempts)


def claim(connection: Connection, now: datetime, lease: timedelta, limit: int) -> list[SpoolRow]:
    """Lease up to ``limit`` new rows (or rows whose worker's lease ran out)."""
    new = TABLE.c.state == InboundState.NEW.value
    columns = (
        TABLE.c.id,
        TABLE.c.raw,
        TABLE.c.mail_from,
        TABLE.c.rcpt_to,
        TABLE.c.source,
        TABLE.c.attempts,
    )
    rows = leases.claim(connection, TABLE, new, PROCESSING, now, lease, limit, columns)
    return [SpoolRow(*row) for row in rows]


def renew(connection: Connection, rows: Sequence[SpoolRow], until: datetime) -> set[int]:
    """Extend the lease of the rows still held; return their ids (see leases.renew)."""
    return leases.renew(connection, TABLE, PROCESSING, [row.claim for row in rows], until)


def release(connection: Connection, ids: Sequence[int]) -> int:
    """Put rows back to new (an admin's retry, or a worker shutting down cleanly)."""
    statement = (
        update(TABLE)
        .where(TABLE.c.id.in_(list(ids)))
        .values(state=InboundState.NEW.value, lease_until=None, error=None)
    )
    return connection.execute(statement).rowcount
