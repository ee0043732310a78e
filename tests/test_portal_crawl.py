"""Two or three clicks away: a crawler that starts at a community's home and follows only
the portal's own links reaches every conversation, discussion, synopsis, news item, event
and resource of the community within three clicks, with conversations over many months
and pages, and events long past."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from html import unescape

import pytest
from portal_seed import World, _post, _thread, seed
from sqlmodel import col, select
from test_web import fetch, running_web

from mailhub.communities import get_community
from mailhub.context import Context
from mailhub.models import Discussion, Event, NewsItem, Resource, Thread

HREF = re.compile(r'href="(/[^"#?]*)(?:\?[^"#]*)?(#[^"]*)?"')


@pytest.fixture
def site(sqlite_ctx: Context) -> Iterator[tuple[Context, World, str]]:
    ctx = sqlite_ctx
    world = seed(ctx)
    with ctx.session() as session:
        irnet = get_community(session, "irnet")
        for n in range(180):  # six months of conversations, far past one page
            when = ctx.now() - timedelta(days=n)
            _post(session, _thread(session, irnet, f"Topic {n}", when), 1, when, body_text="x")
        for n in range(70):
            session.add(
                Event(
                    community_id=irnet.id or 0, uid=f"old{n}@example.org", title=f"Old {n}",
                    starts_at=ctx.now() - timedelta(days=30 + n), status="approved",
                    created_at=ctx.now(),
                )
            )  # fmt: skip
    with running_web(ctx) as web_ctx:
        yield web_ctx, world, web_ctx.settings.instance.public_url or ""


def crawl(base: str, start: str, depth: int) -> dict[str, int]:
    """Every page reached from ``start`` by following links, with its number of clicks."""
    seen = {start: 0}
    frontier = [start]
    for clicks in range(1, depth + 1):
        following = []
        for path in frontier:
            status, _, page = fetch("GET", base + path)
            assert status == 200, path
            for found in HREF.finditer(page):
                target = unescape(found.group(1))
                if not target.startswith("/c/irnet/") or target in seen:
                    continue
                seen[target] = clicks
                if not target.endswith((".ics", "/file")) and "/files/" not in target:
                    following.append(target)
        frontier = following
    return seen


def test_everything_is_at_most_three_clicks_from_the_community_home(
    site: tuple[Context, World, str],
) -> None:
    ctx, _, base = site
    reached = crawl(base, "/c/irnet/", 3)
    with ctx.session() as session:
        irnet = get_community(session, "irnet")
        published = session.exec(
            select(Thread.id).where(
                Thread.community_id == irnet.id, Thread.subject != "HELD-ONLY-THREAD"
            )
        ).all()
        wanted = {f"/c/irnet/t/{i}" for i in published}
        wanted |= {
            f"/c/irnet/d/{i}"
            for i in session.exec(select(Discussion.id).where(Discussion.community_id == irnet.id))
        }
        wanted |= {
            f"/c/irnet/news/{i}"
            for i in session.exec(select(NewsItem.id).where(NewsItem.community_id == irnet.id))
        }
        wanted |= {
            f"/c/irnet/events/{i}"
            for i in session.exec(select(col(Event.id)).where(Event.community_id == irnet.id))
        }
        wanted |= {
            f"/c/irnet/resources/{i}"
            for i in session.exec(select(Resource.id).where(Resource.community_id == irnet.id))
        }
    assert len(wanted) > 250
    missing = sorted(wanted - set(reached))
    assert missing == []
    # The synopses are on their discussions' pages, linked from the home itself.
    home = fetch("GET", base + "/c/irnet/")[2]
    assert re.search(r'href="/c/irnet/d/\d+#synopsis"', home)
