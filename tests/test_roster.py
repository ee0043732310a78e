"""The member query (mailhub/roster.py): on sqlite3 for `member list`, through SQLAlchemy
on PostgreSQL and for `member show`; every path gives the records the models hold."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event

from mailhub import roster
from mailhub.cli.member import resolve_community
from mailhub.communities import create_community, get_community
from mailhub.context import Context
from mailhub.errors import InvalidInput, NotFound
from mailhub.members import MemberFields, add_member
from mailhub.models import Membership, Person


def reference(person: Person, membership: Membership, slug: str) -> dict[str, Any]:
    """What the models say of one membership, written out field by field."""
    return {
        "community": slug,
        "email": person.email,
        "name": person.name,
        "affiliation": person.affiliation,
        "country": person.country,
        "organisation": person.organisation,
        "role": membership.role,
        "delivery": membership.delivery,
        "moderated": membership.moderated,
        "status": membership.status,
        "themes": list(membership.themes),
        "only_my_themes": membership.only_my_themes,
        "digest_format": membership.digest_format,
        "event_reminders": membership.event_reminders,
        "joined_at": membership.joined_at.isoformat(),
        "bounce_score": person.bounce_score,
    }


def seed(ctx: Context) -> list[dict[str, Any]]:
    """Two communities, three memberships of every shape; their reference records."""
    now = ctx.now()
    wanted = [
        MemberFields(
            email="ana@example.org",
            name="Ana Reyes",
            affiliation="workers",
            country="PH",
            organisation="Trade union centre",
            themes=["skills", "green-jobs"],
            role="moderator",
            moderated=True,
            only_my_themes=True,
            digest_format="rfc1153",
            event_reminders=False,
        ),
        MemberFields(email="bo@example.org", delivery="digest"),
    ]
    with ctx.session() as session:
        irnet = get_community(session, "irnet")
        other = create_community(session, slug="youth", name="Youth Employment", now=now)
        made = [add_member(session, irnet, fields, now) for fields in wanted]
        made.append(add_member(session, other, wanted[1], now + timedelta(minutes=1)))
        slugs = ["irnet", "irnet", "youth"]
        records = [reference(p, m, slug) for (p, m), slug in zip(made, slugs, strict=True)]
    return sorted(records, key=lambda r: (r["email"], r["community"]))


def test_every_path_reads_what_the_models_hold(ctx: Context) -> None:
    expected = seed(ctx)
    every = roster.Filters()
    with roster.reader(ctx.settings.database_url) as run:
        read = roster.members(run, every)
    with ctx.session() as session:
        through_session = roster.members(roster.on_connection(session.connection()), every)
    assert read == through_session == expected


@pytest.mark.parametrize(
    ("filters", "emails"),
    [
        (roster.Filters(community="irnet"), ["ana@example.org", "bo@example.org"]),
        (roster.Filters(community="youth"), ["bo@example.org"]),
        (roster.Filters(community="irnet", role="moderator"), ["ana@example.org"]),
        (roster.Filters(community="irnet", delivery="digest"), ["bo@example.org"]),
        (roster.Filters(community="irnet", affiliation="workers"), ["ana@example.org"]),
        (roster.Filters(community="irnet", country="PH"), ["ana@example.org"]),
        (roster.Filters(community="irnet", status="banned"), []),
        (roster.Filters(email="bo@example.org"), ["bo@example.org", "bo@example.org"]),
    ],
)
def test_filters_narrow_the_list(ctx: Context, filters: roster.Filters, emails: list[str]) -> None:
    seed(ctx)
    with roster.reader(ctx.settings.database_url) as run:
        assert [r["email"] for r in roster.members(run, filters)] == emails


def test_member_list_takes_a_country_in_either_case(
    ctx: Context, run_cli: Callable[..., Any]
) -> None:
    seed(ctx)
    for country in ("ph", "PH"):
        listed = run_cli("member", "list", "-c", "irnet", "--country", country, "--json")
        assert listed.exit_code == 0, listed.output
        assert [r["email"] for r in json.loads(listed.output)] == ["ana@example.org"]


def test_a_sqlite_store_is_read_on_sqlite3_and_others_through_sqlalchemy() -> None:
    assert roster.sqlite_path("sqlite:///data/mailhub.db") is not None
    assert str(roster.sqlite_path("sqlite:////srv/mailhub.db")) == "/srv/mailhub.db"
    assert roster.sqlite_path("sqlite:///:memory:") is None
    assert roster.sqlite_path("sqlite:///data/x.db?timeout=5") is None
    assert roster.sqlite_path("postgresql+psycopg://db/mailhub") is None


def test_the_community_is_the_one_named_or_the_only_one() -> None:
    assert roster.choose_community(["irnet"], None) == "irnet"
    assert roster.choose_community(["irnet", "youth"], "youth") == "youth"
    with pytest.raises(NotFound, match=r"no community 'nope' \(known: irnet, youth\)"):
        roster.choose_community(["irnet", "youth"], "nope")
    with pytest.raises(InvalidInput, match="--community is required"):
        roster.choose_community(["irnet", "youth"], None)
    with pytest.raises(InvalidInput, match="no community yet"):
        roster.choose_community([], None)


def test_an_unknown_community_is_named_with_those_there_are(ctx: Context) -> None:
    """The same words from the store's lookup (get_community) as from the slugs alone."""
    seed(ctx)
    with ctx.session() as session, pytest.raises(NotFound) as asked:
        get_community(session, "nope")
    assert str(asked.value) == str(roster.unknown_community("nope", ["irnet", "youth"]))


def test_a_member_command_finds_its_community_in_one_query(ctx: Context) -> None:
    seed(ctx)
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        statements.append(statement)

    event.listen(ctx.engine, "before_cursor_execute", count)
    try:
        with ctx.session() as session:
            assert resolve_community(session, "youth").slug == "youth"
            with pytest.raises(NotFound, match="no community 'nope'"):
                resolve_community(session, "nope")
    finally:
        event.remove(ctx.engine, "before_cursor_execute", count)
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 2
