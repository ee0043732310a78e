"""The period a report covers: days as people write them (`--since 2027-01-01 --until
2027-03-31`, both included, UTC), or the calendar month before a moment, in a community's
zone, for the monthly mail."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from mailhub.errors import InvalidInput
from mailhub.reports.queries import Period

DEFAULT_DAYS = 365


def _day(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(f"{option}: {value!r} is not a day such as 2027-03-31") from None


def from_days(since: str | None, until: str | None, now: datetime) -> Period:
    """``since`` and ``until`` included; by default the year up to today."""
    last = _day(until, "--until") if until else now.astimezone(UTC).date()
    first = _day(since, "--since") if since else last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise InvalidInput(f"--since {first} is after --until {last}")
    start = datetime.combine(first, datetime.min.time(), UTC)
    return Period(start, datetime.combine(last + timedelta(days=1), datetime.min.time(), UTC))


def month_before(now: datetime, zone: str) -> Period:
    """The whole calendar month before the one ``now`` falls in, in the zone ``zone``."""
    here = now.astimezone(ZoneInfo(zone))
    end = here.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    start = (end - timedelta(days=1)).replace(day=1)
    return Period(start.astimezone(UTC), end.astimezone(UTC))
