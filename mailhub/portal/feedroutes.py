"""The routes of feeds: Atom (a community, a conversation, a theme, synopses) and calendars
to subscribe to (a community's events, a theme's).

Feed readers and calendar programs carry no session cookie, so these routes also read a
member's feed key (``?key=``, feedkeys.py); without one they read as the browser's
session, like every page. What the reader may not read answers the portal's one 404.
"""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import Response

from mailhub.events.icsfile import calendar_of
from mailhub.portal import feeds, library, queries
from mailhub.portal.access import Viewer, readable, readable_community
from mailhub.portal.atom import MEDIA_TYPE, Feed, document
from mailhub.portal.feedkeys import viewer_for_key
from mailhub.portal.web import Portal

GENERATOR = "mailhub"
# A calendar to subscribe to shows what is coming and what just happened.
CALENDAR_PAST = timedelta(days=90)
CALENDAR_EVENTS = 500


def _private(viewer: Viewer) -> dict[str, str]:
    """What a signed-in reader or a key reads may be theirs alone: no shared cache keeps it."""
    return {"cache-control": "private"} if viewer.signed_in else {}


class FeedRoutes(Portal):
    """Routes of Atom feeds and calendar feeds."""

    # Not kept for visitors: a feed key in the address reads as its member.
    keep_for_visitors = False

    def request_viewer(self, session: Session, request: Request, token: str | None) -> Viewer:
        key = request.query_params.get("key")
        return viewer_for_key(session, key) if key else self.viewer(session, token)

    def _site(self, request: Request) -> feeds.Site:
        instance = self.ctx.settings.instance
        base = self.public_base(request)
        return feeds.Site(base, instance.domain, instance.name, self.ctx.now())

    def _atom(self, feed: Feed, viewer: Viewer) -> Response:
        return Response(document(feed, GENERATOR), media_type=MEDIA_TYPE, headers=_private(viewer))

    def _community(
        self, session: Session, viewer: Viewer, site: feeds.Site, slug: str
    ) -> Response | None:
        community = readable_community(session, viewer, slug)
        if community is None:
            return None
        return self._atom(feeds.community_feed(site, session, community), viewer)

    def _thread(
        self, session: Session, viewer: Viewer, site: feeds.Site, slug: str, thread_id: int
    ) -> Response | None:
        community = readable_community(session, viewer, slug)
        thread = queries.get_thread(session, community, thread_id) if community else None
        if community is None or thread is None:
            return None
        feed = feeds.thread_feed(site, session, community, thread)
        return self._atom(feed, viewer) if feed.entries else None

    def _theme(
        self, session: Session, viewer: Viewer, site: feeds.Site, theme: str
    ) -> Response | None:
        name = library.themes(session).get(theme)
        if name is None:
            return None
        feed = feeds.theme_feed(site, session, readable(session, viewer), theme, name)
        return self._atom(feed, viewer)

    def _synopses(
        self, session: Session, viewer: Viewer, site: feeds.Site, slug: str | None
    ) -> Response | None:
        one = readable_community(session, viewer, slug) if slug else None
        if slug and one is None:
            return None
        communities = [one] if one else readable(session, viewer)
        return self._atom(feeds.synopses_feed(site, session, communities, one), viewer)

    def _calendar(
        self, session: Session, viewer: Viewer, slug: str | None, theme: str | None
    ) -> Response | None:
        if slug:
            community = readable_community(session, viewer, slug)
            communities = [community] if community else []
            name = community.name if community else ""
        else:
            communities = readable(session, viewer)
            name = library.themes(session).get(theme or "", "")
        if not name:  # a community not readable, or a theme that does not exist
            return None
        found = library.events(
            session,
            [c.id or 0 for c in communities],
            since=self.ctx.now() - CALENDAR_PAST,
            theme=theme,
            limit=CALENDAR_EVENTS,
        )
        calendar = calendar_of(found, f"{name} – {self.ctx.settings.instance.name}")
        return Response(
            calendar, media_type="text/calendar; charset=utf-8", headers=_private(viewer)
        )

    # Routes

    async def community(self, request: Request) -> Response:
        site, slug = self._site(request), request.path_params["slug"]
        return await self.respond(request, self._community, site, slug)

    async def thread(self, request: Request) -> Response:
        params = request.path_params
        return await self.respond(
            request, self._thread, self._site(request), params["slug"], params["thread_id"]
        )

    async def theme(self, request: Request) -> Response:
        site, theme = self._site(request), request.path_params["theme"]
        return await self.respond(request, self._theme, site, theme)

    async def synopses(self, request: Request) -> Response:
        site, slug = self._site(request), request.path_params.get("slug")
        return await self.respond(request, self._synopses, site, slug)

    async def community_calendar(self, request: Request) -> Response:
        return await self.respond(request, self._calendar, request.path_params["slug"], None)

    async def theme_calendar(self, request: Request) -> Response:
        return await self.respond(request, self._calendar, None, request.path_params["theme"])
