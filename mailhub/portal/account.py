"""Signing in and out of the portal.

GET pages never change anything: the sign-in link's page only shows a button that posts
it. Every answer to a sign-in request is the same page whether or not the address belongs
to a member. After signing in the member goes back to the page they came from (a path of
this site only, never another host).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from mailhub.models import Person
from mailhub.portal import sessions, signin
from mailhub.portal.access import Viewer
from mailhub.portal.web import Page, Portal

MAX_FORM = 4096


def safe_next(value: str | None) -> str:
    """A local path to return to; anything else (another host, a scheme) is the home.

    Browsers read `/\\host` as `//host`, and drop tabs and line breaks from an address
    (`/<tab>/host` is `//host` too), so a backslash or any unprintable character refuses
    the value as `//` does."""
    value = (value or "/").strip()
    if (
        not value.startswith("/")
        or value.startswith("//")
        or "\\" in value
        or not value.isprintable()
        or len(value) > 500
    ):
        return "/"
    return value


async def fields_of(request: Request, max_fields: int = 20) -> list[tuple[str, str]]:
    """The posted url-encoded fields in order, a name repeated for each ticked box (forms
    here are small; a larger body is ignored)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            return []
    try:
        return parse_qsl(body.decode("utf-8", "replace"), max_num_fields=max_fields)
    except ValueError:  # more fields than any form here has
        return []


async def form_of(request: Request) -> dict[str, str]:
    """The posted fields, one value each."""
    return dict(await fields_of(request))


class AccountPages(Portal):
    """Routes of signing in (by link or code) and out."""

    keep_for_visitors = False

    def _ask(self, session: Session, viewer: Viewer, values: dict[str, Any]) -> Page:
        return Page("signin", {"email": "", **values, "next": safe_next(values.get("next"))})

    def _request(self, session: Session, viewer: Viewer, email: str, ip: str, nxt: str) -> Page:
        try:
            signin.request(self.ctx, session, email, ip, nxt)
        except signin.Limited:
            return Page("signin", {"next": nxt, "email": email, "limited": True}, 429)
        return Page("signin_sent", {"next": nxt, "email": signin.normalised(email)})

    def _signed_in(self, session: Session, person: Person | None, nxt: str) -> Response | None:
        if person is None:
            return None
        days = self.ctx.settings.portal.session_days
        token = sessions.start(session, person, self.ctx.now(), days)
        response = RedirectResponse(nxt, status_code=303)
        response.set_cookie(value=token, **sessions.cookie_options(self.ctx.settings, days))
        return response

    def _by_code(
        self, session: Session, viewer: Viewer, email: str, code: str, nxt: str
    ) -> Response | Page:
        done = self._signed_in(session, signin.by_code(self.ctx, session, email, code), nxt)
        if done is not None:
            return done
        values = {"next": nxt, "email": signin.normalised(email), "wrong": True}
        return Page("signin_sent", values, 400)

    def _by_link(self, session: Session, viewer: Viewer, token: str, nxt: str) -> Response | Page:
        done = self._signed_in(session, signin.by_link(self.ctx, session, token), nxt)
        return done or Page("signin", {"next": nxt, "email": "", "bad_link": True}, 400)

    # Routes

    async def signin_form(self, request: Request) -> Response:
        values = {"next": request.query_params.get("next")}
        return await self.respond(request, self._ask, values)

    async def signin_post(self, request: Request) -> Response:
        form = await form_of(request)
        ip = request.client.host if request.client else ""
        nxt = safe_next(form.get("next"))
        return await self.respond(request, self._request, form.get("email", ""), ip, nxt)

    async def code_post(self, request: Request) -> Response:
        form = await form_of(request)
        nxt = safe_next(form.get("next"))
        args = (form.get("email", ""), form.get("code", ""), nxt)
        return await self.respond(request, self._by_code, *args)

    async def link_page(self, request: Request) -> Response:
        if request.method == "POST":
            form = await form_of(request)
            nxt = safe_next(form.get("next"))
            return await self.respond(request, self._by_link, request.path_params["token"], nxt)
        nxt = safe_next(request.query_params.get("next"))
        return await self.respond(request, lambda s, v: Page("signin_link", {"next": nxt}))

    async def signout(self, request: Request) -> Response:
        form = await form_of(request)
        token = request.cookies.get(sessions.COOKIE)
        if sessions.csrf_ok(self.ctx.secret, token, form.get("csrf")):
            await run_in_threadpool(self._revoke, token)
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(**_cookie_scope(self))
        return response

    def _revoke(self, token: str | None) -> None:
        with self.ctx.session() as session:
            sessions.revoke(session, token, self.ctx.now())


def _cookie_scope(pages: Portal) -> dict[str, Any]:
    options = sessions.cookie_options(pages.ctx.settings, None)
    return {k: options[k] for k in ("key", "path", "secure", "httponly", "samesite")}
