"""The search page: across every community the visitor may read (/search), or within one
(/c/<slug>/search). A GET form, so it works without JavaScript and a result page is a link
one can share; the filters of the form are written into the query language."""

from __future__ import annotations

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import Response

from mailhub.portal import library
from mailhub.portal.access import Viewer, readable, readable_community
from mailhub.portal.web import Page, Portal
from mailhub.search.documents import KINDS
from mailhub.search.query import QueryError, parse
from mailhub.search.results import KIND_NAMES, Results, search

MAX_QUERY = 500
MAX_PAGE = 50


def written_query(wanted: dict[str, str]) -> str:
    """The query box with the form's filters added in the query language."""
    text = wanted.get("q", "")[:MAX_QUERY]
    if wanted.get("in") in KINDS:
        text += f" in:{wanted['in']}"
    theme = wanted.get("theme", "")
    if theme and all(ch.isalnum() or ch == "-" for ch in theme):
        text += f" theme:{theme}"
    return text.strip()


def page_number(given: str) -> int:
    """The page asked for, within 1..MAX_PAGE; anything but ASCII digits (a superscript
    passes str.isdigit but not int) is page 1, and a number too long to read is the last."""
    if not (given.isascii() and given.isdigit()):
        return 1
    if len(given) > len(str(MAX_PAGE)):
        return MAX_PAGE
    return min(max(int(given), 1), MAX_PAGE)


class SearchPages(Portal):
    """GET /search and /c/<slug>/search."""

    # Not kept for visitors: the index catches up after the change that bumps the store's
    # change count, so a kept page would miss what was indexed since (and queries vary
    # without end).
    keep_for_visitors = False

    def _search(
        self, session: Session, viewer: Viewer, slug: str | None, wanted: dict[str, str]
    ) -> Page | None:
        if slug is None:
            communities, community = readable(session, viewer), None
        else:
            community = readable_community(session, viewer, slug)
            if community is None:
                return None
            communities = [community]
        text = written_query(wanted)
        page = page_number(wanted["page"])
        results, error = Results([], False), ""
        if text:
            try:
                query = parse(text)
                per_page = self.ctx.settings.search.results_per_page
                found = search(session, query, communities, page=page, per_page=per_page)
                # No "More results" past the last page: it would show this page again.
                results = Results(found.hits, found.more and page < MAX_PAGE)
            except QueryError as exc:
                error = str(exc)
        values = {
            "community": community,
            "wanted": wanted,
            "asked": text,
            "results": results,
            "error": error,
            "page": page,
            "kinds": KIND_NAMES,
            "themes": library.themes(session),
            "robots": "noindex",
        }
        return Page("search", values, status=400 if error else 200)

    async def across(self, request: Request) -> Response:
        return await self.respond(request, self._search, None, self._wanted(request))

    async def within(self, request: Request) -> Response:
        slug = request.path_params["slug"]
        return await self.respond(request, self._search, slug, self._wanted(request))

    @staticmethod
    def _wanted(request: Request) -> dict[str, str]:
        return {k: request.query_params.get(k, "") for k in ("q", "in", "theme", "page")}
