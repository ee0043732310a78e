"""The command line as a whole: each area imported only when it runs (start-up time, see
bench/cli.py), usage errors as one line with exit code 2, and full rows, tab-separated,
when the output is not a terminal."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import typer

from mailhub.cli import AREAS, app, common

ROOT = Path(__file__).resolve().parents[1]

# Run the command line in a fresh interpreter and write down every module it imported.
PROBE = """
import json, os, sys
from mailhub.cli import main
sys.argv = ["mailhub", *sys.argv[2:]]
try:
    main()
except SystemExit:
    pass
with open(os.environ["PROBE_OUT"], "w") as record:
    json.dump(sorted(sys.modules), record)
"""


def imported_by(tmp_path: Path, *args: str, config: Path | None = None) -> set[str]:
    """The modules a real `mailhub ARGS...` process imports (this checkout's code)."""
    record = tmp_path / "modules.json"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(ROOT),
        "PROBE_OUT": str(record),
    }
    if config is not None:
        env["MAILHUB_CONFIG"] = str(config)
    done = subprocess.run(
        [sys.executable, "-c", PROBE, "-", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return set(json.loads(record.read_text()))


def loaded(modules: set[str], *names: str) -> list[str]:
    return [n for n in names if n in modules or any(m.startswith(n + ".") for m in modules)]


def test_help_imports_no_area_and_no_heavy_library(tmp_path: Path) -> None:
    modules = imported_by(tmp_path, "--help")
    assert "mailhub.cli" in modules
    assert loaded(modules, *(area.module for area in AREAS.values())) == []
    heavy = ("sqlalchemy", "sqlmodel", "pydantic", "rich", "mailhub.config", "dkim", "jinja2")
    assert loaded(modules, *heavy) == []


def test_member_list_imports_what_it_needs_and_no_more(tmp_path: Path, sqlite_ctx: Any) -> None:
    modules = imported_by(tmp_path, "member", "list", config=tmp_path / "config.toml")
    assert {"mailhub.cli.member", "mailhub.roster", "sqlite3"} <= modules
    unneeded = (
        "sqlalchemy",  # a SQLite store is read on sqlite3 (mailhub/roster.py)
        "sqlmodel",
        "mailhub.models",
        "apscheduler",
        "mailhub.cli.inbound",
        "mailhub.cli.resource",
        "mailhub.subscriptions",
        "mailhub.member_import",
        "mailhub.inbound",
        "mailhub.outbound",
        "sqlalchemy.dialects.postgresql",  # the store is SQLite
        "alembic",
        "dkim",
        "jinja2",
        "email_validator",
        "rich",  # not a terminal: tab-separated lines need no rich
    )
    assert loaded(modules, *unneeded) == []


def test_member_list_with_the_shipped_settings_imports_no_store_models(tmp_path: Path) -> None:
    """The shipped config.toml (every network, target mixes, themes, digest schedules) is
    read without the models (a settings check that imported them cost every command half a
    second) and, by a command that runs no schedule, without APScheduler."""
    shipped = (ROOT / "config.toml").read_text()
    assert 'data_dir = "data"' in shipped and "target_mix" in shipped
    config = tmp_path / "config.toml"
    config.write_text(shipped.replace('data_dir = "data"', f'data_dir = "{tmp_path}"', 1))
    subprocess.run(
        [sys.executable, "-m", "mailhub", "init", "--apply"],
        env={**os.environ, "MAILHUB_CONFIG": str(config), "PYTHONPATH": str(ROOT)},
        capture_output=True,
        check=True,
    )
    for filters in ([], ["--country", "th", "--affiliation", "workers"]):
        modules = imported_by(tmp_path, "member", "list", *filters, config=config)
        assert "mailhub.roster" in modules
        heavy = loaded(modules, "sqlmodel", "sqlalchemy", "mailhub.models", "apscheduler")
        assert heavy == [], filters


def test_every_area_loads_with_the_help_its_stand_in_shows() -> None:
    group = typer.main.get_command(app)
    for name, area in AREAS.items():
        real = area.load(name)
        stand_in = group.commands[name]  # type: ignore[attr-defined]
        assert real.name == name
        assert real.get_short_help_str(300) == stand_in.get_short_help_str(300), name


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (
            ("member", "add", "x@example.org", "--affiliation", "union"),
            "error: --affiliation: 'union' is not one of 'government', 'workers'",
        ),
        (("member", "add"), "error: Missing argument 'email'"),
        (("member", "list", "--bogus"), "No such option: --bogus"),
        (("membr", "list"), "No such command 'membr'. Did you mean 'member'?"),
        (("--bogus",), "No such option: --bogus"),
        (("queue", "show", "twelve"), "error: post_id: Input should be a valid integer"),
        (("event", "add", "-c", "irnet", "--title", "T", "--starts"), "'--starts' requires"),
        (("member", "delivery", "x@example.org", "weekly"), "'weekly' is not one of"),
        (("resource", "export", "1"), "Missing option '--to'"),
        (("discussion", "create", "-c", "irnet"), "Missing option"),
        # A filter that can match nothing is a typing mistake, not an empty list.
        (("discussion", "list", "--state", "opened"), "error: --state: 'opened' is not one of"),
        (("inbound", "list", "--source", "smpt"), "error: --source: 'smpt' is not one of smtp"),
    ],
)
def test_usage_errors_are_one_line_with_exit_code_2(
    run_cli_sqlite: Callable[..., Any], args: tuple[str, ...], fragment: str
) -> None:
    result = run_cli_sqlite(*args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.startswith("error: ") and fragment in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Usage:" not in result.stderr and "Traceback" not in result.stderr


def test_usage_errors_from_the_console_script_too(tmp_path: Path) -> None:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "mailhub", "member", "list", "--role", "boss"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("error: --role: 'boss' is not one of 'member'")
    assert "(see 'python -m mailhub member list --help')" in done.stderr  # where to look next
    assert len(done.stderr.splitlines()) == 1 and done.stdout == ""


def test_a_bare_group_still_shows_its_help(run_cli_sqlite: Callable[..., Any]) -> None:
    result = run_cli_sqlite("member")
    assert "Commands:" in result.output and "subscribe" in result.output


LONG_NAME = "Maria-Fernanda de los Santos Rodríguez-Oyelaran, Ministry of Labour and Employment"
LONG_EMAIL = "maria-fernanda.delossantos-rodriguez@ministry-of-labour.example.org"


def test_piped_lists_are_tab_separated_rows_in_full(run_cli_sqlite: Callable[..., Any]) -> None:
    added = run_cli_sqlite("member", "add", LONG_EMAIL, "--name", LONG_NAME, "--country", "KE")
    assert added.exit_code == 0, added.output
    assert run_cli_sqlite("member", "add", "bob@example.org").exit_code == 0
    listed = run_cli_sqlite("member", "list")  # CliRunner's output is not a terminal
    assert listed.exit_code == 0, listed.output
    rows = [line.split("\t") for line in listed.stdout.splitlines()]
    assert rows[0] == ["email", "name", "affiliation", "country", "role", "delivery", "status"]
    assert rows[1:] == [
        ["bob@example.org", "", "other", "", "member", "each", "active"],
        [LONG_EMAIL, LONG_NAME, "other", "KE", "member", "each", "active"],
    ]


def test_a_terminal_gets_a_table(
    run_cli_sqlite: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(common, "to_terminal", lambda: True)
    assert "(none)" in run_cli_sqlite("member", "list").stdout
    assert run_cli_sqlite("member", "add", "bob@example.org").exit_code == 0
    table = run_cli_sqlite("member", "list").stdout
    assert "bob@example.org" in table and "\t" not in table
    assert table.splitlines()[0].startswith("┏")


def test_cells_with_tabs_or_line_breaks_stay_on_their_row(
    capsys: pytest.CaptureFixture[str],
) -> None:
    common.print_table(("a", "b"), [("one\ttwo", "three\nfour"), (None, "x")])
    assert capsys.readouterr().out.splitlines() == ["a\tb", "one two\tthree four", "\tx"]


def readme_transcripts() -> list[tuple[str, str]]:
    """The README's ```text blocks that show a `$ mailhub ...` command and its output."""
    readme = (ROOT / "README.md").read_text()
    found = re.findall(r"```text\n\$ (mailhub [^\n]*)\n(.*?)```", readme, re.DOTALL)
    assert found, "the README shows no command with its output"
    return found


@pytest.mark.parametrize(("command", "shown"), readme_transcripts())
def test_readme_transcripts_are_what_the_command_prints(
    tmp_path: Path, command: str, shown: str
) -> None:
    # Run as the `mailhub` console script runs it, so the program name in messages matches.
    launcher = "import sys; from mailhub.cli import main; sys.argv[0] = 'mailhub'; main()"
    done = subprocess.run(
        [sys.executable, "-c", launcher, *shlex.split(command)[1:]],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT)},
        timeout=120,
    )
    assert done.stdout + done.stderr == shown


def test_a_bad_cron_line_stops_the_commands_that_run_schedules_only(
    tmp_path: Path, run_cli_sqlite: Callable[..., Any]
) -> None:
    """A command that runs no schedule reads the settings without their cron lines; one that
    does (run-due, init) still refuses a line it cannot read, in one line, exit 2."""
    config = tmp_path / "config.toml"
    config.write_text(
        config.read_text().replace(
            'slug = "irnet"', 'slug = "irnet"\ndigest_cron = "0 25 * * mon"', 1
        )
    )
    assert 'digest_cron = "0 25' in config.read_text()
    listed = run_cli_sqlite("member", "list", "-c", "irnet")
    assert listed.exit_code == 0, listed.output
    for command in (("run-due",), ("init",)):
        refused = run_cli_sqlite(*command)
        assert refused.exit_code == 2, refused.output
        assert "communities.0.digest_cron" in refused.output and "Traceback" not in refused.output
