"""Building a numbered newsletter issue: gather the period's items, render text and HTML
once, and keep both in a draft `NewsletterIssue` until it is sent.

Issues of a community are numbered 1, 2, 3, ... (unique per community); a period starts
where the previous issue's ended, so nothing falls between two issues.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from mailhub import rendering
from mailhub.addresses import Kind
from mailhub.context import Context
from mailhub.errors import InvalidInput, NotFound
from mailhub.models import Community, NewsletterIssue
from mailhub.newsletter.contents import Section, gather
from mailhub.outbound.leave import leave_marker, leave_words
from mailhub.portal import links as portal_links

FIRST_PERIOD = timedelta(days=30)
DRAFT, SENT = "draft", "sent"
# An issue is kept rendered until it is sent, its unsubscribe link holding this mark where
# each copy puts its member's token; fixed, as it must be found again at sending. A member
# who wrote it in a news item would only show each reader their own link.
LEAVE_MARK = "mhleave"


@dataclass(frozen=True)
class Shown:
    """What the templates get."""

    community: str
    number: int
    title: str
    date: str
    sections: list[Section]

    @property
    def count(self) -> int:
        return sum(len(s.items) for s in self.sections)


def next_number(session: Session, community_id: int) -> int:
    found = session.exec(
        select(func.max(NewsletterIssue.number)).where(NewsletterIssue.community_id == community_id)
    ).first()
    return (found or 0) + 1


def default_since(session: Session, community_id: int, until: datetime) -> datetime:
    """The previous issue's end, or 30 days before ``until`` for the first issue."""
    last = session.exec(
        select(NewsletterIssue)
        .where(NewsletterIssue.community_id == community_id)
        .order_by(col(NewsletterIssue.number).desc())
    ).first()
    return last.until if last else until - FIRST_PERIOD


def links(ctx: Context, session: Session, community: Community) -> dict[str, str]:
    """The addresses and archive link every footer names: commands, and where news and
    events for the next issue are sent."""
    book = ctx.address_book(session)
    return {
        "request": book.address(community.slug, Kind.REQUEST),
        "news": book.address(community.slug, Kind.NEWS),
        "events": book.address(community.slug, Kind.EVENTS),
        "archive": portal_links.archive_url(ctx.settings, community) or "",
    }


def build(
    ctx: Context, session: Session, community: Community, until: datetime, since: datetime | None
) -> NewsletterIssue:
    """A new draft issue covering [since, until) in the caller's transaction."""
    assert community.id is not None
    since = since or default_since(session, community.id, until)
    if since >= until:
        raise InvalidInput(f"the period must end after it starts ({since:%Y-%m-%d %H:%M} UTC)")
    number = next_number(session, community.id)
    date = rendering.local_time(until, community.timezone, "%d %B %Y")
    shown = Shown(
        community=community.name,
        number=number,
        title=f"{community.name} newsletter no. {number}, {date}",
        date=date,
        sections=gather(session, community.id, since, until, community.timezone),
    )
    override = ctx.settings.templates_override
    extra = links(ctx, session, community)
    extra |= leave_words(ctx.settings, community.name, leave_marker(LEAVE_MARK))
    issue = NewsletterIssue(
        community_id=community.id,
        number=number,
        title=shown.title,
        since=since,
        until=until,
        text=rendering.render("newsletter/newsletter.txt", override, issue=shown, **extra),
        html=rendering.render("newsletter/newsletter.html", override, issue=shown, **extra),
        state=DRAFT,
        built_at=ctx.now(),
    )
    session.add(issue)
    session.flush()
    return issue


def find(session: Session, community_id: int, number: int) -> NewsletterIssue:
    issue = session.exec(
        select(NewsletterIssue).where(
            NewsletterIssue.community_id == community_id, NewsletterIssue.number == number
        )
    ).first()
    if issue is None:
        raise NotFound(f"no newsletter issue {number}")
    return issue


def listed(session: Session, community_id: int) -> list[NewsletterIssue]:
    return list(
        session.exec(
            select(NewsletterIssue)
            .where(NewsletterIssue.community_id == community_id)
            .order_by(col(NewsletterIssue.number))
        ).all()
    )
