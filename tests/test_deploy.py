"""deploy/mailhub.service says what the README promises of it, and runs a command that
exists: `mailhub serve`, which exits 0 on the SIGTERM the unit stops it with
(tests/test_serve.py), so Restart=on-failure restarts only real failures."""

from __future__ import annotations

import configparser
import shlex
from pathlib import Path

from typer.testing import CliRunner

from mailhub.cli import app

ROOT = Path(__file__).resolve().parents[1]


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(ROOT / "deploy" / "mailhub.service")
    return parser


def test_service_unit_runs_mailhub_serve_as_the_readme_says() -> None:
    service = unit()["Service"]
    assert service["Type"] == "simple"
    assert service["Restart"] == "on-failure"
    assert service["KillSignal"] == "SIGTERM"
    assert service["StandardOutput"] == service["StandardError"] == "journal"
    program, *args = shlex.split(service["ExecStart"])
    assert Path(program).name == "mailhub" and args == ["serve"]
    assert CliRunner().invoke(app, [*args, "--help"]).exit_code == 0
    config = service["Environment"].removeprefix("MAILHUB_CONFIG=")
    assert config.endswith("config.toml")
    readme = (ROOT / "README.md").read_text()
    assert "deploy/mailhub.service" in readme
    # The folders the service may write are those the README's setup uses.
    for folder in service["ReadWritePaths"].split():
        assert folder in readme, folder
