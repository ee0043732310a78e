"""The scheduler's event digest job: when `[events] digest_cron` fires (in each community's
time zone), queue the digest of the next `digest_weeks` weeks' events, once per due time.

The once-marker is an `EventDigestRun` row, unique per community and due time, inserted in
the transaction that queues the mails. A second scheduler's insert waits for the first to
commit (PostgreSQL's unique index, SQLite's write lock), then finds the row and does
nothing; a run that dies rolls back its row with its mails, so the next run does it whole.
A due time without upcoming events is marked done too: nothing is sent for it, ever.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session

from mailhub.communities import community_ids
from mailhub.context import Context
from mailhub.cron import last_due
from mailhub.db import insert_once
from mailhub.due import DueReport
from mailhub.events.digest import DigestRun, queue_digest
from mailhub.models import Community, EventDigestRun, table_of

RUN = table_of(EventDigestRun)


def _claim(session: Session, community_id: int, due_at: datetime, now: datetime) -> bool:
    """Insert the run's row; False when an earlier run (or another process) has it."""
    values = {
        "community_id": community_id,
        "due_at": due_at,
        "events": 0,
        "recipients": 0,
        "created_at": now,
    }
    return insert_once(session.connection(), RUN, values, ["community_id", "due_at"])


def send_due(ctx: Context, community_id: int, now: datetime) -> tuple[datetime, DigestRun] | None:
    """Queue the community's event digest if one is due at ``now`` and not done yet."""
    settings = ctx.settings.events
    with ctx.session() as session:
        community = session.get(Community, community_id)
        assert community is not None
        due_at = last_due(settings.digest_cron, community.timezone, now)
        if due_at is None or not _claim(session, community_id, due_at, now):
            return None
        run = queue_digest(ctx, session, community_id, settings.digest_weeks, now, dated=due_at)
        session.connection().execute(
            update(RUN)
            .where(RUN.c.community_id == community_id, RUN.c.due_at == due_at)
            .values(events=run.events, recipients=run.queued)
        )
        return due_at, run


def event_digests_due(ctx: Context, now: datetime, report: DueReport) -> None:
    """Each community's event digest, when `[events] digest_cron` says it is due."""
    if not ctx.settings.events.digest_cron:
        return
    with ctx.session() as session:
        ids = community_ids(session)
    for community_id in ids:

        def send(community_id: int = community_id) -> str | None:
            done = send_due(ctx, community_id, now)
            if done is None or not done[1].events:
                return None
            due_at, run = done
            return (
                f"event digest of community {community_id} due {due_at:%Y-%m-%d %H:%M} UTC: "
                f"{run.queued} queued over {run.events} event(s)"
            )

        report.attempt(f"event digest of community {community_id}", send)
