"""The scheduler's newsletter job: when `[newsletter] cron` fires (in each community's
time zone), build an issue ending at the due time and send it, once per due time.

The once-marker is the issue itself: an issue whose `until` is the due time means that
run happened. Two schedulers racing both try to take the next number; the unique
(community, number) constraint lets one insert and the other's build fail, so it stops.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from mailhub.communities import community_ids
from mailhub.context import Context
from mailhub.cron import last_due
from mailhub.due import DueReport
from mailhub.models import Community, NewsletterIssue
from mailhub.newsletter import issues, sending


def build_due(ctx: Context, community_id: int, now: datetime) -> int | None:
    """Build the issue due at ``now`` if not built yet; its id, or None."""
    cron = ctx.settings.newsletter.cron
    try:
        with ctx.session() as session:
            community = session.get(Community, community_id)
            assert community is not None
            due_at = last_due(cron, community.timezone, now)
            if due_at is None:
                return None
            done = session.exec(
                select(NewsletterIssue).where(
                    NewsletterIssue.community_id == community_id,
                    NewsletterIssue.until == due_at,
                )
            ).first()
            if done is not None:
                # Built by an earlier run whose sending failed: send it now.
                return done.id if done.state == issues.DRAFT else None
            last = issues.default_since(session, community_id, due_at)
            if last >= due_at:
                return None
            return issues.build(ctx, session, community, due_at, None).id
    except IntegrityError:
        return None


def newsletters_due(ctx: Context, now: datetime, report: DueReport) -> None:
    """Each community's scheduled issue, built and sent when the cron line says so."""
    if not ctx.settings.newsletter.cron:
        return
    with ctx.session() as session:
        ids = community_ids(session)
    for community_id in ids:

        def run(community_id: int = community_id) -> str | None:
            issue_id = build_due(ctx, community_id, now)
            if issue_id is None:
                return None
            sent = sending.send(ctx, issue_id)
            return f"newsletter {sent.number} of community {community_id}: {sent.queued} queued"

        report.attempt(f"newsletter of community {community_id}", run)
