"""Cron lines of every schedule (digests, newsletters, event digests): when one last fired,
in a community's time zone.

The cron line is read by APScheduler's `CronTrigger.from_crontab` (minute hour day month
day-of-week), so day-of-week numbers count from Monday = 0; names (`mon`, `fri`) are
clearer and mean the same everywhere.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from apscheduler.triggers.cron import CronTrigger

# Look back this far, widening, for the last firing: a day covers daily schedules at once,
# a year the rarest (yearly) ones.
WINDOWS = (timedelta(days=1), timedelta(days=8), timedelta(days=32), timedelta(days=367))


def trigger(cron: str, zone: str) -> CronTrigger:
    """The trigger of a cron line; raises ValueError when the line cannot be read."""
    # APScheduler is imported when a cron line is read: loading the settings of a command
    # that reads none (`mailhub member list`) is 70 ms faster without it.
    from apscheduler.triggers.cron import CronTrigger

    return CronTrigger.from_crontab(cron, timezone=ZoneInfo(zone))


def last_due(cron: str, zone: str, now: datetime) -> datetime | None:
    """The latest firing of ``cron`` at or before ``now`` (UTC), None if none in a year."""
    schedule = trigger(cron, zone)
    for window in WINDOWS:
        found = None
        at = schedule.get_next_fire_time(None, now - window)
        while at is not None and at <= now:
            found = at
            at = schedule.get_next_fire_time(at, at + timedelta(seconds=1))
        if found is not None:
            return found.astimezone(UTC)
    return None


def next_due(cron: str, zone: str, now: datetime) -> datetime | None:
    """The first firing of ``cron`` after ``now`` (UTC), None if it never fires again."""
    at = trigger(cron, zone).get_next_fire_time(None, now + timedelta(seconds=1))
    return at.astimezone(UTC) if at is not None else None
