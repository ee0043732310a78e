"""The participation report: members by affiliation and country against the target mix,
joins and departures, the balance of constituencies, core, active and peripheral members,
and first replies by theme.

The balance index of a constituency is its share of the period's posts over its share of
the members (1.0: it speaks as much as it weighs; none when it has no members).
"""

from __future__ import annotations

import statistics
from collections import Counter

from sqlmodel import Session

from mailhub.models import Community
from mailhub.reports import queries, targets
from mailhub.reports.queries import Period
from mailhub.reports.sections import Cell, Section, ordered, people, percent

LEVELS = ("core", "active", "peripheral")
ALL_THEMES = "(all)"
NO_THEME = "(no theme)"


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
            people(["members"]),
        ),
        _target_mix(community, members, total),
        _growth(session, community, period),
        balance,
        Section(
            "levels_by_affiliation",
            f"Core ({core_posts}+ posts), active and peripheral (no post) members",
            ("affiliation", *LEVELS),
            [(a, *by_affiliation[a].values()) for a in ordered(by_affiliation)],
            people(LEVELS),
        ),
        Section(
            "levels_by_country",
            "Core, active and peripheral members by country",
            ("country", *LEVELS),
            [(c, *by_country[c].values()) for c in sorted(by_country)],
            people(LEVELS),
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
        people(["joined", "left"]),
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
