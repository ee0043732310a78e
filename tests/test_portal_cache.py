"""Visitors' pages kept under the store's change count, on SQLite and PostgreSQL: a kept
page answers 304 to its ETag; any change the portal shows, made by any writer straight in
the store (an approval, an edit, a removal, a community closed to visitors), is on the
next page at once; writes the portal never shows leave the count alone; and a signed-in
reader's pages, sign-in pages and "not found" answers are never kept."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from portal_client import Client, seeded_portal, sign_in
from portal_seed import AMINA, World
from sqlmodel import select
from starlette.responses import HTMLResponse, RedirectResponse

from mailhub.communities import get_community
from mailhub.context import Context
from mailhub.members import find_person
from mailhub.models import Membership, Post, Thread
from mailhub.moderation.actions import decide
from mailhub.portal.cache import MAX_BODY, PageCache, cache_for


@pytest.fixture
def site(ctx: Context) -> Iterator[tuple[Context, World, str]]:
    with seeded_portal(ctx) as site:
        yield site


def test_a_kept_page_is_never_stale(site: tuple[Context, World, str]) -> None:
    ctx, world, base = site
    visitor = Client(base)
    path = world.paths["thread"]
    status, headers, page = visitor.get(path)
    assert status == 200 and "HELD-POST-TEXT" not in page
    assert headers["cache-control"] == "no-cache" and headers["etag"]
    assert headers["vary"] == "cookie"
    assert visitor.get(path)[1]["etag"] == headers["etag"]
    status, again, body = visitor.request("GET", path, headers={"If-None-Match": headers["etag"]})
    assert (status, body, again["etag"]) == (304, "", headers["etag"])

    def after(change: object) -> str:
        status, headers_now, page = visitor.request(
            "GET", path, headers={"If-None-Match": headers["etag"]}
        )
        assert status == 200, change  # not 304: the page changed
        headers.update(headers_now)
        return page

    with ctx.session() as session:  # an approval, as a worker in another process makes it
        held = session.exec(select(Post).where(Post.status == "held")).first()
        assert held is not None and held.thread_id == world.ids["thread"]
        decide(ctx, session, held, "approve", by=None, via="cli")
    assert "HELD-POST-TEXT" in after("approval")
    with ctx.session() as session:  # an edit
        thread = session.get(Thread, world.ids["thread"])
        assert thread is not None
        thread.subject = "Platform work, renamed"
        session.add(thread)
    assert "Platform work, renamed" in after("edit")
    with ctx.session() as session:  # a removal
        post = session.get(Post, world.ids["reply"])
        assert post is not None
        post.status = "discarded"
        session.add(post)
    assert "tripartite council" not in after("removal")
    with ctx.session() as session:  # an author's profile
        person = find_person(session, AMINA)
        assert person is not None
        person.organisation = "Renamed Congress"
        session.add(person)
    assert "Renamed Congress" in after("profile")
    with ctx.session() as session:  # closed to visitors
        get_community(session, "irnet").archive = "members"
    assert visitor.get(path)[0] == 404
    assert visitor.get("/")[2].count("IRNet") == 0


def test_writes_the_portal_does_not_show_leave_the_count(
    site: tuple[Context, World, str],
) -> None:
    ctx, world, _ = site
    pages = cache_for(ctx.engine)
    before = pages.mark()
    with ctx.session() as session:
        irnet = get_community(session, "irnet")
        session.add(
            Post(
                community_id=irnet.id or 0, thread_id=world.ids["thread"], message_id="new@x",
                status="held", received_at=ctx.now(), body_text="waiting",
            )
        )  # fmt: skip
        for membership in session.exec(select(Membership)):
            membership.last_digest_at = ctx.now() - timedelta(hours=1)
            session.add(membership)
        thread = session.get(Thread, world.ids["thread"])
        assert thread is not None
        thread.post_count += 1  # as the intake counts a held post in
        thread.last_activity_at = ctx.now()
        person = find_person(session, AMINA)
        assert person is not None
        person.bounce_score = 1.0
        session.add_all([thread, person])
    assert pages.mark() == before
    with ctx.session() as session:
        post = session.exec(select(Post).where(Post.message_id == "new@x")).one()
        post.status = "approved"
        session.add(post)
    assert pages.mark() > before


def test_signed_in_readers_and_sign_in_pages_are_not_kept(site: tuple[Context, World, str]) -> None:
    ctx, world, base = site
    member = sign_in(ctx, base, AMINA)
    status, headers, page = member.get(world.paths["thread"])
    assert status == 200 and "Sign out" in page
    assert headers["cache-control"] == "no-store" and "etag" not in headers
    status, headers, page = Client(base).get(world.paths["thread"])
    assert "Sign out" not in page and "etag" in headers
    # Nor sign-in pages (their addresses carry tokens), nor "not found" answers.
    for path in ("/signin?next=/c/irnet/", "/signin/some-token", "/me", "/c/irnet/t/999999"):
        headers = Client(base).get(path)[1]
        assert headers["cache-control"] == "no-store" and "etag" not in headers, path


def test_the_least_recently_read_page_goes_first_and_big_pages_are_not_kept(
    ctx: Context,
) -> None:
    pages = PageCache(ctx.engine, budget=250)
    assert pages.put("/a", 1, HTMLResponse("a" * 100)) is not None
    assert pages.put("/b", 1, HTMLResponse("b" * 100)) is not None
    assert pages.get("/a", 1) is not None  # read: /b is now the least recent
    assert pages.put("/c", 1, HTMLResponse("c" * 100)) is not None
    assert pages.get("/b", 1) is None
    assert pages.get("/a", 1) is not None and pages.get("/c", 1) is not None
    assert pages.get("/a", 2) is None  # kept under an older count: stale
    assert pages.put("/big", 1, HTMLResponse("x" * (MAX_BODY + 1))) is None
    assert pages.put("/moved", 1, RedirectResponse("/")) is None
    assert pages.get("/big", 1) is None and pages.get("/moved", 1) is None
