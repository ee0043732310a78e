"""What every portal route shares: the viewer behind a request, rendering a page, and the
one "not found" answer for anything missing or not readable.

Handlers describe a page as a builder run in a worker thread with a store session and the
viewer; a builder returns the template and its values, or None for 404. Rendering happens
in the same thread, so the event loop only moves bytes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import pycountry
from markupsafe import Markup
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from mailhub.context import Context
from mailhub.memberhtml import member_html
from mailhub.portal import cache, links, sessions
from mailhub.portal.access import Viewer, viewer_for
from mailhub.rendering import environment, render

STYLESHEET = Path(__file__).resolve().parents[1] / "templates" / "portal" / "portal.css"
ADDRESS = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")  # what hide_addresses() hides
AFFILIATIONS = {
    "government": "Government",
    "workers": "Workers' organisation",
    "employers": "Employers' organisation",
    "staff": "ILO staff",
    "academic": "Academic",
    "other": "",
}


def hide_addresses(text: str | None) -> str:
    """Members' words without the email addresses in them (signatures, quoted headers):
    a public archive must not become a harvest for spammers."""
    return ADDRESS.sub("[address hidden]", text or "")


@lru_cache(maxsize=8192)
def member_text(text: str | None) -> Markup:
    """Member text for a page: addresses hidden, then the mail sanitiser's HTML. Kept for
    the texts read most (a pure function of the text, so a cached answer is never stale):
    sanitising is half the time of a conversation page."""
    return member_html(hide_addresses(text))


def is_country(code: str) -> bool:
    return len(code) == 2 and pycountry.countries.get(alpha_2=code.upper()) is not None


def country_name(code: str | None) -> str:
    if not code:
        return ""
    found = pycountry.countries.get(alpha_2=code.upper())
    return getattr(found, "common_name", None) or (found.name if found else code.upper())


@dataclass
class Page:
    """A page to render: its template under portal/, values, status and extra headers."""

    template: str
    values: dict[str, Any] = field(default_factory=dict)
    status: int = 200


Builder = Callable[..., Page | Response | None]


class Portal:
    """The portal's routes share one instance: settings, store and clock."""

    # Whether visitors' pages of these routes may be kept (cache.py): not sign-in pages,
    # whose addresses carry single-use tokens, nor a member's own.
    keep_for_visitors = True

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        env = environment(ctx.settings.templates_override)
        env.filters.setdefault("member_text", member_text)
        env.filters.setdefault("hide_addresses", hide_addresses)
        env.filters.setdefault("country_name", country_name)
        env.globals.setdefault("links", links)
        env.globals.setdefault("affiliations", AFFILIATIONS)

    def render(
        self, page: Page, viewer: Viewer, token: str | None, request: Request
    ) -> HTMLResponse:
        """The page in the portal's frame; `here` (path and query) is where signing in
        comes back to, so a visitor on a search keeps it."""
        query = request.url.query
        html = render(
            f"portal/{page.template}.html",
            self.ctx.settings.templates_override,
            site_name=self.ctx.settings.instance.name,
            viewer=viewer,
            csrf=sessions.csrf_token(self.ctx.secret, token),
            path=request.url.path,
            here=request.url.path + (f"?{query}" if query else ""),
            **page.values,
        )
        return HTMLResponse(html, status_code=page.status)

    def not_found(self, viewer: Viewer, token: str | None, request: Request) -> HTMLResponse:
        """The same page for what does not exist and what this viewer may not read."""
        return self.render(Page("not_found", status=404), viewer, token, request)

    def _run(self, request: Request, builder: Builder, args: tuple[Any, ...]) -> Response:
        token = request.cookies.get(sessions.COOKIE)
        with self.ctx.session() as session:
            viewer = self.request_viewer(session, request, token)
            result = builder(session, viewer, *args)
            if isinstance(result, Response):
                return result
            if result is None:
                return self.not_found(viewer, token, request)
            return self.render(result, viewer, token, request)

    def public_base(self, request: Request) -> str:
        """The portal's base URL for addresses readers copy: the configured one, else the
        address the request came to."""
        return links.base_url(self.ctx.settings) or str(request.base_url).rstrip("/")

    def request_viewer(self, session: Session, request: Request, token: str | None) -> Viewer:
        """Who a request reads as: the session's person (feeds also accept a feed key)."""
        return self.viewer(session, token)

    def viewer(self, session: Session, token: str | None) -> Viewer:
        return viewer_for(session, sessions.person_for(session, token, self.ctx.now()))

    async def respond(self, request: Request, builder: Builder, *args: Any) -> Response:
        visitor = sessions.COOKIE not in request.cookies
        if self.keep_for_visitors and visitor and request.method in ("GET", "HEAD"):
            return await run_in_threadpool(self._run_kept, request, builder, args)
        return await run_in_threadpool(self._run, request, builder, args)

    def _run_kept(self, request: Request, builder: Builder, args: tuple[Any, ...]) -> Response:
        """A visitor's page from the cache, or built (and kept) when the store changed."""
        pages = cache.cache_for(self.ctx.engine)
        mark, key = pages.mark(), cache.key_of(request)
        kept = pages.get(key, mark)
        if kept is None:
            response = self._run(request, builder, args)
            kept = pages.put(key, mark, response)
            if kept is None:
                return response
        return cache.answer(request, kept)

    async def refuse(self, request: Request) -> Response:
        """A form whose token is not this session's (forged, or from an ended session):
        nothing was done."""
        return await self.respond(request, lambda session, viewer: Page("refused", status=403))

    async def stylesheet(self, request: Request) -> Response:
        return Response(STYLESHEET.read_bytes(), media_type="text/css")
