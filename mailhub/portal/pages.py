"""The reading pages of conversations: the instance home, a community's home, one
conversation, the archive newest first and by month, discussions with their synopses."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import Response

from mailhub.addresses import Kind
from mailhub.models import Discussion
from mailhub.portal import library, queries
from mailhub.portal.access import Viewer, readable, readable_community
from mailhub.portal.web import Page, Portal

RECENT = 10
LATEST = 5


class ConversationPages(Portal):
    """Routes of the instance home, community homes, conversations and discussions."""

    def _home(self, session: Session, viewer: Viewer) -> Page:
        return Page("instance", {"communities": readable(session, viewer)})

    def _community(self, session: Session, viewer: Viewer, slug: str) -> Page | None:
        community = readable_community(session, viewer, slug)
        if community is None:
            return None
        ids = [community.id or 0]
        now = self.ctx.now()
        values = {
            "community": community,
            "discussions": library.open_and_upcoming(session, ids),
            "synopses": library.synopses(session, ids, LATEST),
            "threads": queries.thread_lines(session, ids, limit=RECENT),
            "events": library.events(session, ids, since=now, limit=LATEST),
            "resources": library.resources(session, ids, limit=LATEST),
            "news": library.news(session, ids, LATEST),
            "themes": library.themes(session),
            "countries": library.countries(session, ids),
            "list_address": self.ctx.address_book(session).address(slug, Kind.POST),
            "request_address": self.ctx.address_book(session).address(slug, Kind.REQUEST),
            "is_member": (community.id or 0) in viewer.roles,
            "can_moderate": viewer.can_moderate(community),
        }
        return Page("community", values)

    def _thread(self, session: Session, viewer: Viewer, slug: str, thread_id: int) -> Page | None:
        community = readable_community(session, viewer, slug)
        thread = queries.get_thread(session, community, thread_id) if community else None
        if community is None or thread is None:
            return None
        posts = queries.thread_posts(session, thread)
        if not posts:
            return None
        discussion = session.get(Discussion, thread.discussion_id) if thread.discussion_id else None
        values = {
            "community": community,
            "thread": thread,
            "posts": posts,
            "discussion": discussion,
            "themes": library.themes(session),
            "list_address": self.ctx.address_book(session).address(slug, Kind.POST),
        }
        return Page("thread", values)

    def _archive(self, session: Session, viewer: Viewer, slug: str, page: int) -> Page | None:
        community = readable_community(session, viewer, slug)
        if community is None:
            return None
        size = self.ctx.settings.portal.page_size
        lines = queries.thread_lines(
            session, [community.id or 0], limit=size + 1, offset=(page - 1) * size
        )
        values = {
            "community": community,
            "threads": lines[:size],
            "page": page,
            "more": len(lines) > size,
            "months": queries.months(session, community),
        }
        return Page("archive", values)

    def _month(
        self, session: Session, viewer: Viewer, slug: str, year: int, month: int
    ) -> Page | None:
        community = readable_community(session, viewer, slug)
        if community is None or not (1 <= month <= 12 and 1990 <= year <= 9999):
            return None
        since, until = queries.month_bounds(year, month)
        lines = queries.thread_lines(
            session, [community.id or 0], limit=10_000, since=since, until=until
        )
        month_start = datetime(year, month, 1)
        values = {"community": community, "threads": lines, "month": month_start}
        return Page("month", values)

    def _discussions(self, session: Session, viewer: Viewer, slug: str) -> Page | None:
        community = readable_community(session, viewer, slug)
        if community is None:
            return None
        found = library.discussions(session, [community.id or 0])
        return Page("discussions", {"community": community, "discussions": found})

    def _discussion(self, session: Session, viewer: Viewer, slug: str, item: int) -> Page | None:
        community = readable_community(session, viewer, slug)
        discussion = (
            library.one(session, Discussion, item, [community.id or 0]) if community else None
        )
        if community is None or discussion is None:
            return None
        thread = library.discussion_thread(session, discussion)
        posts = queries.thread_posts(session, thread) if thread else []
        values = {
            "community": community,
            "discussion": discussion,
            "versions": library.synopsis_versions(session, discussion),
            "thread": thread,
            "posts": posts,
            "themes": library.themes(session),
            "list_address": self.ctx.address_book(session).address(slug, Kind.POST),
        }
        return Page("discussion", values)

    def _synopsis(
        self, session: Session, viewer: Viewer, slug: str, item: int, number: int
    ) -> Page | None:
        """One version of a synopsis, at a URL that never changes once it was sent."""
        community = readable_community(session, viewer, slug)
        discussion = (
            library.one(session, Discussion, item, [community.id or 0]) if community else None
        )
        versions = library.synopsis_versions(session, discussion) if discussion else []
        shown = next((v for v in versions if v.version == number), None)
        if community is None or shown is None:
            return None
        values = {
            "community": community,
            "discussion": discussion,
            "version": shown,
            "versions": versions,
        }
        return Page("synopsis", values)

    # Routes

    async def home(self, request: Request) -> Response:
        return await self.respond(request, self._home)

    async def community(self, request: Request) -> Response:
        return await self.respond(request, self._community, request.path_params["slug"])

    async def thread(self, request: Request) -> Response:
        params = request.path_params
        return await self.respond(request, self._thread, params["slug"], params["thread_id"])

    async def archive(self, request: Request) -> Response:
        page = request.query_params.get("page", "1")
        number = int(page) if page.isascii() and page.isdigit() and 0 < int(page) < 100_000 else 1
        return await self.respond(request, self._archive, request.path_params["slug"], number)

    async def month(self, request: Request) -> Response:
        params = request.path_params
        return await self.respond(
            request, self._month, params["slug"], params["year"], params["month"]
        )

    async def discussions(self, request: Request) -> Response:
        return await self.respond(request, self._discussions, request.path_params["slug"])

    async def discussion(self, request: Request) -> Response:
        params = request.path_params
        return await self.respond(request, self._discussion, params["slug"], params["item"])

    async def synopsis(self, request: Request) -> Response:
        params = request.path_params
        args = (params["slug"], params["item"], params["version"])
        return await self.respond(request, self._synopsis, *args)
