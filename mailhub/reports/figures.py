"""The four reports (participation, discussions, resources, reach) as sections of rows: one
shape that the command line prints as a table, JSON or CSV, the moderators' page and the
monthly mail render, and `masked` makes shareable.

Shares are percentages with one decimal; the balance index of a constituency is its share
of the period's posts over its share of the members (1.0: it speaks as much as its weight;
none when it has no members).
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from sqlmodel import Session

from mailhub.discussions import figures as discussion_figures
from mailhub.models import Community, Discussion, NewsItem, Resource
from mailhub.portal.library import matrix
from mailhub.reports import queries, targets
from mailhub.reports.queries import NOT_A_MEMBER, UNKNOWN, Period

REPORTS = ("participation", "discussions", "resources", "reach")
LEVELS = ("core", "active", "peripheral")
FEWEST_SHOWN = 3
FEW = "< 3"
ALL_THEMES = "(all)"
NO_THEME = "(no theme)"

Cell = str | int | float | None


@dataclass(frozen=True)
class Section:
    """One table of a report. ``guards`` names, for a column, the column counting the
    people behind it: a shareable report shows "< 3" where those are fewer than 3."""

    name: str
    title: str
    columns: tuple[str, ...]
    rows: list[tuple[Cell, ...]]
    guards: dict[str, str] = field(default_factory=dict)

    def records(self) -> list[dict[str, Cell]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    def masked(self) -> Section:
        where = {self.columns.index(c): self.columns.index(g) for c, g in self.guards.items()}

        def mask(row: tuple[Cell, ...]) -> tuple[Cell, ...]:
            def few(i: int) -> bool:
                people = row[where[i]] if i in where else None
                return isinstance(people, int) and 0 < people < FEWEST_SHOWN

            return tuple(FEW if few(i) else cell for i, cell in enumerate(row))

        return replace(self, rows=[mask(row) for row in self.rows])


@dataclass(frozen=True)
class Report:
    kind: str
    community: str
    name: str
    period: Period
    sections: list[Section]

    def section(self, name: str) -> Section:
        return next(s for s in self.sections if s.name == name)

    def masked(self) -> Report:
        return replace(self, sections=[s.masked() for s in self.sections])

    def as_json(self) -> dict[str, Any]:
        return {
            "report": self.kind,
            "community": self.community,
            "since": self.period.since.isoformat(),
            "until": self.period.until.isoformat(),
            **{s.name: s.records() for s in self.sections},
        }


def percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def ordered(keys: Iterable[str]) -> list[str]:
    """Affiliations in their usual order, then "not a member" and "not given"."""
    order = [*targets.AFFILIATIONS, NOT_A_MEMBER, UNKNOWN]
    return sorted(set(keys), key=lambda k: (order.index(k) if k in order else len(order), k))


def _people(columns: Iterable[str]) -> dict[str, str]:
    return {c: c for c in columns}


def participation(
    session: Session, community: Community, period: Period, core_posts: int
) -> list[Section]:
    found = queries.groups(session, community.id or 0, period, core_posts)
    members: dict[str, int] = {}
    posts: dict[str, tuple[int, int]] = {}
    by_place: dict[tuple[str, str], int] = {}
    by_affiliation: dict[str, dict[str, int]] = {}
    by_country: dict[str, dict[str, int]] = {}
    for group in found:
        written, authors = posts.get(group.affiliation, (0, 0))
        posts[group.affiliation] = (written + group.posts, authors + group.authors)
        if not group.members:
            continue
        a, c, n = group.affiliation, group.country, group.members
        members[a] = members.get(a, 0) + n
        by_place[(a, c)] = by_place.get((a, c), 0) + n
        by_affiliation.setdefault(a, dict.fromkeys(LEVELS, 0))[group.level] += n
        by_country.setdefault(c, dict.fromkeys(LEVELS, 0))[group.level] += n
    total = sum(members.values())
    balance, first_replies = _balance(session, community, period, members, posts)
    place_rows: list[tuple[Cell, ...]] = [
        (a, c, by_place[(a, c)])
        for a in ordered(members)
        for c in sorted(c for aa, c in by_place if aa == a)
    ]
    return [
        Section(
            "members",
            "Members by affiliation and country",
            ("affiliation", "country", "members"),
            place_rows,
            _people(["members"]),
        ),
        _target_mix(community, members, total),
        _growth(session, community, period),
        balance,
        Section(
            "levels_by_affiliation",
            f"Core ({core_posts}+ posts), active and peripheral (no post) members",
            ("affiliation", *LEVELS),
            [(a, *by_affiliation[a].values()) for a in ordered(by_affiliation)],
            _people(LEVELS),
        ),
        Section(
            "levels_by_country",
            "Core, active and peripheral members by country",
            ("country", *LEVELS),
            [(c, *by_country[c].values()) for c in sorted(by_country)],
            _people(LEVELS),
        ),
        first_replies,
    ]


def _target_mix(community: Community, members: dict[str, int], total: int) -> Section:
    mix = targets.parse(community.target_mix)
    shares = targets.shares(mix)
    rows: list[tuple[Cell, ...]] = []
    for affiliation in ordered([*members, *mix]):
        have = members.get(affiliation, 0)
        planned = mix.get(affiliation)
        share = shares.get(affiliation)
        rows.append(
            (
                affiliation,
                have,
                percent(have, total),
                planned,
                None if share is None else round(100 * share, 1),
                None if planned is None else have - planned,
            )
        )
    return Section(
        "target_mix",
        "Members against the target mix",
        ("affiliation", "members", "share %", "target", "target share %", "gap"),
        rows,
        {"members": "members", "share %": "members"},
    )


def _growth(session: Session, community: Community, period: Period) -> Section:
    months = queries.joined_and_left(session, community.id or 0, period)
    return Section(
        "growth",
        "Members who joined and left, by month (UTC)",
        ("month", "joined", "left"),
        [(month, joined, left) for month, (joined, left) in months.items()],
        _people(["joined", "left"]),
    )


def _balance(
    session: Session,
    community: Community,
    period: Period,
    members: dict[str, int],
    posts: dict[str, tuple[int, int]],
) -> tuple[Section, Section]:
    """The balance of constituencies, and first replies by theme: both read the period's
    conversations."""
    total = sum(members.values())
    started = queries.conversations(session, community.id or 0, period)
    new = Counter(c.affiliation for c in started if c.affiliation is not None)
    all_posts = sum(n for n, _ in posts.values())
    rows: list[tuple[Cell, ...]] = []
    for affiliation in ordered([*members, *posts]):
        n, people = posts.get(affiliation, (0, 0))
        have = members.get(affiliation, 0)
        member_share, post_share = percent(have, total), percent(n, all_posts)
        index = round((n / all_posts) / (have / total), 2) if have and total and all_posts else None
        begun = new.get(affiliation, 0)
        rows.append(
            (affiliation, have, member_share, n, begun, n - begun, people, post_share, index)
        )
    balance = Section(
        "balance",
        "Posts, new conversations and replies by constituency, against its share of members",
        (
            "affiliation",
            "members",
            "member share %",
            "posts",
            "new conversations",
            "replies",
            "authors",
            "post share %",
            "balance index",
        ),
        rows,
        {
            "members": "members",
            "member share %": "members",
            **{c: "authors" for c in ("posts", "new conversations", "replies", "authors")},
            "post share %": "authors",
            "balance index": "authors",
        },
    )
    return balance, _first_replies(started)


def _first_replies(found: list[queries.Conversation]) -> Section:
    groups: dict[str, list[float | None]] = {ALL_THEMES: []}
    for item in found:
        replied = item.replied
        hours = None if replied is None else (replied - item.started).total_seconds() / 3600
        for theme in [ALL_THEMES, *(item.themes or [NO_THEME])]:
            groups.setdefault(theme, []).append(hours)
    rows: list[tuple[Cell, ...]] = []
    for theme in [ALL_THEMES, *sorted(t for t in groups if t != ALL_THEMES)]:
        times = [h for h in groups[theme] if h is not None]
        median = round(statistics.median(times), 1) if times else None
        count = len(groups[theme])
        rows.append((theme, count, len(times), count - len(times), median))
    return Section(
        "first_reply",
        "Conversations started, answered and unanswered, and the median hours to a first reply",
        ("theme", "conversations", "answered", "no reply", "median hours to first reply"),
        rows,
    )


def days_to_synopsis(discussion: Discussion) -> float | None:
    if discussion.closed_at is None or discussion.synopsis_at is None:
        return None
    return round((discussion.synopsis_at - discussion.closed_at).total_seconds() / 86400, 1)


def discussions(session: Session, community: Community, period: Period) -> list[Section]:
    overview: list[tuple[Cell, ...]] = []
    detail: list[tuple[Cell, ...]] = []
    for item in queries.discussions(session, community.id or 0, period):
        tally = discussion_figures.figures(discussion_figures.contributions(session, item))
        overview.append(
            (
                item.id,
                item.title,
                item.state,
                tally.contributors,
                tally.posts,
                days_to_synopsis(item),
            )
        )
        for by, groups in (("affiliation", tally.by_affiliation), ("country", tally.by_country)):
            for group, counted in groups.items():
                detail.append((item.id, by, group, counted.contributors, counted.posts))
    return [
        Section(
            "discussions",
            "Discussions: contributions, and days from closing to the synopsis",
            ("discussion", "title", "state", "contributors", "posts", "days to synopsis"),
            overview,
            {"contributors": "contributors", "posts": "contributors"},
        ),
        Section(
            "contributions",
            "Contributions to each discussion by affiliation and by country",
            ("discussion", "by", "group", "contributors", "posts"),
            detail,
            {"contributors": "contributors", "posts": "contributors"},
        ),
    ]


def resources(session: Session, community: Community, period: Period) -> list[Section]:
    sections = []
    for model, name in ((Resource, "resources"), (NewsItem, "news")):
        rows = queries.contributed(session, community.id or 0, period, model)
        sections.append(
            Section(
                name,
                f"{name.capitalize()} contributed by constituency and country",
                ("affiliation", "country", name, "contributors"),
                [row for a in ordered(r[0] for r in rows) for row in sorted(rows) if row[0] == a],
                {name: "contributors", "contributors": "contributors"},
            )
        )
    counts = matrix(session, [community.id or 0])
    sections.append(
        Section(
            "themes_countries",
            "Themes by country: conversations and resources (all time)",
            ("theme", "country", "items"),
            [(theme, country, n) for (theme, country), n in sorted(counts.items())],
        )
    )
    return sections


def reach(session: Session, community: Community, period: Period) -> list[Section]:
    counts = queries.reach(session, community.id or 0, period)
    return [
        Section(
            "reach",
            "Reach: mail delivered, bounces and unsubscribes",
            ("measure", "count"),
            list(counts.items()),
        )
    ]


Builder = Callable[[Session, Community, Period], list[Section]]


def build(
    session: Session, community: Community, kind: str, period: Period, core_posts: int
) -> Report:
    """One report of one community over one period."""
    builders: dict[str, Builder] = {
        "participation": lambda s, c, p: participation(s, c, p, core_posts),
        "discussions": discussions,
        "resources": resources,
        "reach": reach,
    }
    sections = builders[kind](session, community, period)
    return Report(kind, community.slug, community.name, period, sections)
