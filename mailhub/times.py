"""Reading the times people write (`2026-05-12 09:30 Asia/Bangkok`) into UTC and a zone.

One rule everywhere (event lines by mail, `event add`, `discussion create`): a time written
without a zone is in the community's zone. An event keeps the zone it was announced in, so a
calendar file can show it as the organisers meant it; a written offset (`+07:00`) is kept as
a fixed zone named `UTC+07:00`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

FORMAT_HINT = (
    "expected YYYY-MM-DD HH:MM, optionally followed by a time zone such as Asia/Bangkok or +07:00"
)
_MOMENT = re.compile(r"^(\d{4}-\d{1,2}-\d{1,2})(?:[ T]+|\s*,\s*)(\d{1,2}[:.h]\d{2})\s*(.*)$")
_CLOCK = re.compile(r"^(\d{1,2}[:.h]\d{2})\s*(.*)$")
_OFFSET = re.compile(r"^(?:UTC|GMT)?\s*([+-])(\d{1,2})(?::?(\d{2}))?$", re.IGNORECASE)


class BadTime(ValueError):
    """A time that cannot be read; the message says what was wrong."""


def zone_named(name: str) -> tzinfo:
    """The zone an event's stored `timezone` names: an IANA name, UTC, or `UTC+03:00`."""
    text = name.strip()
    if text.upper() in ("", "UTC", "Z", "GMT"):
        return UTC
    offset = _OFFSET.match(text)
    if offset:
        sign = -1 if offset.group(1) == "-" else 1
        hours, minutes = int(offset.group(2)), int(offset.group(3) or 0)
        if hours > 14 or minutes > 59:
            raise BadTime(f"offset {name!r} is out of range")
        return timezone(sign * timedelta(hours=hours, minutes=minutes))
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadTime(f"unknown time zone {name!r} (expected e.g. Asia/Bangkok)") from None


def zone_label(name: str) -> str:
    """The name to store for a zone: IANA names as written, offsets as `UTC+03:00`."""
    zone = zone_named(name)
    if isinstance(zone, ZoneInfo):
        return zone.key
    delta = zone.utcoffset(None) or timedelta(0)
    if not delta:
        return "UTC"
    sign = "-" if delta < timedelta(0) else "+"
    minutes = abs(int(delta.total_seconds())) // 60
    return f"UTC{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _clock(text: str) -> tuple[int, int]:
    hours, minutes = re.split(r"[:.h]", text)
    return int(hours), int(minutes)


def _at(day: str, clock: str, zone_text: str, default_zone: str) -> tuple[datetime, str]:
    label = zone_label(zone_text or default_zone)
    try:
        year, month, date = (int(p) for p in day.split("-"))
        hours, minutes = _clock(clock)
        local = datetime(year, month, date, hours, minutes, tzinfo=zone_named(label))
    except ValueError:
        raise BadTime(f"{day} {clock} is not a real date and time") from None
    return local.astimezone(UTC), label


def read_time(text: str, default_zone: str) -> tuple[datetime, str]:
    """A written moment as (UTC datetime, zone label); `default_zone` when none is written."""
    match = _MOMENT.match(text.strip())
    if not match:
        raise BadTime(f"cannot read {text.strip()!r}: {FORMAT_HINT}")
    return _at(match.group(1), match.group(2), match.group(3).strip(), default_zone)


def read_end(text: str, start: datetime, start_zone: str) -> tuple[datetime, str]:
    """An end time: a full moment, or only a clock time on the start's day and zone."""
    clock = _CLOCK.match(text.strip())
    if clock:
        day = start.astimezone(zone_named(start_zone)).date().isoformat()
        return _at(day, clock.group(1), clock.group(2).strip(), start_zone)
    return read_time(text, start_zone)


def human(moment: datetime, zone: str, fmt: str = "%A %d %B %Y, %H:%M") -> str:
    """How a time reads in a mail: in the reader's community's zone, with the zone's
    abbreviation ("Thursday 10 December 2026, 11:00 EAT"); zones that have none in the
    time zone database (Asia/Bangkok's is "+07") read "UTC+07"."""
    local = moment.astimezone(zone_named(zone))
    return f"{local.strftime(fmt)} {abbreviation(local)}"


def abbreviation(local: datetime) -> str:
    name = local.strftime("%Z")
    return f"UTC{name}" if name[:1] in "+-" else name


def event_when(starts: datetime, ends: datetime | None, event_zone: str, zone: str) -> str:
    """An event's time in the reader's zone ("Sunday 20 December 2026, 09:30 to 17:00
    UTC+07"), and in the event's own zone too when that differs."""
    when = human(starts, zone)
    if ends is not None:
        same_day = (
            starts.astimezone(zone_named(zone)).date() == ends.astimezone(zone_named(zone)).date()
        )
        end = human(ends, zone, "%H:%M" if same_day else "%A %d %B %Y, %H:%M")
        when = f"{when.rsplit(' ', 1)[0]} to {end}"
    here, there = starts.astimezone(zone_named(zone)), starts.astimezone(zone_named(event_zone))
    if here.utcoffset() != there.utcoffset():
        when += f" ({there:%H:%M} {abbreviation(there)} where it takes place)"
    return when


def local_text(moment: datetime, zone: str) -> str:
    """How a stored time reads to people: local time and the zone's name."""
    return f"{moment.astimezone(zone_named(zone)):%Y-%m-%d %H:%M} {zone}"


def read_moment(text: str, default_zone: str) -> datetime:
    """A moment in UTC from ISO 8601 (`2026-03-02T08:00`, with or without seconds and an
    offset) or as people write it (`2026-03-02 08:00 Asia/Bangkok`); `default_zone` when
    none is written."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return read_time(text, default_zone)[0]
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone_named(default_zone))
    return value.astimezone(UTC)


def check_future(name: str, moment: datetime, now: datetime, zone: str, allow_past: bool) -> None:
    """Refuse a moment already past (a discussion that would open and close at once, an event
    that is over) unless the person said so; BadTime names the option."""
    if moment < now and not allow_past:
        raise BadTime(
            f"{name}: {local_text(moment, zone)} is in the past (it is now "
            f"{local_text(now, zone)}); give --allow-past if that is meant"
        )
