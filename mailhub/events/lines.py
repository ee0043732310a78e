"""An event written as simple lines in a mail: `Title:`, `Starts:`, `Ends:`, `Where:`, `Link:`.

Every problem is collected, not just the first, so the sender can fix the mail in one go.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from mailhub.times import BadTime, read_end, read_time
from mailhub.weblinks import check_url

FIELD_LINE = re.compile(r"^\s*([A-Za-z]+)\s*:\s*(.*?)\s*$")
KEYS = {
    "title": "title",
    "starts": "starts",
    "start": "starts",
    "ends": "ends",
    "end": "ends",
    "where": "where",
    "location": "where",
    "link": "link",
    "url": "link",
}
STARTS_EXAMPLE = "Starts: 2026-05-12 09:30 Asia/Bangkok"


class Unreadable(ValueError):
    """A submission that cannot be stored; `problems` says each thing missing or wrong."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass
class EventFields:
    """An event as read, before it is stored."""

    title: str
    starts_at: datetime
    timezone: str
    ends_at: datetime | None = None
    location: str = ""
    url: str | None = None
    description: str = ""
    uid: str | None = None
    themes: list[str] = field(default_factory=list)


def read_event_lines(text: str, subject: str, default_zone: str) -> EventFields:
    """Read the field lines of a mail; the other lines become the description."""
    found: dict[str, str] = {}
    rest: list[str] = []
    for line in text.splitlines():
        match = FIELD_LINE.match(line)
        key = KEYS.get(match.group(1).lower()) if match else None
        if match and key and key not in found:
            found[key] = match.group(2)
        else:
            rest.append(line)
    return build_event(found, subject, "\n".join(rest).strip(), default_zone)


def build_event(found: dict[str, str], subject: str, description: str, zone: str) -> EventFields:
    """Check the fields together (an end after the start, a real link) and collect problems."""
    problems: list[str] = []
    title = found.get("title") or subject.strip()
    if not title:
        problems.append("no title: add a line such as 'Title: Social dialogue forum' or a subject")
    starts: tuple[datetime, str] | None = None
    if not found.get("starts"):
        problems.append(f"no start time: add a line such as '{STARTS_EXAMPLE}'")
    else:
        try:
            starts = read_time(found["starts"], zone)
        except BadTime as exc:
            problems.append(f"Starts: {exc}")
    ends_at = None
    if found.get("ends") and starts is not None:
        try:
            ends_at = read_end(found["ends"], *starts)[0]
            if ends_at < starts[0]:
                problems.append("Ends: the event ends before it starts")
        except BadTime as exc:
            problems.append(f"Ends: {exc}")
    url = None
    if found.get("link"):
        try:
            url = check_url(found["link"])
        except ValueError as exc:
            problems.append(str(exc))
    if problems or starts is None:
        raise Unreadable(problems)
    return EventFields(
        title=title[:300],
        starts_at=starts[0],
        timezone=starts[1],
        ends_at=ends_at,
        location=found.get("where", ""),
        url=url,
        description=description,
    )
