"""The scheduler's report job: when `[reports] cron` fires (in each community's time zone,
e.g. 08:00 on the 1st), mail each community's moderators the report of the calendar month
before that moment, once: the outbox's dedup key per moderator and month is the marker, and
a run finding every key queued builds nothing."""

from __future__ import annotations

from datetime import datetime

from mailhub.communities import community_ids
from mailhub.context import Context
from mailhub.cron import last_due
from mailhub.due import DueReport
from mailhub.models import Community
from mailhub.reports.mail import send_reports
from mailhub.reports.periods import month_before


def send_due(ctx: Context, community_id: int, now: datetime) -> int:
    """Queue the community's report due at ``now`` to the moderators without it yet."""
    with ctx.session() as session:
        community = session.get(Community, community_id)
        assert community is not None
        due_at = last_due(ctx.settings.reports.cron, community.timezone, now)
        if due_at is None:
            return 0
        return send_reports(ctx, session, community, month_before(due_at, community.timezone))


def reports_due(ctx: Context, now: datetime, report: DueReport) -> None:
    """Each community's monthly report, when `[reports] cron` says it is due."""
    if not ctx.settings.reports.cron:
        return
    with ctx.session() as session:
        ids = community_ids(session)
    for community_id in ids:

        def send(community_id: int = community_id) -> str | None:
            queued = send_due(ctx, community_id, now)
            return f"report of community {community_id}: {queued} queued" if queued else None

        report.attempt(f"report of community {community_id}", send)
