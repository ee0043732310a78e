"""A file spool for the SMTP front end on SQLite.

SQLite has one write lock per database; a busy worker holds it for most of each second, and
an SMTP front end that waited for it would stall. So on SQLite, accepted messages are
written as files (to ``tmp/``, then renamed into ``new/``, the Maildir way, so a file in
``new/`` is always whole) and the answer 250 follows the rename. The worker moves files
into the `inbound_message` table in batches and removes each file only after its row is
committed; a file whose row already exists (a crash between the two) is just removed.

A renamed file survives the process being killed, as a committed SQLite transaction in WAL
mode with synchronous=NORMAL does; `inbound.spool_fsync` adds an fsync per message for
those who also want to survive a power cut.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import Engine

from mailhub.inbound.spool import TABLE, Arrival, store_many

SUFFIX = ".msg"
_counter = itertools.count()


class FileSpool:
    """Accepted messages waiting as files in ``root/new``."""

    def __init__(self, root: Path, fsync: bool = False) -> None:
        self.root = root
        self.fsync = fsync
        self.tmp = root / "tmp"
        self.new = root / "new"
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.new.mkdir(parents=True, exist_ok=True)

    def write(self, arrival: Arrival, now: datetime) -> str:
        """Store one arrival; once this returns, the message is safe. Returns its name."""
        name = f"{time.time_ns()}.{os.getpid()}.{next(_counter)}{SUFFIX}"
        envelope = {
            "source": arrival.source,
            "mail_from": arrival.mail_from,
            "rcpt_to": list(arrival.rcpt_to),
            "received_at": now.astimezone(UTC).isoformat(),
        }
        temp = self.tmp / name
        with temp.open("wb") as handle:
            handle.write(json.dumps(envelope).encode() + b"\n" + arrival.raw)
            if self.fsync:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(temp, self.new / name)
        return name

    def pending(self, limit: int) -> list[Path]:
        names = sorted(p for p in os.listdir(self.new) if p.endswith(SUFFIX))
        return [self.new / n for n in names[:limit]]

    def count(self) -> int:
        return sum(1 for p in os.listdir(self.new) if p.endswith(SUFFIX))


def read(path: Path) -> tuple[Arrival, datetime]:
    data = path.read_bytes()
    head, _, raw = data.partition(b"\n")
    envelope = json.loads(head)
    arrival = Arrival(
        source=envelope["source"],
        raw=raw,
        mail_from=envelope["mail_from"],
        rcpt_to=envelope["rcpt_to"],
        source_ref=f"file:{path.name}",
    )
    return arrival, datetime.fromisoformat(envelope["received_at"])


def import_files(engine: Engine, spool: FileSpool, limit: int = 500) -> int:
    """Move up to ``limit`` waiting files into the spool table; return how many were new."""
    paths = spool.pending(limit)
    if not paths:
        return 0
    arrivals = [read(p) for p in paths]
    refs = [a.source_ref for a, _ in arrivals]
    with engine.begin() as connection:
        known = set(
            connection.execute(
                select(TABLE.c.source_ref).where(TABLE.c.source_ref.in_(refs))
            ).scalars()
        )
        fresh = [(a, at) for a, at in arrivals if a.source_ref not in known]
        for arrival, at in fresh:
            store_many(connection, [arrival], at)
    _remove(paths)
    return len(fresh)


def _remove(paths: Sequence[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)
