"""The portal's search page: who finds what. No result, title or snippet of a community the
visitor may not read reaches them (anonymous, a member of another community, members,
moderators and admins of it), a community with no web archive is never searched, and every
result's link opens for the one who got it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from html import unescape
from urllib.parse import quote

import pytest
from conftest import derive
from portal_client import Client, sign_in
from portal_seed import AMINA, YEN_ADMIN, YEN_MEMBER, YEN_MOD, World, seed
from test_web import running_web

from mailhub.context import Context
from mailhub.models import Post, Thread
from mailhub.portal import search as search_page
from mailhub.search import index
from mailhub.search.queue import mark

_LINK = re.compile(r'<li><a href="([^"]+)">')


@pytest.fixture
def site(ctx: Context) -> Iterator[tuple[Context, World, str]]:
    world = seed(ctx)
    index.reindex(ctx)
    with running_web(ctx) as web_ctx:
        yield web_ctx, world, web_ctx.settings.instance.public_url or ""


def results(client: Client, path: str, text: str) -> tuple[int, list[str], str]:
    status, _, page = client.get(f"{path}?q={quote(text)}")
    listed = page.split('<ul class="items results">', 1)[-1].split("</ul>", 1)[0]
    found = _LINK.findall(listed) if '<ul class="items results">' in page else []
    return status, [unescape(link) for link in found], page


def test_who_finds_what(site: tuple[Context, World, str]) -> None:
    ctx, _, base = site
    viewers = {
        "anonymous": Client(base),
        "member of another community": sign_in(ctx, base, AMINA),
        "member": sign_in(ctx, base, YEN_MEMBER),
        "moderator": sign_in(ctx, base, YEN_MOD),
        "admin": sign_in(ctx, base, YEN_ADMIN),
    }
    for who, client in viewers.items():
        reads_yen = who in ("member", "moderator", "admin")
        for text in ("secret", "secret community:yen", "secret in:post", "conversation"):
            status, links, page = results(client, "/search", text)
            assert status == 200, (who, text)
            assert ("SECRET-YEN" in page) == reads_yen, (who, text)
            assert "SECRET-QUIET" not in page and "/c/quiet/" not in page, (who, text)
            assert all(link.startswith("/c/yen/") == reads_yen for link in links), (who, text)
            for link in links:  # each result opens for whoever was shown it
                assert client.get(link.split("#")[0])[0] == 200, (who, link)
        status, links, page = results(client, "/c/yen/search", "secret")
        assert status == (200 if reads_yen else 404), who
        assert bool(links) == reads_yen, who
        assert results(client, "/c/quiet/search", "secret")[0] == 404, who


def test_results_have_marked_snippets_filters_and_pages(
    site: tuple[Context, World, str],
) -> None:
    _, world, base = site
    client = Client(base)
    status, links, page = results(client, "/c/irnet/search", "tripartite")
    assert status == 200
    assert links == [f"/c/irnet/t/{world.ids['thread']}#p{world.ids['reply']}"]
    assert "<mark>tripartite</mark> council" in page
    assert "<script>" not in page.split("results", 1)[-1]  # hostile text is escaped
    status, _, page = client.get("/c/irnet/search?q=councils&in=synopsis")
    assert status == 200 and f'href="/c/irnet/d/{world.ids["discussion"]}"' in page
    assert "Synopsis: Minimum wage councils" in page
    status, _, page = client.get("/search?q=councils&in=resource&theme=skills")
    assert f'href="/c/irnet/resources/{world.ids["resource"]}"' in page
    status, _, page = client.get("/search?q=in%3Aforum")
    assert status == 400 and "in:forum: choose from" in page
    status, _, page = client.get("/search")
    assert status == 200 and 'name="q"' in page and "Nothing found" not in page


def test_a_visitor_finds_an_item_once_it_is_indexed(site: tuple[Context, World, str]) -> None:
    """The index catches up after the change that bumped the portal's change count, so a
    search page kept for visitors would go on showing the results from before."""
    ctx, world, base = site
    visitor = Client(base)
    with ctx.session() as session:
        post = session.get(Post, world.ids["reply"])
        assert post is not None
        post.body_text += " zebrafinch"
        session.add(post)
        mark(session, "post", [post.id])
        session.commit()
    assert results(visitor, "/search", "zebrafinch")[1] == []
    index.catch_up(ctx)
    links = results(visitor, "/search", "zebrafinch")[1]
    assert [link.split("#")[0] for link in links] == [f"/c/irnet/t/{world.ids['thread']}"], links


def test_a_page_number_that_is_no_number_shows_the_first_page(
    site: tuple[Context, World, str],
) -> None:
    """Anyone can type the address: a page that is not a plain number (a superscript digit)
    is page 1, and one with more digits than int() reads is the last, never an error."""
    _, world, base = site
    client = Client(base)
    first = f"/c/irnet/t/{world.ids['thread']}"
    for page in ("%C2%B2", "-2", "x", "0"):
        status, _, body = client.get(f"/c/irnet/search?q=tripartite&page={page}")
        assert status == 200, page
        assert f'href="{first}#p{world.ids["reply"]}"' in body, page
    status, _, body = client.get("/c/irnet/search?q=tripartite&page=" + "9" * 5000)
    assert status == 200 and "&amp;page=49" in body  # the last page, linking back


_PAGES = re.compile(r'<a rel="(prev|next)" href="([^"]+)">')


def seed_zebrafinches(ctx: Context, count: int = 12) -> None:
    """The portal's world, and ``count`` posts of irnet (public) that say "zebrafinch"."""
    world = seed(ctx)
    with ctx.session() as session:
        thread = session.get(Thread, world.ids["thread"])
        assert thread is not None
        for n in range(count):
            session.add(
                Post(
                    community_id=thread.community_id,
                    thread_id=thread.id,
                    message_id=f"<zebrafinch{n}@example.org>",
                    subject="Notes",
                    status="approved",
                    body_text=f"Zebrafinch count {n}.",
                    received_at=ctx.now() - timedelta(hours=n),
                )
            )
    index.reindex(ctx)


def test_the_page_links_walk_through_every_result_once(ctx: Context) -> None:
    """Following "More results" as a visitor would, five results a page, reaches each
    result of the one-page answer once, in its order, and "Previous results" leads back."""
    seed_zebrafinches(ctx)
    with running_web(ctx) as web_ctx:
        whole = results(Client(web_ctx.settings.instance.public_url or ""), "/search", "zebrafinch")
    assert whole[0] == 200 and len(whole[1]) == 12, whole[1]
    with running_web(derive(ctx, search={"results_per_page": 5})) as web_ctx:
        client = Client(web_ctx.settings.instance.public_url or "")
        walked: list[str] = []
        path: str | None = "/search?q=zebrafinch"
        before = ""
        while path is not None:
            status, _, page = client.get(path)
            assert status == 200, path
            listed = page.split('<ul class="items results">', 1)[-1].split("</ul>", 1)[0]
            walked += [unescape(link) for link in _LINK.findall(listed)]
            pages = {rel: "/search" + unescape(href) for rel, href in _PAGES.findall(page)}
            if before:  # the same page but for where "sign in" comes back to
                after_header = client.get(pages["prev"])[2].split("</header>", 1)[1]
                assert after_header == before.split("</header>", 1)[1], path
            before, path = page, pages.get("next")
    assert walked == whole[1]


def test_the_last_page_offers_no_more(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages stop at MAX_PAGE: its "More results" would open the same page again."""
    monkeypatch.setattr(search_page, "MAX_PAGE", 2)
    seed_zebrafinches(ctx)
    with running_web(derive(ctx, search={"results_per_page": 5})) as web_ctx:
        client = Client(web_ctx.settings.instance.public_url or "")
        assert 'rel="next"' in client.get("/search?q=zebrafinch&page=1")[2]
        status, _, page = client.get("/search?q=zebrafinch&page=2")
        assert status == 200 and 'rel="prev"' in page and 'rel="next"' not in page


def test_a_conversation_started_by_a_reply_is_titled_without_re_and_the_tag(
    site: tuple[Context, World, str],
) -> None:
    """The first post the archive holds may be a reply ("Re: [IRNet] AW: ..."): its
    conversation is listed, titled, fed and found under the plain subject."""
    ctx, _, base = site
    raw = "Re: [IRNet] AW: Minimum wage review in Thailand"
    with ctx.session() as session:
        thread = Thread(
            community_id=1, subject=raw, normalised_subject="minimum wage review in thailand",
            created_at=ctx.now(), last_activity_at=ctx.now(), post_count=1,
        )  # fmt: skip
        session.add(thread)
        session.flush()
        session.add(
            Post(
                community_id=1, thread_id=thread.id, message_id="wage-review@example.org",
                subject=raw, body_text="The wage board met with the unions.", status="approved",
                received_at=ctx.now(),
            )
        )  # fmt: skip
        session.commit()
        path = f"/c/irnet/t/{thread.id}"
    index.reindex(ctx)
    client = Client(base)
    shown = "Minimum wage review in Thailand"
    community_page = client.get("/c/irnet/")[2]
    assert f'<a href="{path}">{shown}</a>' in community_page
    thread_page = client.get(path)[2]
    assert f"<h1>{shown}</h1>" in thread_page and f"<title>{shown} –" in thread_page
    feed = client.get(f"{path}/feed.atom")[2]
    assert f"<title>{shown}</title>" in feed and "[IRNet]" not in feed
    _, links, page = results(client, "/c/irnet/search", "wage board")
    assert links == [f"{path}#p{links[0].split('#p')[1]}"] and f">{shown}</a>" in page
    assert raw not in community_page + thread_page + page
