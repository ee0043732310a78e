"""The reading pages of a community's rooms: news, events (a list and a month calendar)
and the resource library, filtered by theme, country and kind."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import Response

from mailhub.models import Event, NewsItem, Resource
from mailhub.portal import library
from mailhub.portal.access import Viewer, readable_community
from mailhub.portal.web import Page, Portal

KINDS = ("legislation", "policy", "case-study", "research", "training", "other")


class RoomPages(Portal):
    """Routes of news, events, the calendar and the resource library."""

    def _news(self, session: Session, viewer: Viewer, slug: str) -> Page | None:
        community = readable_community(session, viewer, slug)
        if community is None:
            return None
        items = library.news(session, [community.id or 0])
        return Page("news", {"community": community, "items": items})

    def _item(
        self, session: Session, viewer: Viewer, slug: str, model: type, item_id: int
    ) -> Page | None:
        community = readable_community(session, viewer, slug)
        item = library.one(session, model, item_id, [community.id or 0]) if community else None
        if community is None or item is None:
            return None
        templates: dict[type, str] = {NewsItem: "news_item", Event: "event", Resource: "resource"}
        template = templates[model]
        values = {"community": community, "item": item, "themes": library.themes(session)}
        return Page(template, values)

    def _events(self, session: Session, viewer: Viewer, slug: str) -> Page | None:
        community = readable_community(session, viewer, slug)
        if community is None:
            return None
        now = self.ctx.now()
        ids = [community.id or 0]
        values = {
            "community": community,
            "upcoming": library.events(session, ids, since=now),
            "past": list(reversed(library.events(session, ids, until=now))),
            "today": now.astimezone(ZoneInfo(community.timezone)),
        }
        return Page("events", values)

    def _calendar(
        self, session: Session, viewer: Viewer, slug: str, year: int, month: int
    ) -> Page | None:
        community = readable_community(session, viewer, slug)
        if community is None or not (1 <= month <= 12 and 1990 <= year <= 9999):
            return None
        zone = ZoneInfo(community.timezone)
        start = datetime(year, month, 1, tzinfo=zone)
        end = (start + timedelta(days=32)).replace(day=1)
        found = library.events(
            session, [community.id or 0], since=start.astimezone(UTC), until=end.astimezone(UTC)
        )
        by_day: dict[int, list[Event]] = {}
        for event in found:
            by_day.setdefault(event.starts_at.astimezone(zone).day, []).append(event)
        previous = (start - timedelta(days=1)).replace(day=1)
        values = {
            "community": community,
            "month": start,
            "weeks": calendar.Calendar(firstweekday=0).monthdayscalendar(year, month),
            "by_day": by_day,
            "previous": previous,
            "next": end,
        }
        return Page("calendar", values)

    def _resources(
        self, session: Session, viewer: Viewer, slug: str, wanted: dict[str, str]
    ) -> Page | None:
        community = readable_community(session, viewer, slug)
        if community is None:
            return None
        ids = [community.id or 0]
        themes = library.themes(session)
        theme = wanted.get("theme") if wanted.get("theme") in themes else None
        kind = wanted.get("kind") if wanted.get("kind") in KINDS else None
        country = (wanted.get("country") or "").upper()[:2] or None
        values = {
            "community": community,
            "items": library.resources(session, ids, theme=theme, country=country, kind=kind),
            "themes": themes,
            "kinds": KINDS,
            "countries": library.resource_countries(session, ids),
            "chosen": {"theme": theme or "", "kind": kind or "", "country": country or ""},
        }
        return Page("resources", values)

    # Routes

    async def news(self, request: Request) -> Response:
        return await self.respond(request, self._news, request.path_params["slug"])

    async def news_item(self, request: Request) -> Response:
        params = request.path_params
        return await self.respond(request, self._item, params["slug"], NewsItem, params["item"])

    async def events(self, request: Request) -> Response:
        return await self.respond(request, self._events, request.path_params["slug"])

    async def event(self, request: Request) -> Response:
        params = request.path_params
        return await self.respond(request, self._item, params["slug"], Event, params["item"])

    async def calendar(self, request: Request) -> Response:
        params = request.path_params
        return await self.respond(
            request, self._calendar, params["slug"], params["year"], params["month"]
        )

    async def resources(self, request: Request) -> Response:
        wanted = {k: request.query_params.get(k, "") for k in ("theme", "kind", "country")}
        return await self.respond(request, self._resources, request.path_params["slug"], wanted)

    async def resource(self, request: Request) -> Response:
        params = request.path_params
        return await self.respond(request, self._item, params["slug"], Resource, params["item"])
