"""The portal in a real headless Chromium on the real uvicorn server: a visitor clicks
through, a member signs in with the code from their mail and changes their choices, a
moderator decides in the web queue, and every page kind is photographed (desktop and
phone, in tests/artifacts/) and checked by axe-core for serious or critical accessibility
violations. Without Chromium the tests skip, except under CI=true, where a missing
browser fails."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from portal_client import link_and_code
from portal_seed import AMINA, MOD, YEN_MEMBER, World, seed
from sqlmodel import select
from test_web import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, running_web

from mailhub.communities import get_community
from mailhub.context import Context
from mailhub.members import find_person
from mailhub.models import Decision, Membership, Post
from mailhub.moderation.actions import hold_all

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


def browser_sign_in(page: Any, ctx: Context, base: str, email: str, next_path: str) -> None:
    """Sign in as a member does: ask on the page, type the code from the mail."""
    page.goto(f"{base}/signin?next={next_path}")
    page.get_by_label("Your email address").fill(email)
    page.get_by_role("button", name="Send me a sign-in link").click()
    page.get_by_role("heading", name="Check your mail").wait_for()
    _, code = link_and_code(ctx, email)
    page.get_by_label("Code").fill(code)
    page.get_by_role("button", name="Sign in").click()


def test_a_member_changes_their_choices_on_their_page(
    site: tuple[Context, World, str], browser: Any
) -> None:
    ctx, _, base = site
    page = browser.new_page(viewport=PHONE)
    browser_sign_in(page, ctx, base, AMINA, "/me")
    page.get_by_role("heading", name="My membership").wait_for()
    assert serious_violations(page) == []
    page.get_by_label("A digest of the posts").check()
    page.get_by_label("One plain text (RFC 1153)").check()
    page.get_by_label("Only my themes:").check()
    page.get_by_label("Green jobs").check()
    page.get_by_label("Remind me of events before they start").uncheck()
    page.get_by_role("button", name="Save my choices for IRNet").click()
    page.get_by_text("Your choices for IRNet are saved").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shoot(page, "member-page-phone")
    page.get_by_label("Organisation").fill("Thai Labour Congress")
    page.get_by_role("button", name="Save my profile").click()
    page.get_by_text("Your profile is saved").wait_for()
    with ctx.session() as session:
        person = find_person(session, AMINA)
        assert person is not None and person.organisation == "Thai Labour Congress"
        membership = session.exec(select(Membership).where(Membership.person_id == person.id)).one()
    assert (membership.delivery, membership.digest_format, membership.themes) == (
        "digest",
        "rfc1153",
        ["green-jobs"],
    )
    assert membership.only_my_themes and not membership.event_reminders
    page.set_viewport_size(DESKTOP)
    shoot(page, "member-page")
    page.close()


def test_a_moderator_decides_in_the_web_queue(
    site: tuple[Context, World, str], browser: Any
) -> None:
    ctx, world, base = site
    with ctx.session() as session:
        irnet = get_community(session, "irnet")
        waiting = list(session.exec(select(Post).where(Post.status == "held")))
        hold_all(ctx, session, [(irnet, p, "not a member of IRNet; 2 links") for p in waiting])
        ids = [p.id for p in waiting]
    page = browser.new_page(viewport=DESKTOP)
    browser_sign_in(page, ctx, base, MOD, "/c/irnet/")
    page.get_by_role("link", name="Moderation queue").click()
    page.get_by_role("heading", name="Moderation queue").wait_for()
    assert page.get_by_text("not a member of IRNet; 2 links").count() == len(ids)
    assert serious_violations(page) == []
    shoot(page, "moderation-queue")
    first = page.locator(f"#item-{ids[1]}")
    first.get_by_label("Reason, if you reject").fill("Please post in English")
    first.get_by_role("button", name="Reject").click()
    page.get_by_text("rejected by Maria Mod").wait_for()
    page.locator(f"#item-{ids[0]}").get_by_role("button", name="Approve").click()
    page.get_by_text("approved by Maria Mod").wait_for()
    assert page.get_by_text("Nothing is waiting.").is_visible()
    page.set_viewport_size(PHONE)
    shoot(page, "moderation-queue-result-phone")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    with ctx.session() as session:
        found = {p.id: (p.status, p.reason) for p in session.exec(select(Post))}
        via = session.exec(select(Decision.via).where(Decision.action == "approve")).all()
    assert found[ids[1]] == ("rejected", "Please post in English")
    assert found[ids[0]][0] == "approved" and via == ["web"]
    page.close()
    visitor = browser.new_page()  # a visitor, served from the cache: it shows the post at once
    visitor.goto(base + world.paths["thread"])
    visitor.get_by_text("HELD-POST-TEXT").wait_for()
    visitor.close()
