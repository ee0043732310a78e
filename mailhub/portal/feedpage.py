"""A signed-in member's own feed addresses (``/me/feeds``): the page says what they are for,
a button makes them (a new key, shown once: the store keeps only its hash), another revokes
them. Both are POST forms carrying the session's CSRF token; a GET changes nothing.
Visitors who are not signed in are sent to sign in first.
"""

from __future__ import annotations

from sqlmodel import Session, col, select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from mailhub.models import Community, FeedKey
from mailhub.portal import feedkeys, links
from mailhub.portal.access import Viewer
from mailhub.portal.csrf import checked_fields
from mailhub.portal.web import Page, Portal

PATH = "/me/feeds"


class FeedKeyPage(Portal):
    """The page and its two forms."""

    keep_for_visitors = False

    def _page(
        self, session: Session, viewer: Viewer, base: str, action: str | None, csrf_ok: bool
    ) -> Page | Response:
        if viewer.person is None:
            return RedirectResponse(links.signin_path(PATH), status_code=303)
        values: dict[str, object] = {"base": base}
        status = 200
        if action is not None and not csrf_ok:
            values["expired"], status = True, 403
        elif action == "make":
            values["key"] = feedkeys.mint(session, viewer.person, self.ctx.now())
        elif action == "revoke":
            values["revoked"] = feedkeys.revoke(session, viewer.person, self.ctx.now())
        values["communities"] = session.exec(
            select(Community)
            .where(col(Community.id).in_(list(viewer.roles)), Community.archive != "none")
            .order_by(col(Community.name))
        ).all()
        values["has_key"] = "key" in values or bool(
            session.exec(
                select(FeedKey.id).where(
                    FeedKey.person_id == viewer.person.id, col(FeedKey.revoked_at).is_(None)
                )
            ).first()
        )
        return Page("my_feeds", values, status)

    async def show(self, request: Request) -> Response:
        response = await self.respond(request, self._page, self.public_base(request), None, False)
        response.headers["cache-control"] = "no-store"
        return response

    async def act(self, request: Request) -> Response:
        fields = await checked_fields(request, self.ctx.secret)
        action = dict(fields or []).get("action", "")
        action = action if action in ("make", "revoke") else ""
        ok = fields is not None
        response = await self.respond(request, self._page, self.public_base(request), action, ok)
        # The page may show a key: no cache, no proxy keeps it.
        response.headers["cache-control"] = "no-store"
        return response
