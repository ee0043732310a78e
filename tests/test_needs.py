"""tests/needs.py: what a test needs is skipped without it on a developer's machine, and
fails with the reason in CI. Checked by running a small suite in a fresh pytest."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent

SUITE = """
import pytest
from needs import need


def test_called_from_a_fixture_or_body() -> None:
    need(False, "the frobnicator is not installed")


@pytest.mark.needs(False, "the widget corpus is not there")
def test_marked() -> None:
    pass


@pytest.mark.needs(True, "never shown")
def test_that_has_what_it_needs() -> None:
    need(True, "never shown either")
"""

CONFTEST = """
from needs import pytest_runtest_setup as pytest_runtest_setup
"""


def run_suite(tmp_path: Path, *, ci: str | None) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_small.py").write_text(SUITE)
    (tmp_path / "conftest.py").write_text(CONFTEST)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS), env.get("PYTHONPATH")]))
    return subprocess.run(
        [
            *(sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider"),
            *("-o", "markers=needs(condition, reason): see tests/needs.py", "test_small.py"),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("ci", [None, "false"])
def test_outside_ci_a_missing_need_skips(tmp_path: Path, ci: str | None) -> None:
    result = run_suite(tmp_path, ci=ci)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed, 2 skipped" in result.stdout
    assert "the frobnicator is not installed" in result.stdout
    assert "the widget corpus is not there" in result.stdout
    assert "never shown" not in result.stdout


def test_in_ci_a_missing_need_fails_with_its_reason(tmp_path: Path) -> None:
    result = run_suite(tmp_path, ci="true")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "skipped" not in result.stdout
    assert "1 failed, 1 passed, 1 error" in result.stdout
    assert "CI needs this, and it is missing: the frobnicator is not installed" in result.stdout
    assert "CI needs this, and it is missing: the widget corpus is not there" in result.stdout
    assert "never shown" not in result.stdout
