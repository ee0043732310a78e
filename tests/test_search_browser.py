"""The search page in a real headless Chromium: a visitor types words, picks a filter,
submits the form (no JavaScript needed), sees marked snippets, follows a result, on a
desktop and a phone, with no serious accessibility violation (axe-core)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from portal_seed import World, seed
from test_portal_browser import DESKTOP, PHONE, serious_violations, shoot
from test_portal_browser import browser as browser  # a fixture
from test_web import CHROMIUM, running_web

from mailhub.context import Context
from mailhub.search import index

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium installed")


@pytest.fixture
def site(sqlite_ctx: Context) -> Iterator[tuple[Context, World, str]]:
    world = seed(sqlite_ctx)
    index.reindex(sqlite_ctx)
    with running_web(sqlite_ctx) as web_ctx:
        yield web_ctx, world, web_ctx.settings.instance.public_url or ""


def test_a_visitor_searches_and_opens_a_result(
    site: tuple[Context, World, str], browser: Any
) -> None:
    _, world, base = site
    for viewport, suffix in ((DESKTOP, ""), (PHONE, "-phone")):
        context = browser.new_context(viewport=viewport, java_script_enabled=False)
        context.set_default_timeout(20_000)
        page = context.new_page()
        page.goto(base + "/c/irnet/")
        page.click("text=Search")
        page.fill("#s-q", "councils")
        page.select_option("#s-in", "synopsis")
        page.click("button:has-text('Search')")
        assert "q=councils" in page.url and "in=synopsis" in page.url
        assert page.inner_text("ul.results mark") == "Councils"
        results = page.url
        page.click("ul.results a")
        # The address changes when the navigation commits; the page is read once loaded
        # (read at once on a busy machine, it was still empty).
        page.wait_for_load_state()
        assert page.url.endswith(f"/c/irnet/d/{world.ids['discussion']}")
        assert "SYNOPSIS-TEXT" in page.content()
        context.close()
        # axe-core runs as a script, so in a context that runs scripts (evaluating one
        # where scripts are off waits for ever).
        context = browser.new_context(viewport=viewport)
        context.set_default_timeout(20_000)
        page = context.new_page()
        page.goto(results)
        shoot(page, "search" + suffix)
        assert serious_violations(page) == []
        context.close()
