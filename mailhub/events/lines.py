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


@dataclass(frozen=True)
class FieldNames:
    """What the person wrote each field as, for problems they can find: a mail's lines or
    the CLI's options."""

    starts: str = "Starts"
    ends: str = "Ends"
    link: str = "Link"
    no_title: str = "no title: add a line such as 'Title: Social dialogue forum' or a subject"
    no_start: str = f"no start time: add a line such as '{STARTS_EXAMPLE}'"


MAIL_LINES = FieldNames()
CLI_OPTIONS = FieldNames(
    starts="--starts",
    ends="--ends",
    link="--url",
    no_title="--title: the event needs a name",
    no_start="--starts: the event needs a start, e.g. '2026-05-12 09:30'",
)


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


def build_event(
    found: dict[str, str],
    subject: str,
    description: str,
    zone: str,
    names: FieldNames = MAIL_LINES,
) -> EventFields:
    """Check the fields together (an end after the start, a real link) and collect problems,
    each naming the field as the person wrote it (``names``)."""
    problems: list[str] = []
    title = found.get("title", "").strip() or subject.strip()
    if not title:
        problems.append(names.no_title)
    starts: tuple[datetime, str] | None = None
    if not found.get("starts"):
        problems.append(names.no_start)
    else:
        try:
            starts = read_time(found["starts"], zone)
        except BadTime as exc:
            problems.append(f"{names.starts}: {exc}")
    ends_at = None
    if found.get("ends") and starts is not None:
        try:
            ends_at = read_end(found["ends"], *starts)[0]
            if ends_at < starts[0]:
                problems.append(f"{names.ends}: the event ends before it starts")
        except BadTime as exc:
            problems.append(f"{names.ends}: {exc}")
    url = None
    if found.get("link"):
        try:
            url = check_url(found["link"], names.link)
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
