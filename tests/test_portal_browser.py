"""The portal in a real headless Chromium on the real uvicorn server: a visitor clicks
through, a member signs in with the code from their mail, and every page kind is
photographed (desktop and phone, in tests/artifacts/) and checked by axe-core for serious
or critical accessibility violations. Without Chromium the tests skip, except under
CI=true, where a missing browser fails."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from portal_client import link_and_code
from portal_seed import YEN_MEMBER, World, seed
from test_web import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, running_web

from mailhub.context import Context

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}

if CHROMIUM is None and os.environ.get("CI") == "true":
    raise RuntimeError("CI=true but no chromium is installed: the browser tests cannot run")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium installed")


@pytest.fixture
def site(sqlite_ctx: Context) -> Iterator[tuple[Context, World, str]]:
    world = seed(sqlite_ctx)
    with running_web(sqlite_ctx) as web_ctx:
        yield web_ctx, world, web_ctx.settings.instance.public_url or ""


@pytest.fixture
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def serious_violations(page: Any) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    found = Axe().run(page).response["violations"]
    return [
        f"{v['id']}: {v['help']} ({len(v['nodes'])}x)"
        for v in found
        if v.get("impact") in ("serious", "critical")
    ]


def shoot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"portal-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def test_every_page_kind_on_desktop_and_phone_passes_axe(
    site: tuple[Context, World, str], browser: Any
) -> None:
    _, world, base = site
    pages = {**world.paths, "signin": "/signin", "not-found": "/c/yen/"}
    problems = {}
    for viewport, suffix in ((DESKTOP, ""), (PHONE, "-phone")):
        context = browser.new_context(viewport=viewport)
        page = context.new_page()
        for name, path in pages.items():
            response = page.goto(base + path)
            assert response is not None
            assert response.status == (404 if name == "not-found" else 200), name
            shoot(page, name + suffix)
            found = serious_violations(page)
            if found:
                problems[name + suffix] = found
            # Nothing is wider than a phone's screen (no sideways scrolling of the page).
            if suffix:
                width = page.evaluate("document.documentElement.scrollWidth")
                assert width <= PHONE["width"], (name, width)
        context.close()
    assert problems == {}


def test_a_visitor_clicks_from_the_home_to_a_post_and_its_discussion(
    site: tuple[Context, World, str], browser: Any
) -> None:
    _, _, base = site
    page = browser.new_page()
    page.goto(base + "/")
    page.get_by_role("link", name="IRNet").click()
    page.get_by_role("heading", name="IRNet", exact=True).wait_for()
    page.get_by_role("link", name="Platform work", exact=False).first.click()
    page.get_by_text("How do your ministries consult unions?").wait_for()
    assert page.get_by_text("the earlier words").is_hidden()
    page.get_by_text("Show the quoted text").click()
    assert page.get_by_text("the earlier words").is_visible()
    page.goto(base + "/c/irnet/")
    page.get_by_role("link", name="Synopsis: Minimum wage councils").click()
    page.get_by_text("SYNOPSIS-TEXT").wait_for()
    shoot(page, "walk-synopsis")
    page.close()


def test_a_member_signs_in_with_the_code_from_the_mail_and_out_again(
    site: tuple[Context, World, str], browser: Any
) -> None:
    ctx, _, base = site
    page = browser.new_page(viewport=PHONE)
    response = page.goto(base + "/c/yen/")
    assert response is not None and response.status == 404
    page.get_by_role("link", name="sign in").first.click()
    page.get_by_label("Your email address").fill(YEN_MEMBER)
    page.get_by_role("button", name="Send me a sign-in link").click()
    page.get_by_role("heading", name="Check your mail").wait_for()
    shoot(page, "signin-sent-phone")
    _, code = link_and_code(ctx, YEN_MEMBER)
    page.get_by_label("Code").fill(code)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Youth Employment Network").wait_for()
    assert page.url == base + "/c/yen/"
    assert page.get_by_text("SECRET-YEN-CONVERSATION").count() >= 1
    shoot(page, "member-community-phone")
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("heading", name="the networks").wait_for()
    assert page.goto(base + "/c/yen/").status == 404  # type: ignore[union-attr]
    page.close()
