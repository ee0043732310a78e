"""What a test needs from the machine (PostgreSQL, Dovecot, openssl, Chromium, the shared
corpora): missing, the test is skipped on a developer's machine, but fails with the reason
under CI (``CI=true``), which installs all of it; a skip there would hide a check that never
ran.

In a fixture or test body call ``need(condition, reason)``; on a whole test or module use the
mark ``@pytest.mark.needs(condition, reason)``, which ``pytest_runtest_setup`` below reads
(tests/conftest.py imports the hook so that pytest finds it).
"""

from __future__ import annotations

import os

import pytest


def in_ci() -> bool:
    """Whether the suite runs in CI, where everything it needs must be present."""
    return os.environ.get("CI") == "true"


def need(condition: bool, reason: str) -> None:
    """Go on when ``condition`` holds; otherwise skip the test, or in CI fail it."""
    if condition:
        return
    if in_ci():
        pytest.fail(f"CI needs this, and it is missing: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Apply every ``needs`` mark of a test before its fixtures are set up."""
    for mark in item.iter_markers("needs"):
        need(*mark.args, **mark.kwargs)
