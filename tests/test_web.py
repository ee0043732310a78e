"""The unsubscribe and confirmation pages on the real uvicorn server: plain HTTP shows that
GET and HEAD never change anything while POST (and RFC 8058 one-click) acts, and a real
headless Chromium clicks the button as a person would."""

from __future__ import annotations

import asyncio
import http.client
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import derive, make_context, write_config
from smtp_sink import free_port
from sqlmodel import select

from mailhub.clock import FrozenClock
from mailhub.context import Context
from mailhub.members import MemberFields, add_member, find_person, membership_of
from mailhub.models import Community, Membership, OutboundMessage
from mailhub.subscriptions import (
    CONFIRM_DAYS,
    LEAVE,
    confirm_url,
    confirmation_token,
    request_subscription,
    unsubscribe_url,
)
from mailhub.web.server import bind, run_web

ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@contextmanager
def running_web(ctx: Context) -> Iterator[Context]:
    """Serve the web app on a free port in a background loop; yield the instance whose
    public URL points at it; always stop it."""
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    web_ctx = derive(ctx, instance={"public_url": f"http://127.0.0.1:{port}"})
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    thread = threading.Thread(
        target=loop.run_until_complete, args=(run_web(web_ctx, stop, sock),), daemon=True
    )
    thread.start()
    try:
        yield web_ctx
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(15)
        loop.close()
    assert not thread.is_alive()


@pytest.fixture
def web(ctx: Context) -> Iterator[Context]:
    with running_web(ctx) as web_ctx:
        yield web_ctx


def fetch(
    method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], str]:
    """One plain HTTP request; returns status, lower-cased headers and the text."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        text = response.read().decode()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, text
    finally:
        connection.close()


def add(ctx: Context, email: str, state: str = "active") -> Membership:
    with ctx.session() as session:
        community = session.exec(select(Community)).one()
        _, added = add_member(
            session, community, MemberFields(email=email, status=state), ctx.now()
        )
        return added


def status(ctx: Context, email: str) -> str | None:
    with ctx.session() as session:
        person = find_person(session, email)
        community = session.exec(select(Community)).one()
        found = membership_of(session, community, person) if person else None
        return found.status if found else None


def mails(ctx: Context, kind: str, email: str) -> list[EmailMessage]:
    with ctx.session() as session:
        rows = session.exec(
            select(OutboundMessage).where(
                OutboundMessage.recipient == email, OutboundMessage.kind == kind
            )
        ).all()
    return [message_from_bytes(row.raw, policy=policy.default) for row in rows]  # type: ignore[misc]


def welcome_text(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return " ".join(str(part.get_content()).split())


def url_in_confirmation(ctx: Context, email: str) -> str:
    with ctx.session() as session:
        row = session.exec(
            select(OutboundMessage).where(
                OutboundMessage.recipient == email, OutboundMessage.kind == "confirmation"
            )
        ).one()
    text = message_from_bytes(row.raw, policy=policy.default).get_body(("plain",)).get_content()  # type: ignore[union-attr]
    found = re.search(r"http://\S+/confirm/\S+", text)
    assert found, text
    return found.group(0)


def test_get_and_head_never_change_anything(web: Context) -> None:
    member = add(web, "amina@example.org")
    url = unsubscribe_url(web, member)
    assert url is not None
    code, headers, page = fetch("GET", url)
    assert code == 200
    assert "amina@example.org" in page and "IRNet" in page
    assert '<form method="post">' in page and ">Unsubscribe</button>" in page
    # Someone who only wants less mail is offered a digest instead, and their page.
    assert 'href="mailto:irnet-request@lists.example.org?subject=digest"' in page
    assert (
        fetch("GET", web.settings.instance.public_url + "/me")[1]["location"].startswith("/signin")
        and 'href="/me"' in page
    )
    assert headers["cache-control"] == "no-store"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
    assert "default-src 'none'" in headers["content-security-policy"]
    assert status(web, "amina@example.org") == "active"
    assert fetch("HEAD", url)[0] == 200
    for query in ("List-Unsubscribe=One-Click", "confirm=yes&action=unsubscribe", "_method=POST"):
        assert fetch("GET", f"{url}?{query}")[0] == 200
    assert status(web, "amina@example.org") == "active"

    with web.session() as session:
        community = session.exec(select(Community)).one()
        request_subscription(web, session, community, "nadia@example.org")
    link = url_in_confirmation(web, "nadia@example.org")
    code, _, page = fetch("GET", link)
    assert code == 200 and ">Confirm</button>" in page and "nadia@example.org" in page
    assert fetch("HEAD", link)[0] == 200
    assert fetch("GET", link + "?confirm=1")[0] == 200
    assert status(web, "nadia@example.org") == "pending"


def test_post_acts_and_so_does_the_one_click_post(web: Context) -> None:
    url = unsubscribe_url(web, add(web, "amina@example.org"))
    assert url is not None
    code, headers, page = fetch("POST", url)
    assert code == 200 and "Unsubscribed" in page
    assert headers["cache-control"] == "no-store"
    assert status(web, "amina@example.org") == "unsubscribed"
    assert "was not subscribed" in fetch("POST", url)[2]  # a second press is harmless

    for index, (content_type, body) in enumerate(
        [
            ("application/x-www-form-urlencoded", b"List-Unsubscribe=One-Click"),
            (
                "multipart/form-data; boundary=xyz",
                b'--xyz\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\n'
                b"One-Click\r\n--xyz--\r\n",
            ),
        ]
    ):
        email = f"oneclick{index}@example.org"
        one_click = unsubscribe_url(web, add(web, email))
        assert one_click is not None
        code, _, text = fetch("POST", one_click, body, {"Content-Type": content_type})
        assert code == 200 and text == "left\n", body
        assert status(web, email) == "unsubscribed"


def test_confirm_posts_join_and_leave(web: Context) -> None:
    with web.session() as session:
        community = session.exec(select(Community)).one()
        request_subscription(web, session, community, "nadia@example.org")
    link = url_in_confirmation(web, "nadia@example.org")
    code, _, page = fetch("POST", link)
    assert code == 200 and "Welcome to IRNet" in page
    assert status(web, "nadia@example.org") == "active"
    assert 'href="/me"' in page  # where to choose on the web
    # A join on the page gets the welcome mail a join by reply gets (the commands, the
    # profile line); the page pressed again changes nothing and mails nothing.
    (welcome,) = mails(web, "confirmation-reply", "nadia@example.org")
    assert welcome["Subject"] == "Welcome to IRNet"
    assert "You receive every post as it is approved" in welcome_text(welcome)
    assert "profile affiliation=workers" in welcome_text(welcome)
    # It names the member's page on the web, which asks them to sign in.
    me = re.search(r"Or choose on the web: (\S+)", welcome_text(welcome))
    assert me is not None and me.group(1) == web.settings.instance.public_url + "/me"
    code, headers, _ = fetch("GET", me.group(1))
    assert code == 303 and headers["location"] == "/signin?next=/me"
    assert "used" in fetch("POST", link)[2]
    assert len(mails(web, "confirmation-reply", "nadia@example.org")) == 1

    leaving = add(web, "omar@example.org")
    link = confirm_url(web, confirmation_token(web, leaving, LEAVE))
    assert link is not None
    code, _, page = fetch("GET", link)
    assert "Leave IRNet" in page and status(web, "omar@example.org") == "active"
    assert fetch("POST", link)[0] == 200
    assert status(web, "omar@example.org") == "unsubscribed"
    (goodbye,) = mails(web, "confirmation-reply", "omar@example.org")
    assert "has left IRNet" in welcome_text(goodbye)


def test_bad_tokens_get_a_clear_400_and_change_nothing(web: Context, clock: FrozenClock) -> None:
    member = add(web, "amina@example.org")
    url = unsubscribe_url(web, member)
    assert url is not None
    base = url.split("/unsubscribe/")[0]
    forged = url[:-3] + "aaa"
    for method, target in [
        ("GET", f"{base}/unsubscribe/garbage"),
        ("POST", forged),
        ("GET", forged),
        ("POST", url.replace("/unsubscribe/", "/confirm/")),  # a token for another purpose
        ("POST", f"{base}/unsubscribe/{'9' * 5000}"),
    ]:
        code, headers, page = fetch(method, target)
        assert code == 400, (method, target)
        assert "This link cannot be used" in page and "not valid" in page
        assert headers["x-frame-options"] == "DENY"
        assert "Traceback" not in page
    code, _, text = fetch(
        "POST", forged, b"List-Unsubscribe=One-Click", {"Content-Type": "text/plain"}
    )
    assert code == 400 and "not valid" in text
    assert status(web, "amina@example.org") == "active"

    pending = add(web, "late@example.org", state="pending")
    link = confirm_url(web, confirmation_token(web, pending, "join"))
    assert link is not None
    clock.advance(timedelta(days=CONFIRM_DAYS, seconds=1))
    code, _, page = fetch("POST", link)
    assert code == 400 and "This link has expired." in page
    assert status(web, "late@example.org") == "pending"

    with web.session() as session:
        session.delete(session.get(Membership, member.id))
    code, _, page = fetch("POST", url)
    assert code == 400 and "no longer applies" in page

    assert fetch("GET", f"{base}/nowhere")[0] == 404
    code, headers, _ = fetch("PUT", url)
    assert code == 405 and set(headers["allow"].split(", ")) == {"GET", "HEAD", "POST"}
    assert status(web, "late@example.org") == "pending"


@pytest.mark.needs(CHROMIUM is not None, "no chromium installed (apt-get install chromium)")
def test_a_real_browser_unsubscribes_only_when_the_button_is_pressed(web: Context) -> None:
    from playwright.sync_api import sync_playwright

    url = unsubscribe_url(web, add(web, "amina.person@example.org"))
    assert url is not None
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(url)
            assert page.title() == "Unsubscribe – mailhub"
            page.screenshot(path=str(ARTIFACTS / "unsubscribe-form.png"))
            assert status(web, "amina.person@example.org") == "active"
            page.get_by_role("button", name="Unsubscribe").click()
            page.get_by_role("heading", name="Unsubscribed").wait_for()
            page.screenshot(path=str(ARTIFACTS / "unsubscribe-done.png"))
        finally:
            browser.close()
    assert status(web, "amina.person@example.org") == "unsubscribed"


def test_serve_runs_the_web_pages_and_stops_cleanly(tmp_path: Path, clock: FrozenClock) -> None:
    port = free_port()
    extra = f"\n[web]\nport = {port}\n"
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'store.db'}", extra)
    ctx = make_context(config, clock)
    member = add(ctx, "amina@example.org")
    service = subprocess.Popen(
        [sys.executable, "-m", "mailhub", "serve", "--no-smtp", "--no-send", "--no-work"],
        env={**os.environ, "MAILHUB_CONFIG": str(config)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        path = urlsplit(
            unsubscribe_url(derive(ctx, instance={"public_url": "http://x"}), member) or ""
        ).path
        deadline = time.monotonic() + 30
        while True:
            try:
                code, _, _page = fetch("GET", f"http://127.0.0.1:{port}{path}")
                break
            except OSError:
                assert time.monotonic() < deadline, "web endpoint did not come up"
                time.sleep(0.1)
        assert code == 200
        assert fetch("POST", f"http://127.0.0.1:{port}{path}")[0] == 200
    finally:
        service.send_signal(signal.SIGTERM)
        output = service.communicate(timeout=60)[0].decode()
    assert service.returncode == 0, output
    assert "Traceback" not in output
    assert f"web 127.0.0.1:{port}" in output
    assert status(ctx, "amina@example.org") == "unsubscribed"
    ctx.engine.dispose()
