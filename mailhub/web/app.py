"""The web endpoint: unsubscribe and confirmation pages, and the portal (mailhub/portal/),
as a Starlette ASGI app.

A GET only shows a page with a button: mail gateways and link scanners follow every link,
so nothing may change on GET (or HEAD). A POST acts, including the RFC 8058 one-click POST
that mail providers send with the body ``List-Unsubscribe=One-Click``. The signed token in
the path is the only credential; a token that cannot be trusted gets a 400 page and
changes nothing.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlmodel import Session
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mailhub import tokens
from mailhub.addresses import Kind
from mailhub.context import Context
from mailhub.models import MembershipStatus
from mailhub.portal.routes import routes as portal_routes
from mailhub.rendering import render
from mailhub.subscriptions import (
    JOIN,
    LEAVE,
    BadToken,
    Member,
    Result,
    change_name,
    confirm,
    confirmation_used,
    member_for_token,
    notify_change,
    unsubscribe,
)

MAX_BODY = 64 * 1024
NO_STORE = [(b"cache-control", b"no-store")]
SECURITY_HEADERS = [
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    (
        b"content-security-policy",
        b"default-src 'none'; style-src 'self' 'unsafe-inline'; form-action 'self'; "
        b"frame-ancestors 'none'; base-uri 'none'",
    ),
]
_HEADER_NAMES = {name for name, _ in SECURITY_HEADERS + NO_STORE}


class SecurityHeaders:
    """Adds the same protective headers to every response, errors included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                given = message.get("headers", [])
                kept = [h for h in given if h[0].lower() not in _HEADER_NAMES]
                # A page that may be kept (the portal's, for visitors) says so; else no-store.
                cache = [h for h in given if h[0].lower() == b"cache-control"]
                message = {**message, "headers": kept + (cache[:1] or NO_STORE) + SECURITY_HEADERS}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class Pages:
    """The endpoints, bound to one instance."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def page(self, name: str, status: int = 200, **values: Any) -> HTMLResponse:
        html = render(
            f"web/{name}.html",
            self.ctx.settings.templates_override,
            site_name=self.ctx.settings.instance.name,
            **values,
        )
        return HTMLResponse(html, status_code=status)

    def problem(self, message: str, status: int = 400) -> HTMLResponse:
        hint = (
            "Links in our mails work only as they were sent; a confirmation link is valid "
            "for a limited time. To start again, write to the list's -request address."
        )
        heading = "This link cannot be used" if status == 400 else "Not found"
        return self.page("problem", status, heading=heading, message=message, hint=hint)

    def _describe(self, session: Session, member: Member) -> dict[str, Any]:
        book = self.ctx.address_book(session)
        return {
            "email": member.person.email,
            "community": member.community.name,
            "request_address": book.address(member.community.slug, Kind.REQUEST),
        }

    # Reading (GET, HEAD): never writes.

    def _show_unsubscribe(self, token: str) -> dict[str, Any]:
        with self.ctx.session() as session:
            member, _ = member_for_token(self.ctx, session, tokens.UNSUBSCRIBE, token)
            left = member.membership.status == MembershipStatus.UNSUBSCRIBED.value
            return {**self._describe(session, member), "state": "left" if left else "member"}

    def _show_confirm(self, token: str) -> dict[str, Any]:
        with self.ctx.session() as session:
            member, found = member_for_token(self.ctx, session, tokens.CONFIRM, token)
            action, status = found.action, member.membership.status
            done = (action == JOIN and status == MembershipStatus.ACTIVE.value) or (
                action == LEAVE and status == MembershipStatus.UNSUBSCRIBED.value
            )
            state = "used" if confirmation_used(session, token) else "done" if done else "open"
            return {**self._describe(session, member), "action": action, "state": state}

    # Acting (POST).

    def _unsubscribe(self, token: str) -> dict[str, Any]:
        with self.ctx.session() as session:
            member, _ = member_for_token(self.ctx, session, tokens.UNSUBSCRIBE, token)
            change = change_name(LEAVE, unsubscribe(member, self.ctx.now()))
            return {**self._describe(session, member), "change": change}

    def _confirm(self, token: str) -> dict[str, Any]:
        with self.ctx.session() as session:
            result, member, action = confirm(self.ctx, session, token)
            change = change_name(action, result)
            if result is Result.DONE:
                self._tell_change(session, member, change, token)
            return {**self._describe(session, member), "change": change}

    def _tell_change(self, session: Session, member: Member, change: str, token: str) -> None:
        """The mail a confirmation answered by mail gets (the welcome, with the commands
        and the real delivery; or the goodbye): the page alone is gone once closed."""
        key = hashlib.sha256(token.encode()).hexdigest()[:24]
        kind = "confirmation-reply"
        notify_change(
            self.ctx,
            session,
            member.community,
            member.person.email,
            change,
            kind=kind,
            dedup_key=f"{kind}:{member.community.id}:web-{key}",
            person_id=member.person.id,
            delivery=member.membership.delivery,
        )

    async def unsubscribe_page(self, request: Request) -> Response:
        if request.method == "POST":
            return await self.unsubscribe_post(request)
        return await self.unsubscribe_form(request)

    async def confirm_page(self, request: Request) -> Response:
        if request.method == "POST":
            return await self.confirm_post(request)
        return await self.confirm_form(request)

    async def unsubscribe_form(self, request: Request) -> Response:
        try:
            values = await run_in_threadpool(self._show_unsubscribe, request.path_params["token"])
        except BadToken as exc:
            return self.problem(str(exc).capitalize() + ".")
        return self.page("unsubscribe", **values)

    async def unsubscribe_post(self, request: Request) -> Response:
        one_click = _is_one_click(await _body(request))
        try:
            values = await run_in_threadpool(self._unsubscribe, request.path_params["token"])
        except BadToken as exc:
            if one_click:
                return PlainTextResponse(f"{exc}\n", status_code=400)
            return self.problem(str(exc).capitalize() + ".")
        if one_click:
            return PlainTextResponse(f"{values['change']}\n")
        return self.page("done", **values)

    async def confirm_form(self, request: Request) -> Response:
        try:
            values = await run_in_threadpool(self._show_confirm, request.path_params["token"])
        except BadToken as exc:
            return self.problem(str(exc).capitalize() + ".")
        return self.page("confirm", **values)

    async def confirm_post(self, request: Request) -> Response:
        await _body(request)
        try:
            values = await run_in_threadpool(self._confirm, request.path_params["token"])
        except BadToken as exc:
            return self.problem(str(exc).capitalize() + ".")
        return self.page("done", **values)

    async def http_error(self, request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        if status == 404:
            return self.problem("There is no page at this address.", 404)
        headers = exc.headers if isinstance(exc, HTTPException) else None
        return PlainTextResponse(f"{status}\n", status_code=status, headers=headers)


async def _body(request: Request) -> bytes:
    """The start of the request body: enough for the one-click marker, never unbounded."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) >= MAX_BODY:
            break
    return body[:MAX_BODY]


def _is_one_click(body: bytes) -> bool:
    """RFC 8058's ``List-Unsubscribe=One-Click``, url-encoded or as a multipart field.

    Any POST acts; this only chooses a short plain answer for the mail provider's robot.
    """
    folded = body.lower()
    return b"list-unsubscribe" in folded and b"one-click" in folded


def create_app(ctx: Context) -> ASGIApp:
    pages = Pages(ctx)
    routes = [
        Route("/unsubscribe/{token}", pages.unsubscribe_page, methods=["GET", "POST"]),
        Route("/confirm/{token}", pages.confirm_page, methods=["GET", "POST"]),
        *portal_routes(ctx),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: pages.http_error})
    return SecurityHeaders(app)
