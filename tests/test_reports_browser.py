"""The moderators' report page in a real headless Chromium on the real server: a moderator
signed in by the mailed link reads it on a desktop and a phone (photographed in
tests/artifacts/reports-*.png), with no serious or critical axe-core violation and nothing
wider than the phone; the period form works without JavaScript."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from portal_client import sign_in
from report_seed import MODERATOR, seed_reports
from test_portal_browser import DESKTOP, PHONE, serious_violations
from test_web import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, running_web

from mailhub.context import Context

if CHROMIUM is None and os.environ.get("CI") == "true":
    raise RuntimeError("CI=true but no chromium is installed: the browser tests cannot run")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium installed")


@pytest.fixture
def moderator_browser(sqlite_ctx: Context) -> Iterator[tuple[Any, str, dict[str, str]]]:
    """Chromium, and the session cookie of the community's moderator signed in by mail."""
    from playwright.sync_api import sync_playwright

    seed_reports(sqlite_ctx)
    with running_web(sqlite_ctx) as web_ctx:
        base = web_ctx.settings.instance.public_url or ""
        client = sign_in(web_ctx, base, MODERATOR)
        with sync_playwright() as playwright:
            yield from _chromium(playwright, base, client.cookie or "")


def _chromium(playwright: Any, base: str, session: str) -> Iterator[Any]:
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    cookie = {"name": "mailhub_session", "value": session, "url": base}
    try:
        yield chromium, base, cookie
    finally:
        chromium.close()


def test_the_report_page_on_desktop_and_phone(moderator_browser: Any) -> None:
    chromium, base, cookie = moderator_browser
    problems = {}
    for viewport, name in ((DESKTOP, "reports"), (PHONE, "reports-phone")):
        # A moderator finds the page and picks the period with JavaScript off: the page
        # needs none.
        context = chromium.new_context(viewport=viewport, java_script_enabled=False)
        context.set_default_timeout(20_000)
        context.add_cookies([cookie])
        page = context.new_page()
        response = page.goto(base + "/c/irnet/")
        assert response is not None and response.status == 200
        page.get_by_role("link", name="Participation reports").click()
        page.get_by_label("From (YYYY-MM-DD)").fill("2026-02-01")
        page.get_by_label("to, included").fill("2026-02-28")
        page.get_by_role("button", name="Show").click()
        page.get_by_role("heading", name="Participation", exact=True).wait_for()
        url = page.url
        assert url.endswith("/c/irnet/reports?since=2026-02-01&until=2026-02-28")
        chart = page.get_by_role("img", name="Share of members, of posts and of the target")
        assert chart.is_visible()
        assert page.get_by_role("row", name="government 3 37.5 7 2 5 2 53.8 1.44").is_visible()
        context.close()
        # axe-core and the width are measured by scripts, so in a context that runs them.
        context = chromium.new_context(viewport=viewport)
        context.set_default_timeout(20_000)
        context.add_cookies([cookie])
        page = context.new_page()
        page.goto(url)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        found = serious_violations(page)
        if found:
            problems[name] = found
        if viewport is PHONE:
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        context.close()
    assert problems == {}
