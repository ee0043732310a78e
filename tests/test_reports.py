"""Participation reports over the seeded February (tests/report_seed.py), on SQLite and
PostgreSQL: every figure asserted exactly, worked out by hand from the seed.

Members (8 active, joined before 1 March): government g1 g2 (TH) g3 (VN); workers w1 (TH)
w2 (ID); employers e1 (VN); staff s1 (CH, moderator); academic a1 (no country). u1 left on
20 February; "late" joined on 1 March. Counted posts in February: 13 (g1 5, w1 3, g2 2, e1 1,
a1 1, an outsider 1); not counted: a held, a rejected, a discussion announcement, a March
post, a January start.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from report_seed import SINCE, TARGET_MIX, UNTIL, at, seed_reports
from sqlalchemy import event

from mailhub.communities import get_community
from mailhub.context import Context
from mailhub.models import Discussion, Post, Thread
from mailhub.reports import figures
from mailhub.reports.queries import Period
from mailhub.reports.sections import Report

FEB = Period(SINCE, UNTIL)
DAYS = ("--since", "2026-02-01", "--until", "2026-02-28")

MEMBERS = [
    ("government", "TH", 2),
    ("government", "VN", 1),
    ("workers", "ID", 1),
    ("workers", "TH", 1),
    ("employers", "VN", 1),
    ("staff", "CH", 1),
    ("academic", "not given", 1),
]
# Target 20/20/20/25 of 85: 23.5 % each and 29.4 %; members' shares of 8.
TARGET = [
    ("government", 3, 37.5, 20, 23.5, -17),
    ("workers", 2, 25.0, 20, 23.5, -18),
    ("employers", 1, 12.5, 20, 23.5, -19),
    ("staff", 1, 12.5, 25, 29.4, -24),
    ("academic", 1, 12.5, None, None, None),
]
# Balance index: (posts/13) / (members/8), e.g. government (7/13)/(3/8) = 1.44.
BALANCE = [
    ("government", 3, 37.5, 7, 2, 5, 2, 53.8, 1.44),
    ("workers", 2, 25.0, 3, 1, 2, 1, 23.1, 0.92),
    ("employers", 1, 12.5, 1, 0, 1, 1, 7.7, 0.62),
    ("staff", 1, 12.5, 0, 0, 0, 0, 0.0, 0.0),
    ("academic", 1, 12.5, 1, 1, 0, 1, 7.7, 0.62),
    ("not a member", 0, 0.0, 1, 0, 1, 1, 7.7, None),
]
# Core: 5 posts or more (g1); active: some (g2 w1 e1 a1); peripheral: none (g3 w2 s1).
LEVELS_BY_AFFILIATION = [
    ("government", 1, 1, 1),
    ("workers", 0, 1, 1),
    ("employers", 0, 1, 0),
    ("staff", 0, 0, 1),
    ("academic", 0, 1, 0),
]
LEVELS_BY_COUNTRY = [
    ("CH", 0, 0, 1),
    ("ID", 0, 0, 1),
    ("TH", 1, 2, 0),
    ("VN", 0, 1, 1),
    ("not given", 0, 1, 0),
]
# Started in February: T1 (skills, first reply after 3 h), T2 (skills and green jobs, 6 h),
# T3 (none), T4 (green jobs, none), the discussion's thread (24 h to the first contribution).
FIRST_REPLY = [
    ("(all)", 5, 3, 2, 6.0),
    ("(no theme)", 2, 1, 1, 24.0),
    ("green-jobs", 2, 1, 1, 6.0),
    ("skills", 2, 2, 0, 4.5),
]


def build(ctx: Context, kind: str, core: int = 5) -> Report:
    with ctx.session() as session:
        return figures.build(session, get_community(session, "irnet"), kind, FEB, core)


def rows(report: Report, section: str) -> list[tuple[Any, ...]]:
    return report.section(section).rows


def test_participation_figures(ctx: Context) -> None:
    seed_reports(ctx)
    report = build(ctx, "participation")
    assert rows(report, "members") == MEMBERS
    assert rows(report, "target_mix") == TARGET
    assert rows(report, "growth") == [("2026-02", 3, 1)]
    assert rows(report, "balance") == BALANCE
    assert rows(report, "levels_by_affiliation") == LEVELS_BY_AFFILIATION
    assert rows(report, "levels_by_country") == LEVELS_BY_COUNTRY
    assert rows(report, "first_reply") == FIRST_REPLY


def test_core_follows_the_setting(ctx: Context) -> None:
    seed_reports(ctx)
    # With 3 posts as the bar, w1 (3 posts) is core too.
    report = build(ctx, "participation", core=3)
    assert ("workers", 1, 0, 1) in rows(report, "levels_by_affiliation")


def test_discussion_resource_and_reach_figures(ctx: Context) -> None:
    seeded = seed_reports(ctx)
    discussions = build(ctx, "discussions")
    held = seeded.discussion
    # Closed 16 February 09:00, synopsis 19 February 21:00: 3.5 days. The open one has no
    # contributions yet; January's discussion and the draft are not in the period.
    assert rows(discussions, "discussions") == [
        (held, "Minimum wages", "summarised", 2, 2, 3.5),
        (held + 3, "Green skills", "open", 0, 0, None),
    ]
    assert rows(discussions, "contributions") == [
        (held, "affiliation", "government", 1, 1),
        (held, "affiliation", "workers", 1, 1),
        (held, "country", "TH", 2, 2),
    ]
    library = build(ctx, "resources")
    assert rows(library, "resources") == [
        ("government", "TH", 2, 1),
        ("workers", "TH", 1, 1),
        ("not given", "not given", 1, 0),
    ]
    assert rows(library, "news") == [("employers", "VN", 1, 1), ("not given", "not given", 1, 0)]
    # Conversations by their authors' countries, and resources by their own (all time).
    assert rows(library, "themes_countries") == [
        ("green-jobs", "TH", 3),
        ("green-jobs", "VN", 1),
        ("skills", "TH", 3),
        ("skills", "VN", 3),
    ]
    assert rows(build(ctx, "reach"), "reach") == [
        ("digests delivered", 2),
        ("newsletters delivered", 3),
        ("event-digests delivered", 0),
        ("bounces", 2),
        ("unsubscribes", 1),
    ]


def statements_of(ctx: Context, kind: str) -> tuple[Report, int]:
    """A report and the number of SQL statements building it took."""
    seen: list[str] = []

    def note(*args: Any) -> None:
        seen.append(args[2])

    event.listen(ctx.engine, "before_cursor_execute", note)
    try:
        return build(ctx, kind), len(seen)
    finally:
        event.remove(ctx.engine, "before_cursor_execute", note)


def test_the_discussions_report_asks_once_however_many_discussions(ctx: Context) -> None:
    seed_reports(ctx)
    _, few = statements_of(ctx, "discussions")
    with ctx.session() as session:
        cid = get_community(session, "irnet").id or 0
        for n in range(3):
            discussion = Discussion(
                community_id=cid, title=f"More {n}", question="?", state="open",
                opened_at=at(2, 20), created_at=at(2, 19),
            )  # fmt: skip
            session.add(discussion)
            session.flush()
            thread = Thread(
                community_id=cid, subject=f"More {n}", normalised_subject=f"more {n}",
                discussion_id=discussion.id, created_at=at(2, 20), last_activity_at=at(2, 20),
            )  # fmt: skip
            session.add(thread)
            session.flush()
            session.add(
                Post(
                    community_id=cid, thread_id=thread.id, message_id=f"more{n}@example.org",
                    author_email=f"x{n}@example.net", received_at=at(2, 21), status="approved",
                )
            )  # fmt: skip
    report, many = statements_of(ctx, "discussions")
    added = [row[1:5] for row in rows(report, "discussions") if str(row[1]).startswith("More")]
    assert added == [(f"More {n}", "open", 1, 1) for n in range(3)]
    assert many == few


def test_shareable_shows_fewer_than_three_people_as_such(ctx: Context) -> None:
    seed_reports(ctx)
    report = build(ctx, "participation").masked()
    assert rows(report, "members")[0] == ("government", "TH", "< 3")
    government, workers, *_ = rows(report, "balance")
    # Three government members are shown; their 7 posts come from 2 authors, so are not.
    assert government == ("government", 3, 37.5, *["< 3"] * 6)
    assert workers == ("workers", *["< 3"] * 8)
    assert rows(report, "levels_by_affiliation")[0] == ("government", "< 3", "< 3", "< 3")
    # Counts of conversations are not of people: shown as they are.
    assert rows(report, "first_reply") == FIRST_REPLY


def test_cli_json_csv_and_table(run_cli: Callable[..., Any], ctx: Context) -> None:
    seed_reports(ctx)
    result = run_cli("report", "participation", "-c", "irnet", *DAYS, "--json")
    assert result.exit_code == 0, result.output
    [report] = json.loads(result.output)
    assert report["since"] == "2026-02-01T00:00:00+00:00"
    assert report["until"] == "2026-03-01T00:00:00+00:00"
    assert report["balance"][0] == dict(
        zip(
            (
                "affiliation", "members", "member share %", "posts", "new conversations",
                "replies", "authors", "post share %", "balance index",
            ),
            BALANCE[0],
            strict=True,
        )
    )  # fmt: skip
    result = run_cli("report", "reach", *DAYS, "--csv")
    assert result.exit_code == 0, result.output
    lines = list(csv.reader(io.StringIO(result.output)))
    assert lines[:3] == [
        ["community", "section", "measure", "count"],
        ["irnet", "reach", "digests delivered", "2"],
        ["irnet", "reach", "newsletters delivered", "3"],
    ]
    result = run_cli("report", "participation", "-c", "irnet", *DAYS, "--shareable")
    assert result.exit_code == 0, result.output
    assert "IRNet (irnet): participation, 2026-02-01 to 2026-02-28" in result.output
    assert "government\tTH\t< 3" in result.output
    result = run_cli("report", "discussions", "-c", "irnet", *DAYS, "--csv")
    assert "irnet,contributions,1,country,TH,2,2" in result.output


def test_cli_bad_input_is_one_line_with_exit_2(run_cli: Callable[..., Any]) -> None:
    result = run_cli("report", "reach", "--since", "2026-13-01")
    assert result.exit_code == 2
    assert result.output.strip() == ("error: --since: '2026-13-01' is not a day such as 2027-03-31")
    result = run_cli("report", "reach", "--since", "2026-03-01", "--until", "2026-02-01")
    assert result.exit_code == 2 and "is after --until" in result.output
    result = run_cli("report", "reach", "-c", "nowhere")
    assert result.exit_code == 1 and "no community 'nowhere'" in result.output


def test_target_mix_is_a_community_setting(run_cli: Callable[..., Any]) -> None:
    result = run_cli("community", "update", "irnet", "--target-mix", "workers=10, government=5")
    assert result.exit_code == 0, result.output
    assert "target_mix '' -> 'government=5 workers=10'" in result.output
    shown = json.loads(run_cli("community", "show", "irnet", "--json").output)
    assert shown["target_mix"] == "government=5 workers=10"
    result = run_cli("community", "update", "irnet", "--target-mix", "unions=10")
    assert result.exit_code == 2
    assert "--target-mix: 'unions' is not one of government, workers" in result.output
    assert run_cli("community", "update", "irnet", "--target-mix", "").exit_code == 0


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("{ staff = 25, government = 20 }", "government=20 staff=25"),
        (f'"{TARGET_MIX}"', TARGET_MIX),
    ],
)
def test_target_mix_in_config_toml(given: str, stored: str) -> None:
    import tomllib

    from mailhub.config import from_mapping

    data = tomllib.loads(f'[[communities]]\nslug = "x"\nname = "X"\ntarget_mix = {given}\n')
    assert from_mapping(data).communities[0].target_mix == stored
