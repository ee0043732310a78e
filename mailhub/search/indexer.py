"""The indexer of `mailhub serve`: catches the search index up with the store in a process
of its own, at the lowest priority, and after a burst of mail rather than during it.

Run in serve's main process (the scheduler's thread), indexing held the interpreter's lock
that the SMTP front end needs, and ingest with indexing on processed 69-82 % of the
messages per second it did without (bench/search.py). A process of its own is not enough:
the spool workers already run on spare CPU only (SCHED_IDLE), no priority sits below
theirs, and with an indexer beside them, catching up at once, ingest fell to 53-63 %.
Indexing a post costs 0.6-1 ms of CPU (catch_up at batch sizes of 50 to 2,000; the batch
size changes little, tokens and FTS5's inserts are most of it), a good part of the few ms
accepting and processing it costs, so the indexer waits while the queue still grows (mail
is coming in) and catches up once it has settled (ingest then kept 87-114 %, median
110 %, in six rounds): a lone post is found a second or two after its approval, 2,000 of
them 7 s after the last, and a queue that never settles is indexed anyway after
LONGEST_WAIT seconds, so a steady flow of mail cannot starve it.
`mailhub run-due` (and serve with no indexer) keep indexing as the scheduler's due job
(scheduler.py `search_index_due`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import text

from mailhub.context import Context
from mailhub.search.index import catch_up

log = logging.getLogger("mailhub.search")
LOOK_SECONDS = 1.0
LONGEST_WAIT = 30.0
TROUBLE_SECONDS = 5.0


def newest_queued(ctx: Context) -> int | None:
    """The id of the newest queue row (None: nothing waits); it moves while mail comes in."""
    with ctx.session() as session:
        found = session.connection().execute(text("SELECT max(id) FROM search_pending"))
        return found.scalar_one_or_none()


@dataclass
class Settling:
    """When to index: once the queue's newest row is the one seen a look before (the burst
    is over), or the first row seen has waited ``longest_wait`` seconds."""

    longest_wait: float = LONGEST_WAIT
    seen: int | None = None
    since: float = 0.0

    def due(self, newest: int | None, now: float) -> bool:
        if newest is None:
            self.seen = None
            return False
        if self.seen is None:
            self.seen, self.since = newest, now
            return False
        if newest != self.seen and now - self.since < self.longest_wait:
            self.seen = newest
            return False
        self.seen = None
        return True


def keep_up(
    ctx: Context,
    stopped: Callable[[], bool],
    look_seconds: float = LOOK_SECONDS,
    longest_wait: float = LONGEST_WAIT,
) -> None:
    """Look at the queue every ``look_seconds`` and index it when it has settled, until
    ``stopped()``. A batch that breaks (the store unreachable) is logged and tried again
    later: its queue rows stay until written."""
    settling = Settling(longest_wait)
    while not stopped():
        try:
            if settling.due(newest_queued(ctx), time.monotonic()):
                done = catch_up(ctx, stopped=stopped)
                log.info("search index: %d item(s) read", done)
                continue
        except Exception:
            log.exception("search indexing stopped by an error; trying again")
            _sleep(stopped, TROUBLE_SECONDS)
            continue
        _sleep(stopped, look_seconds)


def _sleep(stopped: Callable[[], bool], seconds: float) -> None:
    """Sleep in short steps, so that a stop is seen within a tenth of a second."""
    until = time.monotonic() + seconds
    while not stopped() and time.monotonic() < until:
        time.sleep(min(0.1, max(until - time.monotonic(), 0.0)))
