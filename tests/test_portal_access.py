"""Who reads what on the portal, route by route, on SQLite and PostgreSQL: anonymous
visitors, members of another community, members, moderators and admins. What one may not
read answers 404 like what does not exist, and no list, count, file, calendar or
cross-community page of a members-only community leaks.

And signing in: a link and a code, each single-use, for minutes, consumed only by POST;
the same answer for unknown addresses; limits per address and per IP; sessions revocable
and their cookie HttpOnly, SameSite=Lax.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from html import unescape
from urllib.parse import quote

import pytest
from portal_client import Client, link_and_code, sign_in
from portal_seed import AMINA, YEN_ADMIN, YEN_MEMBER, YEN_MOD, World, secret_paths, seed
from sqlmodel import func, select
from test_web import running_web

from mailhub.clock import FrozenClock
from mailhub.context import Context
from mailhub.models import OutboundMessage, SignIn, WebSession
from mailhub.portal.account import safe_next

# Pages across communities, and what on each shows that yen was read.
CROSS = {
    "/": "Youth Employment Network",
    "/themes/skills/": "SECRET-YEN",
    "/countries/id/": "SECRET-YEN",
    "/matrix/": "Indonesia",
    "/c/irnet/": None,
    "/themes/skills/feed.atom": "SECRET-YEN",
    "/themes/skills/events.ics": None,
    "/synopses.atom": None,
    "/c/irnet/feed.atom": None,
    "/c/irnet/events.ics": None,
}
FOR_YEN_ONLY = {
    "wrong_community", "wrong_file", "quiet", "quiet_thread",
    "quiet_feed", "quiet_mbox", "wrong_feed", "wrong_mbox",
}  # fmt: skip


@pytest.fixture
def site(ctx: Context) -> Iterator[tuple[Context, World, str]]:
    world = seed(ctx)
    with running_web(ctx) as web_ctx:
        yield web_ctx, world, web_ctx.settings.instance.public_url or ""


def test_the_access_matrix(site: tuple[Context, World, str]) -> None:
    ctx, world, base = site
    paths = secret_paths(world)
    viewers = {
        "anonymous": Client(base),
        "member of another community": sign_in(ctx, base, AMINA),
        "member": sign_in(ctx, base, YEN_MEMBER),
        "moderator": sign_in(ctx, base, YEN_MOD),
        "admin": sign_in(ctx, base, YEN_ADMIN),
    }
    not_found = viewers["anonymous"].get("/c/irnet/t/999999")[2]
    for who, client in viewers.items():
        reads_yen = who in ("member", "moderator", "admin")
        for name, path in paths.items():
            status, _, page = client.get(path)
            expected = 200 if reads_yen and name not in FOR_YEN_ONLY else 404
            assert status == expected, (who, name, path, status)
            if status == 404 and who == "anonymous":
                assert page == not_found.replace("/c/irnet/t/999999", path)
        for path, marker in CROSS.items():
            status, _, page = client.get(path)
            assert status == 200, (who, path)
            assert "SECRET-YEN" not in page or reads_yen, (who, path)
            if marker:
                assert (marker in page) == reads_yen, (who, path)
            assert "SECRET-QUIET" not in page and "Quiet Network" not in page, (who, path)
    assert "Moderation queue" in viewers["moderator"].get("/c/yen/")[2]
    assert "Moderation queue" not in viewers["member"].get("/c/yen/")[2]


def test_a_sign_in_link_acts_once_only_by_post_and_expires(
    site: tuple[Context, World, str], clock: FrozenClock
) -> None:
    ctx, _, base = site
    client = Client(base)
    assert client.post("/signin", {"email": AMINA, "next": "/c/yen/"})[0] == 200
    link, _ = link_and_code(ctx, AMINA)
    path = link[len(base) :]
    assert "next=/c/yen/" in path
    for _ in range(3):  # link scanners open it, and so does the member
        status, headers, page = client.get(path)
        assert status == 200 and "set-cookie" not in headers and "Press the button" in page
        assert client.request("HEAD", path)[0] == 200
    assert count(ctx, WebSession) == 0
    status, headers, _ = client.post(path.split("?")[0], {"next": "/c/yen/"})
    assert status == 303 and headers["location"] == "/c/yen/"
    cookie = headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    assert count(ctx, WebSession) == 1
    again = Client(base)
    status, headers, page = again.post(path.split("?")[0], {"next": "/"})
    assert status == 400 and "cannot be used" in page and again.cookie is None

    client = Client(base)
    client.post("/signin", {"email": AMINA, "next": "//evil.example.net/x"})
    link, _ = link_and_code(ctx, AMINA)
    clock.advance(timedelta(minutes=ctx.settings.portal.sign_in_minutes, seconds=1))
    assert client.post(link[len(base) :], {"next": "/"})[0] == 400


def test_a_code_works_once_and_wrong_codes_burn_it(site: tuple[Context, World, str]) -> None:
    ctx, _, base = site
    client = Client(base)
    client.post("/signin", {"email": AMINA, "next": "//evil.example.net/"})
    _, code = link_and_code(ctx, AMINA)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    status, _, page = client.post("/signin/code", {"email": AMINA, "code": wrong, "next": "/"})
    assert status == 400 and "not right" in page and client.cookie is None
    status, headers, _ = client.post(
        "/signin/code", {"email": AMINA.upper(), "code": code, "next": "//evil.example.net/"}
    )
    assert status == 303 and headers["location"] == "/" and client.cookie
    assert Client(base).post("/signin/code", {"email": AMINA, "code": code})[0] == 400

    client = Client(base)
    client.post("/signin", {"email": AMINA})
    _, code = link_and_code(ctx, AMINA)
    for _ in range(5):
        client.post("/signin/code", {"email": AMINA, "code": wrong})
    assert client.post("/signin/code", {"email": AMINA, "code": code})[0] == 400


# A search page's address as the browser holds it: a query with `?` and `&`, an encoded
# `&` inside a value, and letters outside ASCII.
WANTED = "/c/irnet/search?q=salário+%26+mínimo&theme=skills"
EVIL = (
    "//evil.example/x", "https://evil.example/", "http:evil.example", "\\\\evil.example",
    "/\\evil.example", "\\/evil.example", " //evil.example", "/\t/evil.example",
    "/\n/evil.example", "javascript:alert(1)", "evil.example",
)  # fmt: skip


def next_in(page: str) -> str:
    """The hidden `next` field of a sign-in form, as the browser posts it."""
    found = re.search(r'name="next" value="([^"]*)"', page)
    assert found, page[:500]
    return unescape(found.group(1))


def test_the_page_to_return_to_comes_back_whole(site: tuple[Context, World, str]) -> None:
    ctx, _, base = site
    client = Client(base)
    status, _, page = client.get(f"/signin?next={quote(WANTED, safe='')}")
    assert status == 200 and next_in(page) == WANTED
    status, _, page = client.post("/signin", {"email": AMINA, "next": next_in(page)})
    assert status == 200 and next_in(page) == WANTED  # the code's form, and "ask again":
    again = re.search(r'href="([^"]+)">ask again', page)
    assert again and next_in(client.get(unescape(again.group(1)))[2]) == WANTED
    link, _ = link_and_code(ctx, AMINA)
    page = client.get(link[len(base) :])[2]
    status, headers, _ = client.post(link[len(base) :].split("?")[0], {"next": next_in(page)})
    # The Location header is ASCII: the letters percent-encoded, the query's `&` kept.
    expected = "/c/irnet/search?q=sal%C3%A1rio+%26+m%C3%ADnimo&theme=skills"
    assert status == 303 and headers["location"] == expected
    status, _, page = client.get(headers["location"])
    assert status == 200 and 'name="q" value="salário &amp; mínimo"' in page
    assert '<option value="skills" selected>' in page

    client = Client(base)
    client.post("/signin", {"email": AMINA, "next": WANTED})
    _, code = link_and_code(ctx, AMINA)
    status, headers, _ = client.post("/signin/code", {"email": AMINA, "code": code, "next": WANTED})
    assert status == 303 and headers["location"] == expected

    # A visitor on a search page (or one not found) signs in from it and keeps the search.
    visitor = Client(base)
    for path in (expected, expected.replace("/c/irnet/", "/c/nowhere/")):
        page = visitor.get(path)[2]
        found = re.findall(r'href="([^"]+)">(?:Members: )?sign in', page)
        assert found, path
        for link in found:
            assert next_in(visitor.get(unescape(link))[2]) == path


def test_the_page_to_return_to_is_only_a_path_of_this_site(
    site: tuple[Context, World, str],
) -> None:
    ctx, _, base = site
    assert [safe_next(value) for value in EVIL] == ["/"] * len(EVIL)
    assert safe_next(WANTED) == WANTED and safe_next(None) == "/"
    client = Client(base)
    for value in EVIL:
        assert next_in(client.get(f"/signin?next={quote(value, safe='')}")[2]) == "/", value
        page = client.get(f"/signin/not-a-token?next={quote(value, safe='')}")[2]
        assert next_in(page) == "/", value
    # Asked with another host to return to: the mail's link carries none, and neither the
    # link nor the code sends the member anywhere but home.
    client.post("/signin", {"email": AMINA, "next": "https://evil.example/"})
    link, _ = link_and_code(ctx, AMINA)
    assert link.endswith("/signin/" + link.rsplit("/", 1)[1]) and "?" not in link
    status, headers, _ = client.post(link[len(base) :], {"next": "/\\evil.example"})
    assert status == 303 and headers["location"] == "/"
    client = Client(base)
    client.post("/signin", {"email": AMINA, "next": "/"})
    _, code = link_and_code(ctx, AMINA)
    fields = {"email": AMINA, "code": code, "next": "/\t/evil.example"}
    status, headers, _ = client.post("/signin/code", fields)
    assert status == 303 and headers["location"] == "/"


def test_unknown_addresses_get_the_same_answer_and_limits_apply(
    site: tuple[Context, World, str],
) -> None:
    ctx, _, base = site
    known = Client(base).post("/signin", {"email": AMINA, "next": "/"})
    unknown = Client(base).post("/signin", {"email": "nobody@example.org", "next": "/"})
    assert known[0] == unknown[0] == 200
    assert known[2].replace(AMINA, "X") == unknown[2].replace("nobody@example.org", "X")
    with ctx.session() as session:
        mails = session.exec(
            select(OutboundMessage.recipient).where(OutboundMessage.kind == "sign-in")
        )
        assert list(mails) == [AMINA]
        stored = session.exec(select(SignIn)).all()
        assert all(len(r.link_digest) == 64 and r.code_digest for r in stored)
    limit = ctx.settings.portal.sign_ins_per_address_hour
    for _ in range(limit - 1):
        assert Client(base).post("/signin", {"email": "nobody@example.org"})[0] == 200
    assert Client(base).post("/signin", {"email": "nobody@example.org"})[0] == 429
    per_ip = ctx.settings.portal.sign_ins_per_ip_hour
    for n in range(per_ip - limit - 1):
        assert Client(base).post("/signin", {"email": f"n{n}@example.org"})[0] == 200
    assert Client(base).post("/signin", {"email": "fresh@example.org"})[0] == 429


def test_signing_out_revokes_the_session(site: tuple[Context, World, str]) -> None:
    ctx, _, base = site
    client = sign_in(ctx, base, YEN_MEMBER)
    cookie = client.cookie
    assert client.get("/c/yen/")[0] == 200
    assert client.post("/signout", {"csrf": "forged"})[0] == 303
    assert client.get("/c/yen/")[0] == 404  # the cookie was cleared ...
    client.cookie = cookie
    assert client.get("/c/yen/")[0] == 200  # ... but a forged sign-out revoked nothing
    page = client.get("/c/yen/")[2]
    csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    assert client.post("/signout", {"csrf": csrf})[0] == 303
    client.cookie = cookie
    assert client.get("/c/yen/")[0] == 404  # revoked in the store, not only forgotten


def count(ctx: Context, model: type) -> int:
    with ctx.session() as session:
        return session.exec(select(func.count()).select_from(model)).one()
