"""The four reports of a community over a period (participation, discussions, resources,
reach), built as sections of rows (sections.py); participation has a module of its own."""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import Session

from mailhub.discussions import figures as discussion_figures
from mailhub.models import Community, Discussion, NewsItem, Resource
from mailhub.portal.library import matrix
from mailhub.reports import counts
from mailhub.reports.participation import participation
from mailhub.reports.queries import Period
from mailhub.reports.sections import Cell, Report, Section, rank

REPORTS = ("participation", "discussions", "resources", "reach")


def days_to_synopsis(discussion: Discussion) -> float | None:
    if discussion.closed_at is None or discussion.synopsis_at is None:
        return None
    return round((discussion.synopsis_at - discussion.closed_at).total_seconds() / 86400, 1)


def discussions(session: Session, community: Community, period: Period) -> list[Section]:
    overview: list[tuple[Cell, ...]] = []
    detail: list[tuple[Cell, ...]] = []
    found = counts.discussions(session, community.id or 0, period)
    posts = discussion_figures.contributions_of(session, [item.id or 0 for item in found])
    for item in found:
        tally = discussion_figures.figures(posts[item.id or 0])
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
        rows = counts.contributed(session, community.id or 0, period, model)
        sections.append(
            Section(
                name,
                f"{name.capitalize()} contributed by constituency and country",
                ("affiliation", "country", name, "contributors"),
                sorted(rows, key=lambda row: (rank(str(row[0])), str(row[1]))),
                {name: "contributors", "contributors": "contributors"},
            )
        )
    covered = matrix(session, [community.id or 0])
    sections.append(
        Section(
            "themes_countries",
            "Themes by country: conversations and resources (all time)",
            ("theme", "country", "items"),
            [(theme, country, n) for (theme, country), n in sorted(covered.items())],
        )
    )
    return sections


def reach(session: Session, community: Community, period: Period) -> list[Section]:
    found = counts.reach(session, community.id or 0, period)
    return [
        Section(
            "reach",
            "Reach: mail delivered, bounces and unsubscribes",
            ("measure", "count"),
            list(found.items()),
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
