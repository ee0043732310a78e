"""`mailhub news` and `mailhub event`: what admins add and list directly.

Admin-added news and events are approved at once; members' submissions by mail wait in the
moderation queue (`mailhub queue`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import typer
from sqlmodel import Session, col, select

from mailhub.cli.common import instance, make_app, out, print_json, print_table
from mailhub.clock import parse_iso
from mailhub.communities import get_community, list_themes
from mailhub.errors import InvalidInput, NotFound
from mailhub.events import digest as eventdigest
from mailhub.events.lines import CLI_OPTIONS, Unreadable, build_event
from mailhub.members import check_themes
from mailhub.models import Community, Event, NewsItem
from mailhub.news import store
from mailhub.times import BadTime, check_future, local_text, read_end, read_time, zone_label
from mailhub.weblinks import check_url

news_app = make_app("News items for the newsletter: add (published at once), list, update, remove.")
event_app = make_app("The event calendar: add (approved at once), list, update, cancel, remove.")

COMMUNITY = typer.Option(..., "--community", "-c", help="Community slug.")
ONLY_COMMUNITY = typer.Option(None, "--community", "-c", help="Only this community.")
THEMES = typer.Option([], "--theme", metavar="SLUG", help="A theme slug (repeat for several).")
AS_JSON = typer.Option(False, "--json", help="Print JSON.")


def _themes(session: Session, values: list[str]) -> tuple[str, ...]:
    try:
        return tuple(check_themes(values, {t.slug for t in list_themes(session)}))
    except InvalidInput as exc:
        raise InvalidInput(f"--theme: {exc}") from None


def _something_to_change(given: dict[str, object]) -> None:
    """An update without a field to change is a mistake, not a success that did nothing."""
    if all(value is None for value in given.values()):
        options = ", ".join(f"--{name}" for name in given)
        raise InvalidInput(f"nothing to change: give at least one of {options} (see --help)")


def community_slugs(session: Session) -> dict[int | None, str]:
    return {c.id: c.slug for c in session.exec(select(Community))}


@news_app.command("add")
def news_add(
    ctx: typer.Context,
    community: str = COMMUNITY,
    title: str = typer.Option(..., help="The headline."),
    body: str = typer.Option("", help="The text."),
    url: str | None = typer.Option(None, help="A link to read more ('' removes it)."),
    theme: list[str] = THEMES,
) -> None:
    """Add a news item, published at once."""
    app = instance(ctx)
    with app.session() as session:
        target = get_community(session, community)
        if not title.strip():
            raise InvalidInput("--title: a news item needs a title")
        link = _link(url)
        fields = store.NewsFields(title.strip(), body, link, _themes(session, theme))
        item = store.add_news(session, target, fields, app.now())
        out.print(f"news item {item.id} added to {target.slug}", markup=False)


def _news_record(item: NewsItem, slugs: dict[int | None, str]) -> dict[str, Any]:
    return {
        "id": item.id,
        "community": slugs.get(item.community_id),
        "title": item.title,
        "url": item.url,
        "themes": item.themes,
        "status": item.status,
        "item": item.post_id,
        "created_at": item.created_at,
        "published_at": item.published_at,
    }


@news_app.command("list")
def news_list(
    ctx: typer.Context,
    community: str | None = ONLY_COMMUNITY,
    status: str | None = typer.Option(None, help="Only this status (held, approved, ...)."),
    as_json: bool = AS_JSON,
) -> None:
    """List news items, newest first."""
    with instance(ctx).session() as session:
        query = select(NewsItem).order_by(col(NewsItem.id).desc())
        if community:
            query = query.where(NewsItem.community_id == get_community(session, community).id)
        if status:
            query = query.where(NewsItem.status == status)
        records = [_news_record(n, community_slugs(session)) for n in session.exec(query)]
    if as_json:
        print_json(records)
        return
    columns = ("id", "community", "status", "title", "url")
    print_table(columns, ([r[c] for c in columns] for r in records))


@event_app.command("add")
def event_add(
    ctx: typer.Context,
    community: str = COMMUNITY,
    title: str = typer.Option(..., help="The event's name."),
    starts: str = typer.Option(
        ...,
        help="Start, e.g. '2026-05-12 09:30' (in the community's zone) or "
        "'2026-05-12 09:30 Asia/Bangkok'.",
    ),
    ends: str | None = typer.Option(None, help="End: a date and time, or a time that day."),
    timezone: str | None = typer.Option(
        None, help="Zone of times written without one (default: the community's)."
    ),
    where: str = typer.Option("", help="Where it takes place."),
    url: str | None = typer.Option(None, help="A link to the event's page."),
    description: str = typer.Option("", help="What it is about."),
    theme: list[str] = THEMES,
    allow_past: bool = typer.Option(
        False, "--allow-past", help="Accept an event that has started (to keep a record)."
    ),
) -> None:
    """Add an event to the calendar, approved at once."""
    app = instance(ctx)
    with app.session() as session:
        target = get_community(session, community)
        try:
            zone = zone_label(timezone or target.timezone)
        except BadTime as exc:
            raise InvalidInput(f"timezone: {exc}") from None
        found = {"title": title, "starts": starts, "ends": ends or "", "where": where}
        found["link"] = url or ""
        try:
            fields = build_event(found, "", description, zone, CLI_OPTIONS)
        except Unreadable as exc:
            raise InvalidInput("; ".join(exc.problems)) from None
        try:
            check_future("--starts", fields.starts_at, app.now(), zone, allow_past)
        except BadTime as exc:
            raise InvalidInput(str(exc)) from None
        fields.themes = list(_themes(session, theme))
        event = store.add_event(app, session, target, fields)
        when = local_text(event.starts_at, event.timezone)
        out.print(f"event {event.id} added to {target.slug}: {when}", markup=False)


def _event_record(event: Event, slugs: dict[int | None, str]) -> dict[str, Any]:
    return {
        "id": event.id,
        "community": slugs.get(event.community_id),
        "uid": event.uid,
        "title": event.title,
        "starts": local_text(event.starts_at, event.timezone),
        "ends": local_text(event.ends_at, event.timezone) if event.ends_at else None,
        "starts_at": event.starts_at,
        "ends_at": event.ends_at,
        "timezone": event.timezone,
        "where": event.location,
        "url": event.url,
        "themes": event.themes,
        "status": event.status,
        "item": event.post_id,
    }


@event_app.command("list")
def event_list(
    ctx: typer.Context,
    community: str | None = ONLY_COMMUNITY,
    upcoming: bool = typer.Option(False, "--upcoming", help="Only events not yet started."),
    status: str | None = typer.Option(None, help="Only this status (held, approved, ...)."),
    as_json: bool = AS_JSON,
) -> None:
    """List events by start time."""
    app = instance(ctx)
    with app.session() as session:
        query = select(Event).order_by(col(Event.starts_at), col(Event.id))
        if community:
            query = query.where(Event.community_id == get_community(session, community).id)
        if upcoming:
            query = query.where(Event.starts_at >= app.now())
        if status:
            query = query.where(Event.status == status)
        records = [_event_record(e, community_slugs(session)) for e in session.exec(query)]
    if as_json:
        print_json(records)
        return
    columns = ("id", "community", "status", "starts", "title", "where")
    print_table(columns, ([r[c] for c in columns] for r in records))


@event_app.command("cancel")
def event_cancel(
    ctx: typer.Context, event_id: int = typer.Argument(..., help="The event's id.")
) -> None:
    """Mark an event cancelled (its calendar file then says CANCELLED)."""
    with instance(ctx).session() as session:
        event = store.cancel_event(session, event_id)
        out.print(f"event {event.id} cancelled: {event.title}", markup=False)


def _link(url: str | None) -> str | None:
    try:
        return check_url(url, "--url") if url else None
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None


def _said(changed: list[str]) -> str:
    return f"changed {', '.join(changed)}" if changed else "nothing changed"


@news_app.command("update")
def news_update(
    ctx: typer.Context,
    item_id: int = typer.Argument(..., help="The news item's id."),
    title: str | None = typer.Option(None, help="The headline."),
    body: str | None = typer.Option(None, help="The text."),
    url: str | None = typer.Option(None, help="A link to read more ('' removes it)."),
    theme: list[str] | None = typer.Option(
        None, "--theme", metavar="SLUG", help="Theme slugs (replace)."
    ),
) -> None:
    """Change a news item (the fields given)."""
    _something_to_change({"title": title, "body": body, "url": url, "theme": theme})
    with instance(ctx).session() as session:
        if title is not None and not title.strip():
            raise InvalidInput("--title: a news item needs a title")
        changes = {
            "title": title.strip() if title else None,
            "body": body,
            "url": store.CLEAR if url == "" else _link(url),
            "themes": list(_themes(session, theme)) if theme else None,
        }
        item, changed = store.update_item(session, NewsItem, item_id, changes)
    out.print(f"news item {item.id}: {_said(changed)}", markup=False)


@news_app.command("remove")
def news_remove(
    ctx: typer.Context, item_id: int = typer.Argument(..., help="The news item's id.")
) -> None:
    """Remove a news item for good."""
    with instance(ctx).session() as session:
        title = store.remove_item(session, NewsItem, item_id)
    out.print(f"news item {item_id} removed: {title}", markup=False)


@event_app.command("update")
def event_update(
    ctx: typer.Context,
    event_id: int = typer.Argument(..., help="The event's id."),
    title: str | None = typer.Option(None, help="The event's name."),
    starts: str | None = typer.Option(
        None, help="Start; a time without a zone is in the event's zone."
    ),
    ends: str | None = typer.Option(None, help="End: a date and time, or a time that day."),
    where: str | None = typer.Option(None, help="Where it takes place."),
    url: str | None = typer.Option(None, help="A link to the event's page ('' removes it)."),
    description: str | None = typer.Option(None, help="What it is about."),
    theme: list[str] | None = typer.Option(
        None, "--theme", metavar="SLUG", help="Theme slugs (replace)."
    ),
    allow_past: bool = typer.Option(False, "--allow-past", help="Accept a start already past."),
) -> None:
    """Change an event (the fields given); calendars that imported it see the change."""
    given = {"title": title, "starts": starts, "ends": ends, "where": where, "url": url}
    _something_to_change({**given, "description": description, "theme": theme})
    app = instance(ctx)
    with app.session() as session:
        event = session.get(Event, event_id)
        if event is None:
            raise NotFound(f"no event {event_id}")
        changes: dict[str, Any] = {
            "title": title.strip() if title else None,
            "location": where,
            "url": store.CLEAR if url == "" else _link(url),
            "description": description,
            "themes": list(_themes(session, theme)) if theme else None,
        }
        changes.update(_moved(event, starts, ends, app.now(), allow_past))
        _event, changed = store.update_item(session, Event, event_id, changes)
    out.print(f"event {event_id}: {_said(changed)}", markup=False)


def _moved(
    event: Event, starts: str | None, ends: str | None, now: datetime, allow_past: bool
) -> dict[str, Any]:
    """The new start, zone and end of an event being changed. A new start without a new
    end moves the end with it (the event keeps its length); a time without a zone is in
    the event's zone."""
    changes: dict[str, Any] = {}
    start, zone = event.starts_at, event.timezone
    if starts is not None:
        try:
            start, zone = read_time(starts, event.timezone)
        except BadTime as exc:
            raise InvalidInput(f"--starts: {exc}") from None
        try:
            check_future("--starts", start, now, zone, allow_past)
        except BadTime as exc:
            raise InvalidInput(str(exc)) from None
        changes["starts_at"], changes["timezone"] = start, zone
    if ends is not None:
        try:
            changes["ends_at"] = read_end(ends, start, zone)[0]
        except BadTime as exc:
            raise InvalidInput(f"--ends: {exc}") from None
    elif starts is not None and event.ends_at is not None:
        changes["ends_at"] = start + (event.ends_at - event.starts_at)
    return changes


@event_app.command("remove")
def event_remove(
    ctx: typer.Context, event_id: int = typer.Argument(..., help="The event's id.")
) -> None:
    """Remove an event for good (to tell calendars it is off, cancel it instead)."""
    with instance(ctx).session() as session:
        title = store.remove_item(session, Event, event_id)
    out.print(f"event {event_id} removed: {title}", markup=False)


@event_app.command("digest")
def event_digest(
    ctx: typer.Context,
    community: str = COMMUNITY,
    weeks: int | None = typer.Option(
        None,
        "--weeks",
        min=1,
        metavar="WEEKS",
        help="Events starting in this many weeks (default: [events] digest_weeks).",
    ),
    now: str | None = typer.Option(
        None, "--now", metavar="TIME", help="Act as if it were this ISO 8601 time."
    ),
    allow_past: bool = typer.Option(
        False, "--allow-past", help="Accept a --now already past (events over by today)."
    ),
) -> None:
    """Mail the upcoming events, each with its .ics, to every member who receives mail."""
    app = instance(ctx)
    with app.session() as session:
        target = get_community(session, community)
        community_id, zone = target.id or 0, target.timezone
    at = app.now()
    if now is not None:
        try:
            at = parse_iso(now)
        except ValueError:
            raise InvalidInput(f"--now: {now!r} is not an ISO 8601 time") from None
        # The mail goes out today: "upcoming" as of a past day lists events that are over.
        try:
            check_future("--now", at, app.now(), zone, allow_past)
        except BadTime as exc:
            raise InvalidInput(str(exc)) from None
    weeks = weeks or app.settings.events.digest_weeks
    run = eventdigest.send_digest(app, community_id, weeks, at)
    if not run.events:
        out.print(f"no events in the next {weeks} week(s); nothing sent", markup=False)
        return
    out.print(f"{run.events} event(s): {run.queued} queued", markup=False)
