"""A claimed batch of outbox rows and how each of its copies gets its bytes; the next batch,
claimed and signed while the current one is sent.

With DKIM signed in a worker process (signing_pool.py), the worker signed one batch while
the connections sent it, then sat idle while they sent the last copies, committed the last
outcomes and claimed the next batch; the connections in turn waited for the first copies
of each batch to be signed. So the sender claims the next batch as soon as the current one
is handed to the connections, and the worker signs it behind the current one: the worker
never waits for the sender, and a batch starts with copies already signed.

A batch claimed ahead is held like any other. Its lease is renewed with the current
batch's; it is checked once more (`still_held`) before its first copy is handed over, so
rows another sender took meanwhile are dropped; and it is given back unused (`release`)
when the sender closes. A sender killed with a batch signed but not sent has handed none
of it to the relay: those rows come back once their lease runs out and go out once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from mailhub.outbound import outbox
from mailhub.outbound.outbox import Claimed
from mailhub.outbound.signing import Signer
from mailhub.outbound.signing_pool import SigningPool

log = logging.getLogger("mailhub.sender")


@dataclass(frozen=True)
class Batch:
    """Rows this sender holds, and the bytes to hand over for each (as queued, or signed;
    `bytes_of` raises SigningError for a copy that cannot be signed)."""

    rows: list[Claimed]
    bytes_of: Callable[[Claimed], bytes]

    def keeping(self, ids: Collection[int]) -> Batch:
        """The same batch without the rows whose ids are not in ``ids``."""
        return Batch([mail for mail in self.rows if mail.id in ids], self.bytes_of)


def bytes_of(
    rows: list[Claimed], signer: Signer | None, signing: SigningPool | None
) -> Callable[[Claimed], bytes]:
    """How each copy of ``rows`` gets its bytes: as queued, signed in the calling thread,
    or signed ahead, in order, by the signing worker (whose work starts now)."""
    if signer is None:
        return lambda mail: mail.raw
    if signing is None:
        return lambda mail: signer.sign(mail.raw)
    ahead = signing.sign_ahead([mail.raw for mail in rows])
    position = {mail.id: index for index, mail in enumerate(rows)}
    return lambda mail: ahead.signed(position[mail.id], mail.raw)


def claim(
    engine: Engine,
    now: datetime,
    lease: timedelta,
    limit: int,
    signer: Signer | None,
    signing: SigningPool | None,
) -> Batch | None:
    """Claim up to ``limit`` due rows and start signing them; None when nothing is due."""
    with engine.begin() as connection:
        rows = outbox.claim_due(connection, now, lease, limit)
    return Batch(rows, bytes_of(rows, signer, signing)) if rows else None


def still_held(engine: Engine, batch: Batch, until: datetime) -> Batch:
    """``batch`` with its lease moved to ``until``, less any row no longer held (its lease
    ran out and another sender took it)."""
    with engine.begin() as connection:
        kept = outbox.renew(connection, batch.rows, until)
    return batch.keeping(kept)


def release(engine: Engine, batch: Batch) -> None:
    """Give the rows of a batch never sent back to the queue, due at once. Should the
    store be unreachable, they come back when their lease runs out instead."""
    try:
        with engine.begin() as connection:
            outbox.release(connection, batch.rows)
    except SQLAlchemyError as exc:
        count = len(batch.rows)
        log.warning("%d claimed rows not given back, due after their lease: %s", count, exc)
