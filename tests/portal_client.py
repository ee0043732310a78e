"""A plain HTTP client for the portal with one cookie, and signing in as a member does:
ask on the page, read the mail in the outbox, open its link, press the button."""

from __future__ import annotations

import http.client
import re
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from urllib.parse import urlencode, urlsplit

from portal_seed import AMINA, YEN_ADMIN, YEN_MEMBER, YEN_MOD, World, seed
from sqlmodel import col, select
from test_web import running_web

from mailhub.context import Context
from mailhub.models import OutboundMessage


class Client:
    """Requests to one base URL, keeping the session cookie it is given."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.cookie: str | None = None

    def request(
        self,
        method: str,
        path: str,
        fields: dict[str, str] | list[tuple[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], str]:
        parts = urlsplit(self.base + path)
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        headers = dict(headers or {})
        if self.cookie:
            headers["Cookie"] = f"mailhub_session={self.cookie}"
        body = None
        if fields is not None:
            body = urlencode(fields).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            connection.request(method, target, body=body, headers=headers)
            response = connection.getresponse()
            text = response.read().decode(errors="replace")
            found = {k.lower(): v for k, v in response.getheaders()}
        finally:
            connection.close()
        cookie = found.get("set-cookie", "")
        if cookie.startswith("mailhub_session="):
            value = cookie.split(";", 1)[0].split("=", 1)[1].strip('"')
            self.cookie = value or None
        return response.status, found, text

    def get(self, path: str) -> tuple[int, dict[str, str], str]:
        return self.request("GET", path)

    def post(
        self, path: str, fields: dict[str, str] | list[tuple[str, str]]
    ) -> tuple[int, dict[str, str], str]:
        return self.request("POST", path, fields)


def sign_in_mail(ctx: Context, email: str) -> str:
    """The text of the newest sign-in mail to ``email``."""
    with ctx.session() as session:
        row = session.exec(
            select(OutboundMessage)
            .where(OutboundMessage.recipient == email, OutboundMessage.kind == "sign-in")
            .order_by(col(OutboundMessage.id).desc())
        ).first()
    assert row is not None, f"no sign-in mail to {email}"
    message = message_from_bytes(row.raw, policy=policy.default)
    return message.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def link_and_code(ctx: Context, email: str) -> tuple[str, str]:
    text = sign_in_mail(ctx, email)
    link = re.search(r"https?://\S+/signin/\S+", text)
    code = re.search(r"^\s+(\d{6})\s*$", text, re.MULTILINE)
    assert link and code, text
    return link.group(0), code.group(1)


def sign_in(ctx: Context, base: str, email: str) -> Client:
    """A client signed in as ``email`` through the sign-in link, as a member does."""
    client = Client(base)
    status, _, page = client.post("/signin", {"email": email, "next": "/"})
    assert status == 200 and "Check your mail" in page, page[:300]
    link, _ = link_and_code(ctx, email)
    path = link[len(base) :]
    status, _, page = client.get(path)
    assert status == 200 and '<form method="post">' in page
    status, headers, _ = client.post(path.split("?")[0], {"next": "/"})
    assert status == 303 and client.cookie, (status, headers)
    return client


@contextmanager
def seeded_portal(ctx: Context) -> Iterator[tuple[Context, World, str]]:
    """The seeded world served on a free port: its instance, what was seeded, the base URL."""
    world = seed(ctx)
    with running_web(ctx) as web_ctx:
        yield web_ctx, world, web_ctx.settings.instance.public_url or ""


def viewers_of_yen(ctx: Context, base: str) -> dict[str, Client]:
    """One client for each kind of reader of the members-only community yen."""
    return {
        "anonymous": Client(base),
        "member of another community": sign_in(ctx, base, AMINA),
        "member": sign_in(ctx, base, YEN_MEMBER),
        "moderator": sign_in(ctx, base, YEN_MOD),
        "admin": sign_in(ctx, base, YEN_ADMIN),
    }
