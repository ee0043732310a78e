"""Who is a member of what, as plain records: the one member query of `member list` and
`member show`.

Listing is what admins' scripts call most, and its start-up was nearly all imports (issue
14: 1.1 s of CPU, of which SQLAlchemy is 0.4 s and the SQLModel models 0.3 s). So the query
is one SQL text with named parameters that both Python's own sqlite3 and SQLAlchemy's
`text()` run as they are: on a SQLite store `reader` runs it on sqlite3 and the command
imports neither SQLAlchemy nor the models; on PostgreSQL (or a store not made yet) it runs
through SQLAlchemy, and `member show` runs it on its session's connection.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mailhub.errors import InvalidInput, NotFound

# Runs one statement with its named parameters and returns its rows.
Run = Callable[[str, dict[str, Any]], Sequence[Sequence[Any]]]

FIELDS = (
    "community",
    "email",
    "name",
    "affiliation",
    "country",
    "organisation",
    "role",
    "delivery",
    "moderated",
    "status",
    "themes",
    "only_my_themes",
    "digest_format",
    "event_reminders",
    "joined_at",
    "bounce_score",
)
SELECT = """SELECT c.slug, p.email, p.name, p.affiliation, p.country, p.organisation,
m.role, m.delivery, m.moderated, m.status, m.themes, m.only_my_themes, m.digest_format,
m.event_reminders, m.joined_at, p.bounce_score
FROM membership m JOIN person p ON p.id = m.person_id JOIN community c ON c.id = m.community_id"""
FLAGS = ("moderated", "only_my_themes", "event_reminders")


@dataclass(frozen=True)
class Filters:
    """Which memberships to list; a field left None does not narrow the list. Each is
    matched as stored: ``country`` an upper-case ISO code (see members.check_country)."""

    community: str | None = None
    email: str | None = None
    role: str | None = None
    delivery: str | None = None
    status: str | None = None
    affiliation: str | None = None
    country: str | None = None


def members(run: Run, filters: Filters) -> list[dict[str, Any]]:
    """The memberships ``filters`` selects, by address then community, as plain records
    (the community's slug in ``community``) for tables and JSON."""
    columns = {
        "community": "c.slug",
        "email": "p.email",
        "role": "m.role",
        "delivery": "m.delivery",
        "status": "m.status",
        "affiliation": "p.affiliation",
        "country": "p.country",
    }
    wanted = {name: getattr(filters, name) for name in columns}
    params = {name: value for name, value in wanted.items() if value is not None}
    where = " AND ".join(f"{columns[name]} = :{name}" for name in params)
    sql = SELECT + (f" WHERE {where}" if where else "") + " ORDER BY p.email, c.slug"
    return [_record(row) for row in run(sql, params)]


def _record(row: Sequence[Any]) -> dict[str, Any]:
    """A row as the same record whichever driver read it: sqlite3 gives JSON as text,
    flags as 0 or 1 and times as text, PostgreSQL's driver gives them typed."""
    record = dict(zip(FIELDS, row, strict=True))
    themes = record["themes"]
    record["themes"] = list(json.loads(themes) if isinstance(themes, str) else themes or [])
    for flag in FLAGS:
        record[flag] = bool(record[flag])
    joined = record["joined_at"]
    if isinstance(joined, str):
        joined = datetime.fromisoformat(joined)
    record["joined_at"] = joined.replace(tzinfo=UTC).isoformat() if joined else None
    return record


def community_slugs(run: Run) -> list[str]:
    return [row[0] for row in run("SELECT slug FROM community ORDER BY slug", {})]


def unknown_community(slug: str, known: Iterable[str]) -> NotFound:
    """The error for a community that does not exist, naming those that do."""
    return NotFound(f"no community {slug!r} (known: {', '.join(known) or 'none yet'})")


def choose_community(known: Sequence[str], slug: str | None) -> str:
    """The community a member command acts on: the one named, or the only one there is."""
    if slug:
        if slug not in known:
            raise unknown_community(slug, known)
        return slug
    if len(known) == 1:
        return known[0]
    if not known:
        raise InvalidInput("no community yet: create one with 'mailhub community create'")
    raise InvalidInput("--community is required when there are several communities")


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite store's URL (``sqlite:///relative`` or ``sqlite:////absolute``),
    None for any other store or a URL with options."""
    scheme, sep, rest = url.partition(":///")
    if not sep or scheme not in ("sqlite", "sqlite+pysqlite") or "?" in rest or not rest:
        return None
    return None if rest == ":memory:" else Path(rest)


@contextmanager
def reader(url: str) -> Iterator[Run]:
    """A runner of read statements on the store at ``url``, on sqlite3 when it is a SQLite
    file that exists (a missing one is left to SQLAlchemy, which makes it as before)."""
    path = sqlite_path(url)
    if path is not None and path.is_file():
        connection = sqlite3.connect(path)
        try:
            yield lambda sql, params: connection.execute(sql, params).fetchall()
        finally:
            connection.close()
        return
    from mailhub import db

    engine = db.make_engine(url)
    try:
        with engine.connect() as sa_connection:
            yield on_connection(sa_connection)
    finally:
        engine.dispose()


def on_connection(connection: Any) -> Run:
    """A runner on a SQLAlchemy connection (a session's, say)."""
    from sqlalchemy import text

    return lambda sql, params: connection.execute(text(sql), params).all()
