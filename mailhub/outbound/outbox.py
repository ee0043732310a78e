"""The outbox: every outgoing mail is one row with a unique dedup key.

`enqueue` is idempotent (a second call with the same key does nothing), rows are claimed with
a lease so two senders never send one row, and a row whose lease expired — its sender
crashed — is claimed again. Only the claim's holder records an outcome (see leases.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlmodel import Session

from mailhub import leases
from mailhub.models import OutboundMessage, OutboundState, table_of
from mailhub.outbound import kinds

TABLE = table_of(OutboundMessage)
SENDING = OutboundState.SENDING.value


@dataclass(frozen=True)
class Outgoing:
    """One mail to enqueue."""

    dedup_key: str
    kind: str
    recipient: str
    envelope_from: str
    raw: bytes
    community_id: int | None = None
    person_id: int | None = None


def _insert_ignoring_duplicates(connection: Connection) -> Any:
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    return dialect.insert(TABLE).on_conflict_do_nothing(index_elements=["dedup_key"])


def enqueue_many(session: Session, mails: Iterable[Outgoing], now: datetime) -> int:
    """Queue mails in the caller's transaction; keys already queued are skipped. Returns how
    many rows were new."""
    rows = [
        {
            "dedup_key": m.dedup_key,
            "kind": kinds.check(m.kind),
            "recipient": m.recipient,
            "envelope_from": m.envelope_from,
            "raw": m.raw,
            "community_id": m.community_id,
            "person_id": m.person_id,
            "state": OutboundState.QUEUED.value,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for m in mails
    ]
    if not rows:
        return 0
    connection = session.connection()
    statement = _insert_ignoring_duplicates(connection).returning(TABLE.c.id)
    added = 0
    for start in range(0, len(rows), 1000):
        added += len(connection.execute(statement, rows[start : start + 1000]).all())
    return added


def enqueue(session: Session, mail: Outgoing, now: datetime) -> bool:
    """Queue one mail; False when its dedup key was queued before."""
    return enqueue_many(session, [mail], now) == 1


@dataclass(frozen=True)
class Claimed:
    """A row this sender holds the lease on."""

    id: int
    recipient: str
    envelope_from: str
    raw: bytes
    attempts: int

    @property
    def claim(self) -> leases.Claim:
        return (self.id, self.attempts)


def claim_due(connection: Connection, now: datetime, lease: timedelta, limit: int) -> list[Claimed]:
    """Take up to ``limit`` due rows (queued and due, or leased by a sender that died)."""
    queued = and_(TABLE.c.state == OutboundState.QUEUED.value, TABLE.c.next_attempt_at <= now)
    columns = (TABLE.c.id, TABLE.c.recipient, TABLE.c.envelope_from, TABLE.c.raw, TABLE.c.attempts)
    rows = leases.claim(connection, TABLE, queued, SENDING, now, lease, limit, columns)
    return [Claimed(*row) for row in rows]


def renew(connection: Connection, mails: Sequence[Claimed], until: datetime) -> set[int]:
    """Extend the lease of the rows still held; return their ids (see leases.renew)."""
    return leases.renew(connection, TABLE, SENDING, [m.claim for m in mails], until)


def _finishing(**values: Any) -> Any:
    """A statement that records one outcome of a claim (see leases.held), built once."""
    return update(TABLE).where(leases.held(TABLE, SENDING)).values(lease_until=None, **values)


AT = bindparam("at", type_=TABLE.c.sent_at.type)
SENT = _finishing(state=OutboundState.SENT.value, sent_at=AT, last_error=None)
RETRY = _finishing(
    state=OutboundState.QUEUED.value, next_attempt_at=AT, last_error=bindparam("error")
)
FAILED = _finishing(state=OutboundState.FAILED.value, last_error=bindparam("error"))


def mark_sent(connection: Connection, mails: Sequence[Claimed], now: datetime) -> None:
    if mails:
        connection.execute(SENT, [leases.claim_parameters(m.claim, at=now) for m in mails])


# A claim given back unused: due again at once, and the attempt it counted taken back.
RELEASE = (
    update(TABLE)
    .where(leases.held(TABLE, SENDING))
    .values(state=OutboundState.QUEUED.value, lease_until=None, attempts=TABLE.c.attempts - 1)
)


def release(connection: Connection, mails: Sequence[Claimed]) -> None:
    """Give back rows claimed but never handed to a transport (only those still held)."""
    if mails:
        connection.execute(RELEASE, [leases.claim_parameters(m.claim) for m in mails])


def mark_retry(connection: Connection, mail: Claimed, error: str, at: datetime) -> None:
    connection.execute(RETRY, leases.claim_parameters(mail.claim, at=at, error=error))


def mark_failed(connection: Connection, mail: Claimed, error: str) -> None:
    connection.execute(FAILED, leases.claim_parameters(mail.claim, error=error))


def requeue(session: Session, row_ids: Sequence[int] | None, now: datetime) -> int:
    """Put failed (or the given) rows back in the queue, due now; return how many moved.

    Only failed and queued rows move: a sent one is never sent again, and one a sender is
    sending now keeps its lease (freed, a second sender could send it too)."""
    statement = update(TABLE).values(
        state=OutboundState.QUEUED.value, next_attempt_at=now, lease_until=None
    )
    if row_ids:
        statement = statement.where(
            TABLE.c.id.in_(list(row_ids)),
            TABLE.c.state.in_((OutboundState.FAILED.value, OutboundState.QUEUED.value)),
        )
    else:
        statement = statement.where(TABLE.c.state == OutboundState.FAILED.value)
    return session.connection().execute(statement).rowcount


def states(session: Session, row_ids: Sequence[int]) -> dict[int, str]:
    """The state of each of these rows that exists."""
    rows = session.connection().execute(
        select(TABLE.c.id, TABLE.c.state).where(TABLE.c.id.in_(list(row_ids)))
    )
    return {row_id: state for row_id, state in rows}


def counts(session: Session) -> dict[str, int]:
    rows = session.connection().execute(
        text("SELECT state, COUNT(*) FROM outbound_message GROUP BY state")
    )
    return {state: count for state, count in rows}
