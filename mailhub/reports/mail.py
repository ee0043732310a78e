"""The monthly report mail to a community's moderators: the four reports of the month
before, as aligned plain text and as HTML tables (styles inline, bars drawn with table
cells, since mail clients drop SVG, scripts and most CSS), with a link to the page.

Each moderator gets it once per period (the outbox's dedup key), however often the
scheduler runs; figures are exact, as on the page: the mail goes to moderators only.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from mailhub.context import Context
from mailhub.models import Community, OutboundMessage, Person
from mailhub.moderation.team import moderators
from mailhub.outbound.compose import owner_reply_to, send_notice, staff_notice
from mailhub.portal import links
from mailhub.rendering import render
from mailhub.reports import figures, output
from mailhub.reports.queries import Period


def first_and_last_day(community: Community, period: Period) -> tuple[date, date]:
    """The period's days as the community's moderators count them, in its zone."""
    zone = ZoneInfo(community.timezone)
    first = period.since.astimezone(zone).date()
    return first, (period.until.astimezone(zone) - timedelta(days=1)).date()


def dedup_key(community: Community, period: Period, person_id: int | None) -> str:
    first, _ = first_and_last_day(community, period)
    return f"report:{community.id}:{first.isoformat()}:{person_id}"


def unsent(session: Session, community: Community, period: Period) -> list[Person]:
    """The moderators not yet sent this period's report: one look-up by the unique dedup
    keys, so a scheduler that wakes every 30 s builds no report for nothing."""
    wanted = {dedup_key(community, period, m.id): m for m in moderators(session, community)}
    if not wanted:
        return []
    query = select(OutboundMessage.dedup_key).where(col(OutboundMessage.dedup_key).in_(wanted))
    sent = set(session.exec(query))
    return [person for key, person in wanted.items() if key not in sent]


def send_reports(ctx: Context, session: Session, community: Community, period: Period) -> int:
    """Queue the period's report to each of the community's moderators; how many."""
    waiting = unsent(session, community, period)
    if not waiting:
        return 0
    core = ctx.settings.reports.core_posts
    reports = [figures.build(session, community, k, period, core) for k in figures.REPORTS]
    first_day, last_day = first_and_last_day(community, period)
    month = first_day.strftime("%B %Y")
    base = links.base_url(ctx.settings)
    # The page counts days in UTC: these are the same days, give or take the zone's hours.
    path = links.reports_path(community.slug, str(first_day), str(last_day))
    page = base + path if base else None
    values = {
        "community": community,
        "reports": reports,
        "month": month,
        "since": first_day,
        "last_day": last_day,
        "page": page,
        "text_table": output.text_table,
        "bar_width": bar_width,
        "core_posts": core,
    }
    override = ctx.settings.templates_override
    text = render("reports/monthly.txt", override, **values)
    html = render("reports/monthly.html", override, **values)
    book = ctx.address_book(session)
    queued = 0
    for moderator in waiting:
        notice = staff_notice(
            community,
            moderator,
            f"Participation report, {month}",
            kind="report",
            dedup_key=dedup_key(community, period, moderator.id),
            reply_to=owner_reply_to(book, community),
        )
        queued += send_notice(ctx, session, community, replace(notice, text=text, html=html))
    return queued


def bar_width(share: object, scale: float = 2.0) -> int:
    """Pixels of a bar for a percentage in the HTML mail (0 for none)."""
    return round(share * scale) if isinstance(share, int | float) else 0
