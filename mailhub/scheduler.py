"""`run_due(now)`: do whatever the store says is due, once.

The database is the truth and the scheduler only an alarm clock: each job finds its due
items by querying the store and carries each out in its own transaction, claiming it first
(see discussions/claims.py), so running twice, on two processes, or again after a crash
does each thing once. A new kind of due work (digests, newsletters, event reminders) is one
more function in DUE_JOBS.
"""

from __future__ import annotations

import logging
from datetime import datetime

from mailhub.clock import Anticipating
from mailhub.context import Context
from mailhub.digest.digests import digests_due
from mailhub.discussions import lifecycle
from mailhub.due import DueJob, DueReport
from mailhub.events.reminders import reminders_due
from mailhub.events.schedule import event_digests_due
from mailhub.moderation.queue import send_reminders
from mailhub.newsletter.schedule import newsletters_due
from mailhub.reports.schedule import reports_due

log = logging.getLogger("mailhub.scheduler")


def _opened(count: int | None, discussion_id: int) -> str | None:
    if count is None:
        return None
    return f"opened discussion {discussion_id}: {count} announcement(s) queued"


def discussions_due(ctx: Context, now: datetime, report: DueReport) -> None:
    """Open, remind and close the discussions whose time has come, in that order."""
    with ctx.session() as session:
        due = lifecycle.due(session, now)
    for item in due.to_open:

        def open_(item: int = item) -> str | None:
            return _opened(lifecycle.open_discussion(ctx, item), item)

        report.attempt(f"opening discussion {item}", open_)
    for item in due.to_remind:

        def remind(item: int = item) -> str | None:
            sent = lifecycle.remind(ctx, item)
            return None if sent is None else f"reminded discussion {item}: {sent} reminder(s)"

        report.attempt(f"reminding discussion {item}", remind)
    _close_due(ctx, now, report)


def _close_due(ctx: Context, now: datetime, report: DueReport) -> None:
    # Read again: a discussion opened a moment ago in this run may be due to close as well.
    with ctx.session() as session:
        to_close = lifecycle.due(session, now).to_close
    for item in to_close:

        def close(item: int = item) -> str | None:
            return (
                f"closed discussion {item}; synopsis requested"
                if lifecycle.close(ctx, item)
                else None
            )

        report.attempt(f"closing discussion {item}", close)


def moderation_reminders(ctx: Context, now: datetime, report: DueReport) -> None:
    """The daily reminder of held items (once a day per moderator, by its dedup key)."""

    def remind() -> str | None:
        with ctx.session() as session:
            sent = send_reminders(ctx, session, now)
        return f"moderation reminders: {sent} queued" if sent else None

    report.attempt("moderation reminders", remind)


def search_index_due(ctx: Context, now: datetime, report: DueReport) -> None:
    """Index what was approved, edited or removed since the last run (search/index.py),
    where no indexer process does it (`mailhub run-due`; serve runs search/indexer.py
    instead). Logged, not reported: it is housekeeping, not a due event."""

    def catch_up() -> None:
        from mailhub.search.index import catch_up  # the indexer and its readers, when due

        indexed = catch_up(ctx)
        if indexed:
            log.info("search index: %d item(s) read", indexed)

    if ctx.settings.search.enabled:
        report.attempt("search index", catch_up)


# Everything the scheduler does, in order. Digests and newsletters join here.
DUE_JOBS: list[DueJob] = [
    discussions_due,
    moderation_reminders,
    digests_due,
    newsletters_due,
    reminders_due,
    event_digests_due,
    reports_due,
    search_index_due,
]


def run_due(
    ctx: Context, now: datetime | None = None, jobs: list[DueJob] | None = None
) -> DueReport:
    """Do what is due at ``now`` (default: the context's clock); safe to run again.

    Records made in the run are dated ``now``, which decides what is due (`mailhub run-due
    --now` replays or anticipates a moment); but the mail it queues is due no later than
    the context's clock, never post-dated, and a digest covers only what is approved by
    then, so later approvals still reach the next one.
    """
    at = now or ctx.now()
    here = Context(ctx.settings, ctx.engine, Anticipating(at, ctx.clock))
    report = DueReport()
    for job in DUE_JOBS if jobs is None else jobs:
        job(here, at, report)
    return report
