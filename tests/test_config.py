"""Configuration: defaults, the documented example, errors that name the key, overrides."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mailhub import config

ROOT = Path(__file__).resolve().parents[1]


def test_documented_example_loads_and_resolves_paths() -> None:
    settings = config.load(ROOT / "config.toml")
    assert settings.communities[0].slug == "irnet"
    assert settings.data_dir == ROOT / "data"
    assert settings.database_url == f"sqlite:///{ROOT / 'data' / 'mailhub.db'}"
    assert {t.slug for t in settings.themes} >= {"skills", "green-jobs"}


def test_defaults_without_a_file() -> None:
    settings = config.from_mapping({})
    assert settings.smtp.host == "127.0.0.1"
    assert settings.smtp.port == 8025
    assert settings.outbound.mode == "maildir"
    assert settings.inbound.max_message_bytes == 10 * 1024 * 1024


@pytest.mark.parametrize(
    ("document", "key", "hint"),
    [
        ({"smtp": {"port": "twenty-five"}}, "smtp.port", "valid integer"),
        ({"smtp": {"port": 70000}}, "smtp.port", "less than or equal to 65535"),
        ({"instance": {"secret": "short"}}, "instance.secret", "at least 16 characters"),
        ({"instance": {"timezone": "Mars/Olympus"}}, "instance.timezone", "Europe/Zurich"),
        ({"instance": {"domain": "not a domain"}}, "instance.domain", "lists.example.org"),
        ({"outbound": {"mode": "pigeon"}}, "outbound.mode", "'maildir' or 'smtp'"),
        ({"smpt": {"port": 25}}, "smpt", "unknown key"),
        ({"communities": [{"slug": "Bad Slug", "name": "x"}]}, "communities.0.slug", "pattern"),
        ({"communities": [{"slug": "ok"}]}, "communities.0.name", "Field required"),
    ],
)
def test_bad_values_name_the_key_and_the_form(document: dict, key: str, hint: str) -> None:
    with pytest.raises(config.ConfigError) as caught:
        config.from_mapping(document)
    message = str(caught.value)
    assert f"{key}:" in message
    assert hint in message


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[instance]\nsecret = "file-secret-0123456789"\n')
    monkeypatch.setenv("MAILHUB_CONFIG", str(path))
    monkeypatch.setenv("MAILHUB_DATABASE_URL", "sqlite:////tmp/elsewhere.db")
    monkeypatch.setenv("MAILHUB_SECRET", "env-secret-0123456789abc")
    settings = config.load()
    assert settings.source == path.resolve()
    assert settings.database_url == "sqlite:////tmp/elsewhere.db"
    assert settings.instance.secret == "env-secret-0123456789abc"


def _cli(*args: str, env_config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mailhub", *args],
        capture_output=True,
        text=True,
        env={"MAILHUB_CONFIG": str(env_config), "PATH": "/usr/bin:/bin"},
        timeout=60,
    )


def test_cli_reports_bad_config_with_exit_2_and_no_traceback(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[smtp]\nport = -1\n[outbound]\nmode = 'pigeon'\n")
    result = _cli("community", "list", env_config=path)
    assert result.returncode == 2
    assert "smtp.port" in result.stderr and "outbound.mode" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_cli_reports_unparseable_toml_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[smtp\nport = 1\n")
    result = _cli("community", "list", env_config=path)
    assert result.returncode == 2 and "not valid TOML" in result.stderr
    result = _cli("community", "list", env_config=tmp_path / "missing.toml")
    assert result.returncode == 2 and "not found" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("before", [None, "logfire"])
def test_settings_are_built_without_scanning_for_pydantic_plugins(before: str | None) -> None:
    """Looking up pydantic plugins scans every installed package's metadata (20-30 ms of
    each CLI start); the settings models skip it, and leave the variable as they found it."""
    script = (
        "import os, mailhub.config, mailhub.config as c\n"
        "c.load(None)\n"
        "import pydantic.plugin._loader as loader\n"
        "print(loader._plugins is None, os.environ.get('PYDANTIC_DISABLE_PLUGINS'))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    env.pop("MAILHUB_CONFIG", None)
    if before is not None:
        env["PYDANTIC_DISABLE_PLUGINS"] = before
    found = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert found == ["True", str(before)]
