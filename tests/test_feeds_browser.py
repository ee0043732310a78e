"""Feeds and downloads in a real headless Chromium: pages advertise their feeds
(``<link rel="alternate">``) and show them; following a feed link gives Atom that a feed
parser reads, following a calendar link a calendar, and the mbox link downloads a file
that Python's mailbox module reads. A signed-in member's browser reads the members-only
feed through its session."""

from __future__ import annotations

import mailbox
from pathlib import Path
from typing import Any

import feedparser
import icalendar
from portal_seed import SECRET_THREAD, YEN_MEMBER, World
from test_portal_browser import (  # noqa: F401  (fixtures)
    DESKTOP,
    PHONE,
    browser,
    pytestmark,
    serious_violations,
    shoot,
    site,
)

from mailhub.context import Context


def advertised(page: Any) -> list[str]:
    return page.locator('head link[rel="alternate"][type="application/atom+xml"]').evaluate_all(
        "links => links.map(l => l.href)"
    )


def followed_atom(page: Any, name: str) -> Any:
    """Click the visible link ``name`` and read what the browser received."""
    with page.expect_response(lambda r: r.url.endswith(".atom")) as answer:
        page.get_by_role("link", name=name).click()
    response = answer.value
    assert response.status == 200
    assert response.headers["content-type"].startswith("application/atom+xml")
    parsed = feedparser.parse(response.body())
    assert not parsed.bozo and parsed.version == "atom10"
    return parsed


def test_a_visitor_finds_and_follows_the_feeds_and_downloads_a_conversation(
    site: tuple[Context, World, str],  # noqa: F811
    browser: Any,  # noqa: F811
    tmp_path: Path,
) -> None:
    _, world, base = site
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    page.goto(base + "/c/irnet/")
    assert advertised(page) == [base + "/c/irnet/feed.atom", base + "/c/irnet/synopses.atom"]
    shoot(page, "feeds-community")
    for href in advertised(page):
        reply = page.request.get(href)
        assert reply.ok and not feedparser.parse(reply.body()).bozo, href
    parsed = followed_atom(page, "new posts (Atom feed)")
    texts = " ".join(entry.content[0].value for entry in parsed.entries)
    assert "How do your ministries consult unions?" in texts

    page.goto(base + "/c/irnet/")
    with page.expect_download() as calendar:  # a browser hands a calendar to its program
        page.get_by_role("link", name="events (calendar to subscribe to)").click()
    events = icalendar.Calendar.from_ical(Path(calendar.value.path()).read_bytes())
    assert [str(e["summary"]) for e in events.walk("VEVENT")] == ["Regional workshop"]

    page.goto(f"{base}/c/irnet/t/{world.ids['thread']}")
    assert advertised(page) == [f"{base}/c/irnet/t/{world.ids['thread']}/feed.atom"]
    with page.expect_download() as download:
        page.get_by_role("link", name="Download it (mbox)").click()
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    assert path.name == f"irnet-conversation-{world.ids['thread']}.mbox"
    assert len(list(mailbox.mbox(path, create=False))) == 2
    page.goto(f"{base}/c/irnet/t/{world.ids['thread']}")
    assert len(followed_atom(page, "Follow this conversation (Atom feed)").entries) == 2
    page.goto(base + "/themes/skills/")
    assert advertised(page) == [base + "/themes/skills/feed.atom"]
    context.close()


def test_a_signed_in_member_reads_the_members_only_feed(
    site: tuple[Context, World, str],  # noqa: F811
    browser: Any,  # noqa: F811
) -> None:
    ctx, _, base = site
    from portal_client import sign_in

    client = sign_in(ctx, base, YEN_MEMBER)
    context = browser.new_context()
    host = base.split("//", 1)[1].split(":")[0]
    context.add_cookies(
        [{"name": "mailhub_session", "value": client.cookie, "domain": host, "path": "/"}]
    )
    page = context.new_page()
    page.goto(base + "/c/yen/")
    assert advertised(page) == [base + "/c/yen/feed.atom", base + "/c/yen/synopses.atom"]
    parsed = followed_atom(page, "new posts (Atom feed)")
    assert SECRET_THREAD in parsed.entries[0].content[0].value

    # Their own addresses, for a feed reader that cannot sign in.
    page.goto(base + "/c/yen/")
    page.get_by_role("link", name="my private feed addresses, for feed readers").click()
    page.get_by_role("button", name="Make my feed addresses").click()
    page.get_by_role("status").wait_for()
    address = page.get_by_label("New posts (Atom)").input_value()
    assert address.startswith(base + "/c/yen/feed.atom?key=")
    shoot(page, "my-feeds")
    assert serious_violations(page) == []
    # On a phone the addresses and the bare key wrap or scroll inside their boxes.
    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.set_viewport_size(DESKTOP)
    reader = browser.new_context()  # no cookie: only the address
    assert SECRET_THREAD in reader.request.get(address).text()
    page.get_by_role("button", name="Revoke my feed addresses").click()
    page.get_by_text("Your feed addresses are revoked").wait_for()
    assert reader.request.get(address).status == 404
    reader.close()
    context.close()
    anonymous = browser.new_page()
    assert anonymous.request.get(base + "/c/yen/feed.atom").status == 404
    anonymous.close()
