"""The portal's reading pages on the real uvicorn server, over plain HTTP, on SQLite and
PostgreSQL: every page kind shows what it should, escapes member content, never shows an
address, folds quoted text, serves files checked against their sha256 and never a held
post."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from portal_client import sign_in
from portal_seed import AMINA, FILE_BYTES, HOSTILE, World, seed
from test_web import fetch, running_web

from mailhub.context import Context
from mailhub.inbound.attachments import attachment_path

ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")


@pytest.fixture
def site(ctx: Context) -> Iterator[tuple[Context, World, str]]:
    world = seed(ctx)
    with running_web(ctx) as web_ctx:
        yield web_ctx, world, web_ctx.settings.instance.public_url or ""


def addresses_in(page: str) -> set[str]:
    """Addresses a page shows, but the list's own (the one to write to)."""
    return {m.group(0) for m in ADDRESS.finditer(page)} - {
        "irnet@lists.example.org",
        "irnet-request@lists.example.org",
    }


def test_every_page_kind_reads_well_and_leaks_no_address(site: tuple[Context, World, str]) -> None:
    _, world, base = site
    expected = {
        "home": ["IRNet", "sign in"],
        "community": ["Platform work", "Youth guarantees", "Synopsis: Minimum wage councils",
                      "Regional workshop", "Case study on councils", "Labour code adopted",
                      "Thailand"],
        "thread": ["How do your ministries consult unions?", "Amina Rahman",
                   "Labour Congress of Thailand", "Workers&#39; organisation", "Thailand",
                   "study.pdf", "Show the quoted text", "irnet@lists.example.org"],
        "archive": ["Platform work", "conversation"],
        "month": ["Platform work"],
        "discussions": ["Minimum wage councils", "Youth guarantees"],
        "discussion": ["Who sets them?", "SYNOPSIS-TEXT", "Version 2 (corrected)",
                       "CONTRIBUTION-TEXT", "Skills", "Earlier versions", "SYNOPSIS-TEXT"],
        "synopsis": ["SYNOPSIS-FIRST", "Version 1 of 2", "as first sent",
                     "the current version 2"],
        "news": ["Labour code adopted"],
        "news_item": ["NEWS-TEXT", 'rel="nofollow noopener"'],
        "events": ["Regional workshop", ".ics"],
        "event": ["Regional workshop", "Hanoi", "Add to your calendar"],
        "calendar": ["Regional workshop"],
        "resources": ["Case study on councils", "ILO NATLEX"],
        "resource": ["Download case.pdf"],
        "theme": ["Platform work", "Minimum wage councils", "Case study on councils"],
        "country": ["Platform work", "Case study on councils"],
        "matrix": ["Skills", "Thailand", "Vietnam"],
    }  # fmt: skip
    assert set(expected) == set(world.paths)
    for name, path in world.paths.items():
        status, headers, page = fetch("GET", base + path)
        assert status == 200, (name, status, page[:300])
        assert headers["content-type"].startswith("text/html")
        for text in expected[name]:
            assert text in page, (name, text)
        assert '<html lang="en">' in page and 'href="#content"' in page, name
        assert "<script" not in page.lower() and "<img" not in page, name
        assert addresses_in(page) == set(), (name, addresses_in(page))
        for hidden in (
            "HELD-POST-TEXT",
            "HELD-ONLY-THREAD",
            "SECRET-",
            "Youth Employment",
            "Quiet",
        ):
            assert hidden not in page, (name, hidden)
    assert "style-src 'self'" in headers["content-security-policy"]
    assert "script-src" not in headers["content-security-policy"]  # default-src 'none'


def test_a_conversation_page(site: tuple[Context, World, str]) -> None:
    _, world, base = site
    page = fetch("GET", base + world.paths["thread"])[2]
    assert html_escaped(HOSTILE) in page
    reply = world.ids["reply"]
    assert f'id="p{reply}"' in page and f'href="#p{reply}"' in page
    # Each post's time says its zone: the community's, as in its mail.
    assert re.search(rf'href="#p{reply}">\d\d \w{{3}} \d{{4}}, \d\d:\d\d [A-Z]', page)
    details = page[page.index("<details>") : page.index("</details>")]
    assert "the earlier words" in details and "[address hidden]" in details
    body = page[: page.index("<details>")]
    assert "the earlier words" not in body.split(f'id="p{reply}"')[1]
    assert fetch("GET", f"{base}/c/irnet/t/{world.ids['held_thread']}")[0] == 404
    assert fetch("GET", f"{base}/c/irnet/t/999999")[0] == 404


def html_escaped(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&#34;")
    )


def test_files_are_served_checked_against_their_sha256(site: tuple[Context, World, str]) -> None:
    ctx, world, base = site
    for path in (
        f"/c/irnet/files/{world.ids['attachment']}",
        f"/c/irnet/resources/{world.ids['resource']}/file",
    ):
        status, headers, _ = fetch("GET", base + path)
        assert status == 200, path
        assert headers["content-disposition"].startswith("attachment;")
        assert headers["content-type"] == "application/pdf"
    raw = raw_get(base + f"/c/irnet/files/{world.ids['attachment']}")
    assert raw == FILE_BYTES
    status, headers, text = fetch("GET", base + f"/c/irnet/events/{world.ids['event']}.ics")
    assert status == 200 and headers["content-type"].startswith("text/calendar")
    assert "SUMMARY:Regional workshop" in text and "UID:ev1@example.org" in text

    sha = hashlib.sha256(FILE_BYTES).hexdigest()
    attachment_path(ctx.settings.data_dir / "attachments", sha).write_bytes(b"tampered")
    assert fetch("GET", base + f"/c/irnet/files/{world.ids['attachment']}")[0] == 404
    assert fetch("GET", base + f"/c/irnet/resources/{world.ids['resource']}/file")[0] == 404


def raw_get(url: str) -> bytes:
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.request("GET", parts.path)
        return connection.getresponse().read()
    finally:
        connection.close()


def test_the_library_filters_by_theme_country_and_kind(site: tuple[Context, World, str]) -> None:
    _, _, base = site
    page = fetch("GET", base + "/c/irnet/resources/?theme=skills")[2]
    assert "Case study on councils" in page and "ILO NATLEX" not in page
    page = fetch("GET", base + "/c/irnet/resources/?country=vn")[2]
    assert "ILO NATLEX" in page and "Case study on councils" not in page
    page = fetch("GET", base + "/c/irnet/resources/?kind=legislation&theme=nonsense")[2]
    assert "ILO NATLEX" in page and "Case study on councils" not in page
    page = fetch("GET", base + "/themes/skills/?country=TH")[2]
    assert "Case study on councils" in page and "ILO NATLEX" not in page
    for missing in ("/themes/nonsense/", "/countries/zz/", "/c/irnet/2026/13/", "/c/nowhere/"):
        assert fetch("GET", base + missing)[0] == 404, missing


def test_a_page_number_that_is_not_ascii_digits_gives_the_first_page(
    site: tuple[Context, World, str],
) -> None:
    """A superscript passes str.isdigit but not int(): the archive answered 500."""
    _, world, base = site
    first = fetch("GET", base + world.paths["archive"])
    for odd in ("%C2%B2", "%D9%A3", "0", "abc"):
        status, _, page = fetch("GET", base + world.paths["archive"] + "?page=" + odd)
        assert status == 200, odd
        # The same page; only "sign in" comes back to the address as asked.
        assert page.replace(quote(f"?page={odd}", safe=""), "") == first[2], odd


def test_the_community_page_tells_a_visitor_how_to_join(site: tuple[Context, World, str]) -> None:
    ctx, _, base = site
    page = fetch("GET", base + "/c/irnet/")[2]
    assert 'href="mailto:irnet-request@lists.example.org?subject=subscribe"' in page
    assert "answer the confirmation" in page
    member = sign_in(ctx, base, AMINA)
    page = member.get("/c/irnet/")[2]
    assert "Take part by mail: write to" in page and "join by mail" not in page
