"""The one place mailhub reads the time, so tests and `run-due --now` can move it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta


def system_now() -> datetime:
    """The real time, timezone-aware in UTC."""
    return datetime.now(UTC)


class Clock:
    """A callable clock; the default reads the system time, a fixed one serves tests."""

    def __init__(self, source: Callable[[], datetime] = system_now) -> None:
        self._source = source

    def now(self) -> datetime:
        value = self._source()
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def __call__(self) -> datetime:
        return self.now()

    def queue_time(self) -> datetime:
        """When what is made now may leave: a mail queued is due at this time."""
        return self.now()


class FrozenClock(Clock):
    """A clock that stays where it is told, for tests and for replaying a schedule."""

    def __init__(self, at: datetime) -> None:
        self._at = at if at.tzinfo else at.replace(tzinfo=UTC)
        super().__init__(lambda: self._at)

    def set(self, at: datetime) -> None:
        self._at = at if at.tzinfo else at.replace(tzinfo=UTC)

    def advance(self, delta: timedelta) -> datetime:
        self._at = self._at + delta
        return self._at


class Anticipating(FrozenClock):
    """A moment to decide what is due (`run-due --now`, a scheduler tick), whose mail is
    nevertheless due no later than the ``real`` clock says: anticipating next Monday sends
    Monday's digest now, not next Monday."""

    def __init__(self, at: datetime, real: Clock) -> None:
        super().__init__(at)
        self.real = real

    def queue_time(self) -> datetime:
        return min(self.now(), self.real.queue_time())


def parse_iso(text: str) -> datetime:
    """Read an ISO-8601 time from a person; a time without a zone is taken as UTC."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
