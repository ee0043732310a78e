"""Atom and calendar feeds: valid Atom (read by feedparser), ids stable, every link opens
its post on the portal, authors by name and no address anywhere; a members-only
community's feeds open for its members through their session or their feed key (made and
revoked with `mailhub member feed-url|feed-revoke`), and close when the key is revoked,
replaced, or its member leaves. The access matrix (test_portal_access.py) covers every
feed and mbox URL for every kind of reader."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import feedparser
import icalendar
import pytest
from portal_client import Client, sign_in
from portal_seed import AMINA, MOD, SECRET_THREAD, YEN_MEMBER, World, seed
from sqlmodel import col, select
from test_web import running_web

from mailhub.context import Context
from mailhub.models import Community, Discussion, FeedKey, Person, Post, Thread

ADDRESS = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
PUBLIC_FEEDS = ("/c/irnet/feed.atom", "/themes/skills/feed.atom", "/c/irnet/synopses.atom")


@pytest.fixture
def site(ctx: Context, config_path: Path) -> Iterator[tuple[Context, World, str]]:
    world = seed(ctx)
    with running_web(ctx) as web_ctx:
        base = web_ctx.settings.instance.public_url or ""
        # The command line makes feed addresses for this portal.
        text = config_path.read_text().replace(
            "[instance]\n", f'[instance]\npublic_url = "{base}"\n'
        )
        config_path.write_text(text)
        yield web_ctx, world, base


def atom(client: Client, path: str) -> Any:
    status, headers, text = client.get(path)
    assert status == 200, (path, status)
    assert headers["content-type"] == "application/atom+xml; charset=utf-8"
    parsed = feedparser.parse(text)
    assert not parsed.bozo, (path, parsed.get("bozo_exception"))
    assert parsed.version == "atom10"
    assert "<script" not in text and not ADDRESS.search(text.replace("lists.example.org", "")), path
    return parsed


def test_public_feeds_are_valid_atom_whose_links_open_their_posts(
    site: tuple[Context, World, str],
) -> None:
    _, world, base = site
    client = Client(base)
    thread_feed = f"/c/irnet/t/{world.ids['thread']}/feed.atom"
    for path in (*PUBLIC_FEEDS, thread_feed, "/synopses.atom"):
        parsed = atom(client, path)
        again = atom(client, path)
        assert [e.id for e in parsed.entries] == [e.id for e in again.entries]
        assert parsed.feed.updated and parsed.feed.id == base + path
        links = {link.rel: link.href for link in parsed.feed.links}
        assert (
            links["self"] == base + path and client.get(links["alternate"][len(base) :])[0] == 200
        )
        for entry in parsed.entries:
            assert entry.id.startswith("tag:lists.example.org,") and entry.updated
            assert "@" not in entry.author
            page, _, anchor = entry.link[len(base) :].partition("#")
            status, _, html = client.get(page)
            assert status == 200 and (not anchor or f'id="{anchor}"' in html), entry.link
    posts = atom(client, "/c/irnet/feed.atom").entries
    assert {e.author for e in posts} == {"Amina Rahman", "guest"}
    assert {e.link.rsplit("#p", 1)[1] for e in posts} == {str(world.ids["reply"]), "1", "5"}
    text = " ".join(e.content[0].value for e in posts)
    assert "HELD-POST-TEXT" not in text and SECRET_THREAD not in text
    thread = atom(client, thread_feed)
    assert len(thread.entries) == 2 and thread.feed.title.startswith("Platform work")
    synopses = atom(client, "/c/irnet/synopses.atom").entries
    assert [e.title for e in synopses] == ["Synopsis: Minimum wage councils"]
    assert "SYNOPSIS-TEXT" in synopses[0].content[0].value
    assert synopses[0].link == f"{base}/c/irnet/d/{world.ids['discussion']}"
    assert client.get("/themes/no-such-theme/feed.atom")[0] == 404
    assert client.get(f"/c/irnet/t/{world.ids['held_thread']}/feed.atom")[0] == 404


def test_a_moderator_named_by_an_address_is_the_same_name_in_feeds_and_pages(
    site: tuple[Context, World, str],
) -> None:
    """A name that is an address (as a member import may leave it) is shown the same way
    wherever the moderator appears: on their post, in the post feeds, as the synopsis's
    author."""
    ctx, world, base = site
    discussion_id = world.ids["discussion"]
    with ctx.session() as session:
        moderator = session.exec(select(Person).where(Person.email == MOD)).one()
        moderator.name = MOD
        discussion = session.get(Discussion, discussion_id)
        thread = session.exec(select(Thread).where(Thread.discussion_id == discussion_id)).one()
        assert discussion is not None
        discussion.moderator_id = moderator.id
        first = session.exec(
            select(Post).where(Post.thread_id == thread.id).order_by(col(Post.id))
        ).first()
        assert first is not None
        session.add(
            Post(
                community_id=thread.community_id, thread_id=thread.id, person_id=moderator.id,
                message_id="mod-answer@example.org", author_email=MOD, author_name=MOD,
                received_at=first.received_at + timedelta(minutes=5), status="approved",
                body_text="MODERATOR-ANSWER", full_text="MODERATOR-ANSWER",
            )
        )  # fmt: skip
        session.add_all([moderator, discussion])
    client = Client(base)
    page = client.get(f"/c/irnet/d/{discussion_id}")[2]
    shown = re.findall(r'<span class="author">([^<]*)</span>', page)
    assert "maria.mod" in shown and MOD not in page
    posts = atom(client, "/c/irnet/feed.atom").entries
    assert [e.author for e in posts if "MODERATOR-ANSWER" in e.content[0].value] == ["maria.mod"]
    synopses = atom(client, "/c/irnet/synopses.atom").entries
    assert [e.author for e in synopses] == ["maria.mod"]


def test_calendar_feeds_hold_the_events_readers_may_read(
    site: tuple[Context, World, str],
) -> None:
    ctx, _, base = site
    anonymous, member = Client(base), sign_in(ctx, base, YEN_MEMBER)
    for client, path, expected in (
        (anonymous, "/c/irnet/events.ics", ["Regional workshop"]),
        (anonymous, "/themes/skills/events.ics", ["Regional workshop"]),
        (member, "/c/yen/events.ics", ["SECRET-YEN-EVENT"]),
    ):
        status, headers, text = client.get(path)
        assert status == 200 and headers["content-type"].startswith("text/calendar")
        calendar = icalendar.Calendar.from_ical(text)
        assert [str(e["summary"]) for e in calendar.walk("VEVENT")] == expected
    assert anonymous.get("/c/yen/events.ics")[0] == 404


def secret_synopsis(ctx: Context) -> None:
    with ctx.session() as session:
        yen = session.exec(select(Community).where(Community.slug == "yen")).one()
        session.add(
            Discussion(
                community_id=yen.id or 0, title="Yen wages", question="q", state="summarised",
                synopsis="SECRET-YEN-SYNOPSIS", synopsis_at=ctx.now(), created_at=ctx.now(),
            )
        )  # fmt: skip


def key_of(output: str) -> str:
    found = re.findall(r"\?key=([\w-]+)", output)
    assert found and len(set(found)) == 1, output
    return found[0]


def test_a_feed_key_opens_only_its_members_feeds_until_revoked(
    site: tuple[Context, World, str], run_cli: Callable[..., Any]
) -> None:
    ctx, world, base = site
    result = run_cli("member", "feed-url", YEN_MEMBER, "-c", "yen")
    assert result.exit_code == 0, result.output
    assert f"{base}/c/yen/feed.atom?key=" in result.output
    assert f"{base}/c/yen/events.ics?key=" in result.output
    key = key_of(result.output)
    with ctx.session() as session:
        stored = session.exec(select(FeedKey)).all()
    assert len(stored) == 1 and key not in stored[0].digest and len(stored[0].digest) == 64

    secret_synopsis(ctx)
    reader = Client(base)  # a feed reader: no cookie, only the address
    for client in (reader, sign_in(ctx, base, AMINA)):
        assert "SECRET-YEN-SYNOPSIS" not in client.get("/synopses.atom")[2]
    assert "SECRET-YEN-SYNOPSIS" in reader.get(f"/synopses.atom?key={key}")[2]
    secret_feeds = (
        "/c/yen/feed.atom",
        f"/c/yen/t/{world.ids['secret_thread']}/feed.atom",
        "/themes/skills/feed.atom",
    )
    for path in secret_feeds:
        parsed = atom(reader, f"{path}?key={key}")
        assert SECRET_THREAD in " ".join(e.content[0].value for e in parsed.entries), path
    assert reader.get(f"/c/yen/events.ics?key={key}")[0] == 200
    # A feed key is for feeds: it opens no page and no download.
    for path in ("/c/yen/", f"/c/yen/t/{world.ids['secret_thread']}.mbox"):
        assert reader.get(f"{path}?key={key}")[0] == 404, path
    for wrong in (key[:-2] + "xx", "x" * 500):
        assert reader.get(f"/c/yen/feed.atom?key={wrong}")[0] == 404

    assert run_cli("member", "feed-revoke", YEN_MEMBER).exit_code == 0
    assert reader.get(f"/c/yen/feed.atom?key={key}")[0] == 404
    assert SECRET_THREAD not in reader.get(f"/themes/skills/feed.atom?key={key}")[2]
    assert "no feed key" in run_cli("member", "feed-revoke", YEN_MEMBER).output

    first = key_of(run_cli("member", "feed-url", YEN_MEMBER, "-c", "yen").output)
    second = key_of(run_cli("member", "feed-url", YEN_MEMBER, "-c", "yen").output)
    assert reader.get(f"/c/yen/feed.atom?key={first}")[0] == 404  # replaced
    assert reader.get(f"/c/yen/feed.atom?key={second}")[0] == 200
    assert run_cli("member", "remove", YEN_MEMBER, "-c", "yen").exit_code == 0
    assert reader.get(f"/c/yen/feed.atom?key={second}")[0] == 404  # left the community


def test_feed_url_refuses_clearly(
    site: tuple[Context, World, str], run_cli: Callable[..., Any]
) -> None:
    cases = (
        (("member", "feed-url", AMINA, "-c", "yen"), 1, "may not read yen"),
        (("member", "feed-url", "nobody@example.org", "-c", "yen"), 1, "is not known"),
        (("member", "feed-revoke", "nobody@example.org"), 1, "is not known"),
        (("member", "feed-url", "not an address", "-c", "yen"), 2, "error:"),
    )
    for args, code, words in cases:
        result = run_cli(*args)
        assert result.exit_code == code and words in result.output, (args, result.output)
        assert len(result.output.strip().splitlines()) == 1, result.output


def test_a_member_makes_and_revokes_their_feed_addresses_on_the_web(
    site: tuple[Context, World, str],
) -> None:
    ctx, _, base = site
    status, headers, _ = Client(base).get("/me/feeds")
    assert status == 303 and headers["location"] == "/signin?next=/me/feeds"
    assert Client(base).post("/me/feeds", {"action": "make"})[0] == 303
    member = sign_in(ctx, base, YEN_MEMBER)
    status, headers, page = member.get("/me/feeds")
    assert status == 200 and headers["cache-control"] == "no-store" and "?key=" not in page
    assert member.post("/me/feeds", {"action": "make", "csrf": "forged"})[0] == 403
    assert count_keys(ctx) == 0
    csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    status, headers, page = member.post("/me/feeds", {"action": "make", "csrf": csrf})
    assert status == 200 and headers["cache-control"] == "no-store"
    address = re.search(r'value="(http[^"]+/c/yen/feed\.atom\?key=[^"]+)"', page)
    assert address and count_keys(ctx) == 1
    reader = Client(base)
    feed = address.group(1)[len(base) :]
    assert SECRET_THREAD in atom(reader, feed).entries[0].content[0].value
    assert "?key=" not in member.get("/me/feeds")[2]  # shown once only
    status, _, page = member.post("/me/feeds", {"action": "revoke", "csrf": csrf})
    assert status == 200 and "revoked" in page
    assert reader.get(feed)[0] == 404


def count_keys(ctx: Context) -> int:
    with ctx.session() as session:
        return len(session.exec(select(FeedKey)).all())
