"""The indexer of `mailhub serve`: catches the search index up with the store, in a process
of its own at the lowest priority, so that indexing never takes time from accepting and
processing mail.

Run in serve's main process (the scheduler's thread), tokenizing held the interpreter's
lock that the SMTP front end needs, and ingest with indexing on processed 69-82 % of the
messages per second it did without (bench/search.py). Here the indexer reads a batch, writes
it in one short transaction, and reads the next at once while the queue has rows; an empty
queue is looked at again after a short sleep, so an approved post is found within about a
second. `mailhub run-due` (and serve with `--no-schedule` off but no indexer) keep indexing
as the scheduler's due job (scheduler.py `search_index_due`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from mailhub.context import Context
from mailhub.search.index import catch_up

log = logging.getLogger("mailhub.search")
IDLE_SECONDS = 1.0
TROUBLE_SECONDS = 5.0


def keep_up(ctx: Context, stopped: Callable[[], bool], idle_seconds: float = IDLE_SECONDS) -> None:
    """Index queued items a batch at a time until ``stopped()``; sleep while none wait.
    A batch that breaks (the store unreachable) is logged and tried again a little later:
    its queue rows stay until a batch that writes them commits."""
    while not stopped():
        try:
            done = catch_up(ctx, rounds=1)
        except Exception:
            log.exception("search indexing stopped by an error; trying again")
            _sleep(stopped, TROUBLE_SECONDS)
            continue
        if done:
            log.debug("search index: %d item(s) read", done)
        # A part batch means the queue is empty: wait for the next to gather rather than
        # write a few rows at a time (each write takes SQLite's one write lock).
        if done < ctx.settings.search.batch_size:
            _sleep(stopped, idle_seconds)


def _sleep(stopped: Callable[[], bool], seconds: float) -> None:
    """Sleep in short steps, so that a stop is seen within a tenth of a second."""
    until = time.monotonic() + seconds
    while not stopped() and time.monotonic() < until:
        time.sleep(min(0.1, max(until - time.monotonic(), 0.0)))
