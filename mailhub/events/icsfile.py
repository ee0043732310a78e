"""Events in and out of iCalendar (`.ics`) files.

In: the first VEVENT of a file a member attached. Out: one VCALENDAR per event, with the
event's own zone (TZID and a VTIMEZONE) when it has an IANA name, else UTC, so calendar
programs show the time the organisers meant.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import icalendar

from mailhub.events.lines import EventFields, Unreadable
from mailhub.models import Event
from mailhub.times import BadTime, zone_label, zone_named
from mailhub.weblinks import check_url

PRODID = "-//mailhub//events//EN"


def _zone_of(value: datetime, default_zone: str) -> str:
    if value.tzinfo is None:
        return default_zone
    key = getattr(value.tzinfo, "key", None)
    if key:
        return str(key)
    minutes = int((value.utcoffset() or timedelta(0)).total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return zone_label(f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}")


def _moment(value: object, zone: str) -> datetime:
    """A DTSTART/DTEND value in UTC; all-day dates start at midnight in the zone."""
    if isinstance(value, datetime):
        local = value if value.tzinfo else value.replace(tzinfo=zone_named(zone))
        return local.astimezone(UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(0), zone_named(zone)).astimezone(UTC)
    raise BadTime("not a date or time")


def read_ics(data: bytes, default_zone: str) -> EventFields:
    """The first event of an `.ics` file; `Unreadable` says what is missing."""
    try:
        calendar = icalendar.Calendar.from_ical(data)
        found = calendar.walk("VEVENT")
    except (ValueError, KeyError, IndexError) as exc:
        raise Unreadable([f"the .ics file cannot be read ({exc})"]) from None
    if not found:
        raise Unreadable(["the .ics file holds no event (no VEVENT)"])
    vevent = found[0]
    problems = []
    title = str(vevent.get("SUMMARY", "")).strip()
    if not title:
        problems.append("the event in the .ics file has no title (SUMMARY)")
    if vevent.get("DTSTART") is None:
        problems.append("the event in the .ics file has no start time (DTSTART)")
    if problems:
        raise Unreadable(problems)
    try:
        start_value = vevent.decoded("DTSTART")
        zone = zone_label(
            _zone_of(start_value, default_zone)
            if isinstance(start_value, datetime)
            else default_zone
        )
        starts_at = _moment(start_value, zone)
        ends_at = _moment(vevent.decoded("DTEND"), zone) if vevent.get("DTEND") else None
    except (BadTime, ValueError, KeyError) as exc:
        raise Unreadable([f"the times in the .ics file cannot be read ({exc})"]) from None
    if ends_at is not None and ends_at < starts_at:
        raise Unreadable(["the event in the .ics file ends before it starts"])
    url = None
    if vevent.get("URL"):
        try:
            url = check_url(str(vevent.get("URL")), "URL")
        except ValueError as exc:
            raise Unreadable([str(exc)]) from None
    return EventFields(
        title=title[:300],
        starts_at=starts_at,
        timezone=zone,
        ends_at=ends_at,
        location=str(vevent.get("LOCATION", "")).strip(),
        url=url,
        description=str(vevent.get("DESCRIPTION", "")).strip(),
        uid=str(vevent.get("UID", "")).strip() or None,
    )


def calendar_for(event: Event) -> bytes:
    """A VCALENDAR holding this one event, ready to attach (text/calendar)."""
    return calendar_of([event])


def calendar_of(events: list[Event], name: str | None = None) -> bytes:
    """A VCALENDAR of these events: one event's file, or a calendar to subscribe to
    (``name`` is what calendar programs call it)."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    if name:
        calendar.add("x-wr-calname", name)
    zoned = False
    for event in events:
        zoned = _add_event(calendar, event) or zoned
    if zoned:
        calendar.add_missing_timezones()
    return bytes(calendar.to_ical())


def _add_event(calendar: icalendar.Calendar, event: Event) -> bool:
    """Add one VEVENT; True when its times are in a named zone (a VTIMEZONE is needed)."""
    vevent = icalendar.Event()
    zone = zone_named(event.timezone)
    shown = zone if isinstance(zone, ZoneInfo) else UTC
    vevent.add("uid", event.uid)
    vevent.add("dtstamp", event.created_at.astimezone(UTC))
    vevent.add("dtstart", event.starts_at.astimezone(shown))
    if event.ends_at is not None:
        vevent.add("dtend", event.ends_at.astimezone(shown))
    # Title and place on one line; only a web address becomes the event's link, as in the
    # newsletter (calendar programs make URL clickable).
    vevent.add("summary", " ".join(event.title.split()))
    if event.location:
        vevent.add("location", " ".join(event.location.split()))
    if event.url and event.url.strip().lower().startswith(("https://", "http://")):
        vevent.add("url", event.url.strip())
    if event.description:
        vevent.add("description", event.description)
    vevent.add("status", "CANCELLED" if event.status == "cancelled" else "CONFIRMED")
    calendar.add_component(vevent)
    return shown is not UTC
