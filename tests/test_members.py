"""Members through the real CLI, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

from sqlmodel import select

from mailhub.context import Context
from mailhub.models import Membership, Person


def test_add_normalises_and_rejects_a_second_add(run_cli, ctx: Context) -> None:
    result = run_cli(
        "member",
        "add",
        "A.Person@Example.ORG",
        "--name",
        "Amina Person",
        "--affiliation",
        "workers",
        "--country",
        "ke",
        "--organisation",
        "COTU",
        "--theme",
        "skills",
        "--role",
        "moderator",
        "--delivery",
        "digest",
        "--moderated",
    )
    assert result.exit_code == 0, result.output
    again = run_cli("member", "add", "a.person@example.org")
    assert again.exit_code == 1
    assert "already a member" in again.output
    with ctx.session() as session:
        people = session.exec(select(Person)).all()
        assert [p.email for p in people] == ["a.person@example.org"]
        person = people[0]
        assert (person.name, person.affiliation, person.country, person.organisation) == (
            "Amina Person",
            "workers",
            "KE",
            "COTU",
        )
        membership = session.exec(select(Membership)).one()
        assert (membership.role, membership.delivery, membership.moderated) == (
            "moderator",
            "digest",
            True,
        )
        assert membership.themes == ["skills"]


def test_themes_typed_in_one_value_are_each_a_theme(run_cli) -> None:
    """`--theme "skills,green-jobs"` (as a CSV cell is written) is two themes, for `member
    add`, `member update` and `member themes`, not one unknown one."""
    added = run_cli("member", "add", "a@example.org", "--theme", "skills,green-jobs")
    assert added.exit_code == 0, added.output
    assert json.loads(run_cli("member", "show", "a@example.org", "--json").output)[0]["themes"] == [
        "green-jobs",
        "skills",
    ]
    assert run_cli("member", "update", "a@example.org", "--theme", "skills, ").exit_code == 0
    assert json.loads(run_cli("member", "list", "--json").output)[0]["themes"] == ["skills"]
    both = run_cli("member", "themes", "a@example.org", "green-jobs skills")
    assert both.exit_code == 0 and "green-jobs, skills" in both.output, both.output


def test_bad_values_get_clear_errors(run_cli) -> None:
    cases = [
        (("member", "add", "not-an-address"), "email"),
        (("member", "add", "x@example.org", "--country", "XX"), "error: --country: 'XX': "),
        (("member", "add", "x@example.org", "--theme", "x"), "error: --theme: unknown theme x"),
        (("member", "update", "x@example.org", "--country", "Kenya"), "error: --country: 'Kenya'"),
        (("member", "add", "x@example.org", "--affiliation", "aliens"), "aliens"),
        (("member", "add", "x@example.org", "--community", "nope"), "no community 'nope'"),
        (("member", "update", "ghost@example.org", "--name", "G"), "not a member"),
        (("member", "show", "ghost@example.org"), "no member"),
    ]
    for args, fragment in cases:
        result = run_cli(*args)
        assert result.exit_code != 0, args
        assert fragment in result.output, (args, result.output)
        assert "Traceback" not in result.output


def test_update_list_show_remove(run_cli) -> None:
    assert run_cli("member", "add", "b@example.org", "--name", "B").exit_code == 0
    assert (
        run_cli(
            "member", "add", "c@example.org", "--affiliation", "government", "--country", "UG"
        ).exit_code
        == 0
    )
    result = run_cli("member", "update", "B@EXAMPLE.org", "--delivery", "none", "--country", "tz")
    assert result.exit_code == 0 and "updated b@example.org" in result.output
    result = run_cli("member", "update", "b@example.org", "--delivery", "none")
    assert "nothing to change" in result.output
    # No field given at all is a mistake: a one-line error, exit 2.
    result = run_cli("member", "update", "b@example.org")
    assert result.exit_code == 2 and result.stderr.startswith("error: nothing to change: give")

    listed = json.loads(run_cli("member", "list", "--json").output)
    assert [m["email"] for m in listed] == ["b@example.org", "c@example.org"]
    assert listed[0]["delivery"] == "none" and listed[0]["country"] == "TZ"
    governments = json.loads(
        run_cli("member", "list", "--affiliation", "government", "--json").output
    )
    assert [m["email"] for m in governments] == ["c@example.org"]

    shown = json.loads(run_cli("member", "show", "c@example.org", "--json").output)
    assert shown[0]["community"] == "irnet" and shown[0]["country"] == "UG"

    assert run_cli("member", "remove", "c@example.org", "--ban").exit_code == 0
    banned = json.loads(run_cli("member", "list", "--status", "banned", "--json").output)
    assert [m["email"] for m in banned] == ["c@example.org"]
    assert run_cli("member", "remove", "b@example.org").exit_code == 0
    remaining = json.loads(run_cli("member", "list", "--json").output)
    assert [m["email"] for m in remaining] == ["c@example.org"]


def test_community_and_theme_commands(run_cli) -> None:
    result = run_cli(
        "community",
        "create",
        "youth",
        "--name",
        "Youth Employment Network",
        "--local-part",
        "yen",
        "--timezone",
        "Europe/Zurich",
        "--moderation",
        "first-post",
    )
    assert result.exit_code == 0, result.output
    assert "yen@lists.example.org" in result.output
    duplicate = run_cli("community", "create", "youth", "--name", "Again")
    assert duplicate.exit_code == 1 and "already" in duplicate.output
    bad_zone = run_cli("community", "create", "z", "--name", "Z", "--timezone", "Nowhere/City")
    assert bad_zone.exit_code == 2 and "time zone" in bad_zone.output
    records = json.loads(run_cli("community", "list", "--json").output)
    assert {r["slug"]: r["address"] for r in records} == {
        "irnet": "irnet@lists.example.org",
        "youth": "yen@lists.example.org",
    }
    shown = json.loads(run_cli("community", "show", "youth", "--json").output)
    assert shown["request_address"] == "yen-request@lists.example.org"
    assert shown["moderation"] == "first-post"
    # With two communities, member commands need --community.
    ambiguous = run_cli("member", "add", "d@example.org")
    assert ambiguous.exit_code == 2 and "--community" in ambiguous.output
    assert run_cli("theme", "add", "social-dialogue", "Social dialogue").exit_code == 0
    themes = json.loads(run_cli("theme", "list", "--json").output)
    assert "social-dialogue" in {t["slug"] for t in themes}
