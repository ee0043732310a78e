"""What goes into an issue: the period's synopses, active and upcoming discussions,
approved news, upcoming events and new resources, grouped by theme.

An item tagged with several themes is shown once, under its first theme that exists (in
the order themes are listed), so a reader never meets it twice; items without a known
theme go under "Other", last.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from mailhub.models import (
    Discussion,
    DiscussionState,
    Event,
    NewsItem,
    PostStatus,
    Resource,
    Theme,
)
from mailhub.rendering import human_size
from mailhub.times import event_when, local_text
from mailhub.weblinks import web_link

UPCOMING = timedelta(weeks=8)
OTHER = "Other"
# Within a theme, items are shown in this order of kinds.
KINDS = ("Synopsis", "Discussion", "News", "Event", "Resource")


@dataclass(frozen=True)
class Item:
    """One entry as the templates show it; ``link`` is an absolute web address or empty."""

    kind: str
    title: str
    when: str
    text: str
    link: str
    themes: tuple[str, ...]

    def __post_init__(self) -> None:
        # Titles are one line wherever they are shown; texts have plain newlines.
        object.__setattr__(self, "title", " ".join(self.title.split()))
        object.__setattr__(self, "when", " ".join(self.when.split()))
        object.__setattr__(self, "text", self.text.replace("\r\n", "\n").replace("\r", "\n"))


@dataclass
class Section:
    title: str
    items: list[Item] = field(default_factory=list)


def _discussions(
    session: Session, community_id: int, since: datetime, until: datetime, zone: str
) -> list[Item]:
    rows = session.exec(
        select(Discussion)
        .where(Discussion.community_id == community_id)
        .order_by(col(Discussion.id))
    ).all()
    items = []
    for d in rows:
        themes = tuple(d.themes)
        if d.synopsis and d.synopsis_at and since <= d.synopsis_at < until:
            items.append(Item("Synopsis", d.title, "", d.synopsis, "", themes))
        elif d.state == DiscussionState.OPEN.value:
            closes = f"open until {local_text(d.closes_at, zone)}" if d.closes_at else "open"
            items.append(Item("Discussion", d.title, closes, d.question, "", themes))
        elif d.state == DiscussionState.SCHEDULED.value and d.opens_at and d.opens_at >= until:
            opens = f"opens {local_text(d.opens_at, zone)}"
            items.append(Item("Discussion", d.title, opens, d.question, "", themes))
    return items


def _news(session: Session, community_id: int, since: datetime, until: datetime) -> list[Item]:
    rows = session.exec(
        select(NewsItem)
        .where(
            NewsItem.community_id == community_id,
            NewsItem.status == PostStatus.APPROVED.value,
            col(NewsItem.published_at) >= since,
            col(NewsItem.published_at) < until,
        )
        .order_by(col(NewsItem.published_at), col(NewsItem.id))
    ).all()
    return [Item("News", n.title, "", n.body, web_link(n.url), tuple(n.themes)) for n in rows]


def upcoming_events(
    session: Session, community_id: int, start: datetime, end: datetime
) -> list[Event]:
    """Approved events starting in [start, end), soonest first."""
    return list(
        session.exec(
            select(Event)
            .where(
                Event.community_id == community_id,
                Event.status == PostStatus.APPROVED.value,
                col(Event.starts_at) >= start,
                col(Event.starts_at) < end,
            )
            .order_by(col(Event.starts_at), col(Event.id))
        ).all()
    )


def when_text(event: Event, zone: str) -> str:
    """Start (and end) in the reader's zone (and the event's own), and where."""
    when = event_when(event.starts_at, event.ends_at, event.timezone, zone)
    return f"{when}, {event.location}" if event.location else when


def _events(session: Session, community_id: int, until: datetime, zone: str) -> list[Item]:
    return [
        Item("Event", e.title, when_text(e, zone), e.description, web_link(e.url), tuple(e.themes))
        for e in upcoming_events(session, community_id, until, until + UPCOMING)
    ]


def _resources(session: Session, community_id: int, since: datetime, until: datetime) -> list[Item]:
    rows = session.exec(
        select(Resource)
        .where(
            Resource.community_id == community_id,
            col(Resource.created_at) >= since,
            col(Resource.created_at) < until,
        )
        .order_by(col(Resource.created_at), col(Resource.id))
    ).all()
    return [
        Item(
            "Resource", r.title, _resource_line(r), r.description, web_link(r.url), tuple(r.themes)
        )
        for r in rows
    ]


def _resource_line(resource: Resource) -> str:
    """The kind, and for a file its name, size and type (a link is the item's link)."""
    if not resource.sha256:
        return resource.kind
    size = human_size(resource.size or 0)
    return f"{resource.kind}: {resource.filename} ({size}, {resource.content_type})"


def gather(
    session: Session, community_id: int, since: datetime, until: datetime, zone: str
) -> list[Section]:
    """The issue's sections, themes in their listed order, "Other" last; empty ones left out."""
    items = [
        *_discussions(session, community_id, since, until, zone),
        *_news(session, community_id, since, until),
        *_events(session, community_id, until, zone),
        *_resources(session, community_id, since, until),
    ]
    themes = session.exec(select(Theme).order_by(col(Theme.id))).all()
    sections = {t.slug: Section(t.name) for t in themes}
    other = Section(OTHER)
    for item in items:
        slug = next((s for s in item.themes if s in sections), None)
        (sections[slug] if slug else other).items.append(item)
    ordered = [s for s in [*sections.values(), other] if s.items]
    for section in ordered:
        section.items.sort(key=lambda i: KINDS.index(i.kind))
    return ordered
