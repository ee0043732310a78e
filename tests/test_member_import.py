"""CSV import: good rows in, bad rows reported by line, repeats change nothing."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import func
from sqlmodel import select

from mailhub.context import Context
from mailhub.models import Membership, Person

GOOD_AND_BAD = """email,name,affiliation,country,organisation,themes,role,delivery,moderated
amina@example.org,Amina K,workers,KE,COTU,skills;green-jobs,member,each,no
BOB@Example.ORG,Bob M,government,ug,Ministry of Labour,,moderator,digest,yes
not-an-address,Nobody,other,KE,,,,,
carla@example.org,Carla,aliens,KE,,,,,
dan@example.org,Dan,employers,XX,,,,,
eve@example.org,Eve,academic,TZ,University,astrology,,,
frank@example.org,Frank,staff,,,,,weekly,
bob@example.org,Bob again,government,UG,,,,,
gina@example.org,,,,,,,,maybe
hana@example.org,Hana,other,RW,,,admin,none,
"""


def _write(tmp_path: Path, text: str, name: str = "members.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_import_reports_bad_rows_by_line_and_keeps_good_ones(
    run_cli, ctx: Context, tmp_path: Path
) -> None:
    path = _write(tmp_path, GOOD_AND_BAD)
    result = run_cli("member", "import", str(path))
    assert result.exit_code == 1
    output = result.output
    assert "3 added, 0 updated, 0 unchanged, 7 bad row(s)" in output
    for line, reason in [
        (4, "email"),
        (5, "affiliation 'aliens'"),
        (6, "country 'XX'"),
        (7, "unknown theme astrology"),
        (8, "delivery 'weekly'"),
        (9, "bob@example.org repeats line 3"),
        (10, "moderated 'maybe'"),
    ]:
        assert f"members.csv:{line}: " in output and reason in output, (line, reason)
    members = {m["email"]: m for m in json.loads(run_cli("member", "list", "--json").output)}
    assert set(members) == {"amina@example.org", "bob@example.org", "hana@example.org"}
    assert members["amina@example.org"]["themes"] == ["green-jobs", "skills"]
    assert members["bob@example.org"]["country"] == "UG"
    assert members["bob@example.org"]["role"] == "moderator"
    assert members["bob@example.org"]["moderated"] is True
    assert members["hana@example.org"]["delivery"] == "none"


def test_reimport_changes_nothing_then_updates_in_place(
    run_cli, ctx: Context, tmp_path: Path
) -> None:
    path = _write(tmp_path, GOOD_AND_BAD)
    run_cli("member", "import", str(path))
    with ctx.session() as session:
        before = [
            (m.id, m.person_id, m.updated_at)
            for m in session.exec(select(Membership).order_by(Membership.id))
        ]
    again = run_cli("member", "import", str(path))
    assert "0 added, 0 updated, 3 unchanged" in again.output
    with ctx.session() as session:
        after = [
            (m.id, m.person_id, m.updated_at)
            for m in session.exec(select(Membership).order_by(Membership.id))
        ]
        assert session.exec(select(func.count()).select_from(Person)).one() == 3
    assert before == after

    changed = _write(
        tmp_path,
        "email,name,delivery\namina@example.org,Amina Kamau,\nnew@example.org,New,digest\n",
        "changed.csv",
    )
    result = run_cli("member", "import", str(changed))
    assert result.exit_code == 0, result.output
    assert "1 added, 1 updated, 0 unchanged, 0 bad" in result.output
    members = {m["email"]: m for m in json.loads(run_cli("member", "list", "--json").output)}
    # Absent columns and empty cells leave existing values alone.
    assert members["amina@example.org"]["name"] == "Amina Kamau"
    assert members["amina@example.org"]["organisation"] == "COTU"
    assert members["amina@example.org"]["delivery"] == "each"
    assert members["new@example.org"]["delivery"] == "digest"


def test_file_level_problems(run_cli, tmp_path: Path) -> None:
    no_email = run_cli("member", "import", str(_write(tmp_path, "name,country\nX,KE\n", "a.csv")))
    assert no_email.exit_code == 2 and "'email' column" in no_email.output
    unknown = run_cli(
        "member", "import", str(_write(tmp_path, "email,shoe_size\nx@example.org,42\n", "b.csv"))
    )
    assert unknown.exit_code == 2 and "shoe_size" in unknown.output
    missing = run_cli("member", "import", str(tmp_path / "nope.csv"))
    assert missing.exit_code == 2 and "cannot read" in missing.output
    binary = tmp_path / "c.csv"
    binary.write_bytes(b"email,name\nx@example.org,\xff\xfe\n")
    result = run_cli("member", "import", str(binary))
    assert result.exit_code == 2 and "not UTF-8" in result.output
    for r in (no_email, unknown, missing, result):
        assert "Traceback" not in r.output


def test_a_bad_row_is_reported_with_every_problem_on_its_line(
    run_cli_sqlite, tmp_path: Path
) -> None:
    text = (
        "email,name,affiliation,country,themes,delivery,moderated\n"
        "amina@example.org,Amina,workers,KE,skills,each,no\n"
        "not-an-address,Nobody,aliens,XX,astrology,weekly,maybe\n"
        ",No address,workers,KE,,,\n"
    )
    result = run_cli_sqlite("member", "import", str(_write(tmp_path, text)))
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    bad = [line for line in lines if line.startswith(f"{tmp_path / 'members.csv'}:3: ")]
    assert len(bad) == 1, lines
    for fragment in (
        "email 'not-an-address'",
        "affiliation 'aliens'",
        "country 'XX'",
        "unknown theme astrology",
        "delivery 'weekly'",
        "moderated 'maybe'",
    ):
        assert fragment in bad[0], (fragment, bad[0])
    assert any(line.endswith(":4: email is missing") for line in lines), lines
    assert "1 added, 0 updated, 0 unchanged, 2 bad row(s)" in result.stdout


def test_semicolon_separated_file_is_read_and_said_so(run_cli_sqlite, tmp_path: Path) -> None:
    text = (
        "email;name;country;themes;organisation\n"
        "amina@example.org;Kamau, Amina;KE;skills|green-jobs;COTU\n"
        "bob@example.org;Bob;UG;;\n"
    )
    result = run_cli_sqlite("member", "import", str(_write(tmp_path, text, "excel.csv")))
    assert result.exit_code == 0, result.output
    assert "excel.csv: columns separated by ';'" in result.stderr
    assert "2 added, 0 updated, 0 unchanged, 0 bad" in result.stdout
    members = {m["email"]: m for m in json.loads(run_cli_sqlite("member", "list", "--json").stdout)}
    assert members["amina@example.org"]["name"] == "Kamau, Amina"
    assert members["amina@example.org"]["themes"] == ["green-jobs", "skills"]
    assert members["bob@example.org"]["country"] == "UG"


def test_commas_stay_the_separator_when_themes_hold_semicolons(
    run_cli_sqlite, tmp_path: Path
) -> None:
    text = "email,themes\namina@example.org,skills;green-jobs\nbob@example.org,skills;green-jobs\n"
    result = run_cli_sqlite("member", "import", str(_write(tmp_path, text)))
    assert result.exit_code == 0, result.output
    assert "separated by" not in result.stderr
    members = json.loads(run_cli_sqlite("member", "list", "--json").stdout)
    assert [m["themes"] for m in members] == [["green-jobs", "skills"]] * 2


def test_themes_may_be_separated_by_commas_or_spaces(run_cli_sqlite, tmp_path: Path) -> None:
    """People type a themes cell as they would a list: 'skills, green-jobs' (quoted in a
    comma-separated file), 'skills green-jobs' or 'skills;green-jobs' are the same two."""
    text = (
        "email,themes\n"
        'amina@example.org,"skills, green-jobs"\n'
        "bob@example.org,skills green-jobs\n"
        "carla@example.org,skills; green-jobs\n"
        "dan@example.org,skills astrology\n"
    )
    result = run_cli_sqlite("member", "import", str(_write(tmp_path, text)))
    assert result.exit_code == 1, result.output
    assert "3 added, 0 updated, 0 unchanged, 1 bad row(s)" in result.stdout
    assert "members.csv:5: unknown theme astrology (" in result.stderr
    members = {m["email"]: m for m in json.loads(run_cli_sqlite("member", "list", "--json").stdout)}
    assert [members[e]["themes"] for e in sorted(members)] == [["green-jobs", "skills"]] * 3
