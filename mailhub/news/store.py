"""Storing news items and events: approved at once when an admin adds them, held in the
moderation queue when a member sends them.

A held submission is a post of kind "news" or "event" linked from its item, so the queue,
the decision mails, reminders and `mailhub queue` treat it like any held post; approving it
publishes the item and sends nothing to the members (see `publish`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlmodel import Session, select

from mailhub.context import Context
from mailhub.errors import Conflict, InvalidInput, NotFound
from mailhub.events.lines import EventFields
from mailhub.models import Community, Event, NewsItem, Person, Post, PostStatus
from mailhub.moderation.batch import judge
from mailhub.moderation.facts import Candidate
from mailhub.news.publish import community_key, submission_key
from mailhub.search.queue import mark
from mailhub.times import local_text


@dataclass(frozen=True)
class Submitter:
    """Who sent a submission and the message it came in."""

    email: str
    name: str
    person_id: int | None
    message_id: str
    inbound_id: int | None
    full_text: str


@dataclass(frozen=True)
class NewsFields:
    title: str
    body: str = ""
    url: str | None = None
    themes: tuple[str, ...] = ()


def new_uid(ctx: Context) -> str:
    return f"{uuid.uuid4()}@{ctx.settings.instance.domain}"


def add_news(session: Session, community: Community, fields: NewsFields, now: datetime) -> NewsItem:
    """A news item an admin adds: published at once."""
    item = NewsItem(
        community_id=community_key(community),
        title=fields.title,
        body=fields.body,
        url=fields.url,
        themes=list(fields.themes),
        status=PostStatus.APPROVED.value,
        created_at=now,
        published_at=now,
    )
    session.add(item)
    session.flush()
    mark(session, "news", [item.id])
    return item


def _event_row(ctx: Context, community: Community, fields: EventFields, status: str) -> Event:
    return Event(
        community_id=community_key(community),
        uid=fields.uid or new_uid(ctx),
        title=fields.title,
        description=fields.description,
        starts_at=fields.starts_at,
        ends_at=fields.ends_at,
        timezone=fields.timezone,
        location=fields.location,
        url=fields.url,
        themes=list(fields.themes),
        status=status,
        created_at=ctx.now(),
    )


def uid_taken(session: Session, uid: str | None) -> bool:
    return (
        uid is not None
        and session.exec(select(Event.id).where(Event.uid == uid)).first() is not None
    )


def add_event(ctx: Context, session: Session, community: Community, fields: EventFields) -> Event:
    """An event an admin adds: approved at once."""
    if uid_taken(session, fields.uid):
        raise Conflict(f"an event with UID {fields.uid} exists already")
    event = _event_row(ctx, community, fields, PostStatus.APPROVED.value)
    session.add(event)
    session.flush()
    mark(session, "event", [event.id])
    return event


def cancel_event(session: Session, event_id: int) -> Event:
    event = session.get(Event, event_id)
    if event is None:
        raise NotFound(f"no event {event_id}")
    if event.status == "cancelled":
        raise Conflict(f"event {event_id} is cancelled already")
    event.status = "cancelled"
    session.add(event)
    mark(session, "event", [event.id])
    return event


def _found(session: Session, model: type[NewsItem] | type[Event], item_id: int) -> Any:
    item = session.get(model, item_id)
    if item is None:
        raise NotFound(f"no {'news item' if model is NewsItem else 'event'} {item_id}")
    return item


# A change that empties an optional field (an item's link), where None means "unchanged".
CLEAR: Final = object()


def update_item(
    session: Session, model: type[NewsItem] | type[Event], item_id: int, changes: dict[str, Any]
) -> tuple[NewsItem | Event, list[str]]:
    """Change the given fields of a news item or event (None: leave as it is; CLEAR: empty
    it); the names of the fields that changed. Themes are checked by the caller; an event
    keeps its uid, so a calendar that imported it updates it."""
    item = _found(session, model, item_id)
    changed = []
    for key, value in changes.items():
        if value is None:
            continue
        wanted = None if value is CLEAR else value
        if getattr(item, key) != wanted:
            setattr(item, key, wanted)
            changed.append(key)
    if isinstance(item, Event) and item.ends_at is not None and item.ends_at < item.starts_at:
        raise InvalidInput("ends: the end is before the start")
    session.add(item)
    mark(session, "news" if model is NewsItem else "event", [item_id])
    return item, changed


def remove_item(session: Session, model: type[NewsItem] | type[Event], item_id: int) -> str:
    """Delete a news item or event for good (its submission post, if any, stays in the
    queue's history); its title."""
    item = _found(session, model, item_id)
    title = str(item.title)
    session.delete(item)
    session.flush()
    mark(session, "news" if model is NewsItem else "event", [item_id])
    return title


def _held_post(
    ctx: Context, community: Community, who: Submitter, kind: str, subject: str, text: str
) -> Post:
    now = ctx.now()
    return Post(
        community_id=community_key(community),
        inbound_id=who.inbound_id,
        person_id=who.person_id,
        message_id=submission_key(kind, who.message_id),
        kind=kind,
        author_email=who.email,
        author_name=who.name,
        subject=subject,
        status=PostStatus.HELD.value,
        body_text=text,
        full_text=who.full_text,
        received_at=now,
    )


def _hold(ctx: Context, session: Session, community: Community, post: Post) -> None:
    """A submission meets the same rules as a post (a banned sender's is discarded, a
    non-member's goes by the community's policy); the rule for submissions holds the rest."""
    session.add(post)
    session.flush()
    judge(ctx, session, [Candidate(community, post, len(post.full_text or post.body_text))])


def submit_news(
    ctx: Context, session: Session, community: Community, fields: NewsFields, who: Submitter
) -> NewsItem:
    """A member's news item, held in the moderation queue."""
    text = "\n".join(filter(None, [f"Title: {fields.title}", fields.url and f"Link: {fields.url}"]))
    post = _held_post(
        ctx, community, who, "news", f"News: {fields.title}", f"{text}\n\n{fields.body}"
    )
    _hold(ctx, session, community, post)
    item = NewsItem(
        community_id=community_key(community),
        post_id=post.id,
        person_id=who.person_id,
        title=fields.title,
        body=fields.body,
        url=fields.url,
        themes=list(fields.themes),
        status=PostStatus.HELD.value,
        created_at=ctx.now(),
    )
    session.add(item)
    session.flush()
    return item


def describe_event(event: EventFields, now: datetime) -> str:
    """The event as the moderator reads it in the queue and the held notice; a start
    already past when it came is said, so that an old event is not published as coming."""
    starts = local_text(event.starts_at, event.timezone)
    if event.starts_at < now:
        starts += " (already past when it was sent)"
    lines = [f"Title:  {event.title}", f"Starts: {starts}"]
    if event.ends_at:
        lines.append(f"Ends:   {local_text(event.ends_at, event.timezone)}")
    lines += [
        f"Where:  {event.location}" if event.location else "",
        (event.url and f"Link:   {event.url}") or "",
    ]
    return "\n".join(line for line in lines if line) + (
        "\n\n" + event.description if event.description else ""
    )


def submit_event(
    ctx: Context, session: Session, community: Community, fields: EventFields, who: Submitter
) -> Event:
    """A member's event, held in the moderation queue."""
    post = _held_post(
        ctx, community, who, "event", f"Event: {fields.title}", describe_event(fields, ctx.now())
    )
    _hold(ctx, session, community, post)
    event = _event_row(ctx, community, fields, PostStatus.HELD.value)
    event.post_id = post.id
    event.person_id = who.person_id
    session.add(event)
    session.flush()
    return event


def person_by_email(session: Session, email: str) -> Person | None:
    return session.exec(select(Person).where(Person.email == email)).first()
