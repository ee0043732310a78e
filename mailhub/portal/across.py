"""The pages across communities: a theme, a country, and the theme × country matrix. Each
reads only the communities the viewer may read, so a members-only community adds nothing
to a visitor's counts or lists."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import Response

from mailhub.portal import library, queries
from mailhub.portal.access import Viewer, readable
from mailhub.portal.web import Page, Portal, is_country

LISTED = 40
UPCOMING_AND_RECENT = timedelta(days=90)


class AcrossPages(Portal):
    """Routes of theme, country and matrix pages."""

    def _across(
        self, session: Session, viewer: Viewer, theme: str | None, country: str | None
    ) -> Page | None:
        communities = readable(session, viewer)
        by_id = {c.id: c for c in communities}
        ids = [c.id or 0 for c in communities]
        themes = library.themes(session)
        if (theme and theme not in themes) or (country and not is_country(country)):
            return None
        threads = queries.thread_lines(
            session,
            ids,
            limit=LISTED,
            thread_ids=library.thread_ids(session, ids, theme=theme, country=country, limit=LISTED),
        )
        values: dict[str, Any] = {
            "theme": theme,
            "country": country,
            "themes": themes,
            "by_id": by_id,
            "threads": threads,
            "resources": library.resources(
                session, ids, theme=theme, country=country, limit=LISTED
            ),
        }
        if theme and not country:
            values["discussions"] = library.discussions(session, ids, theme=theme, limit=LISTED)
            values["news"] = library.news(session, ids, LISTED, theme=theme)
            values["events"] = library.events(
                session, ids, since=self.ctx.now() - UPCOMING_AND_RECENT, theme=theme, limit=LISTED
            )
        return Page("across", values)

    def _matrix(self, session: Session, viewer: Viewer) -> Page:
        ids = [c.id or 0 for c in readable(session, viewer)]
        counts = library.matrix(session, ids)
        used_countries = sorted({country for _, country in counts})
        themes = library.themes(session)
        rows = [slug for slug in themes if any((slug, c) in counts for c in used_countries)]
        values = {"counts": counts, "countries": used_countries, "rows": rows, "themes": themes}
        return Page("matrix", values)

    async def theme(self, request: Request) -> Response:
        country = request.query_params.get("country", "").upper()[:2] or None
        return await self.respond(request, self._across, request.path_params["theme"], country)

    async def country(self, request: Request) -> Response:
        code = request.path_params["code"].upper()
        return await self.respond(request, self._across, None, code if len(code) == 2 else "??")

    async def matrix(self, request: Request) -> Response:
        return await self.respond(request, self._matrix)
