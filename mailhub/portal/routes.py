"""Every portal route, mounted by the web app (mailhub/web/app.py). URLs are made of ids
and dates only (links.py), so they never change once published."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from mailhub.context import Context
from mailhub.portal.account import AccountPages
from mailhub.portal.across import AcrossPages
from mailhub.portal.files import FileRoutes
from mailhub.portal.pages import ConversationPages
from mailhub.portal.rooms import RoomPages
from mailhub.portal.search import SearchPages


def routes(ctx: Context) -> list[BaseRoute]:
    talk, rooms, files, across = (
        ConversationPages(ctx),
        RoomPages(ctx),
        FileRoutes(ctx),
        AcrossPages(ctx),
    )
    account = AccountPages(ctx)
    finder = SearchPages(ctx)
    c = "/c/{slug}"
    return [
        Route("/", talk.home),
        Route("/static/portal.css", talk.stylesheet),
        Route(f"{c}/", talk.community),
        Route(f"{c}/t/{{thread_id:int}}", talk.thread),
        Route(f"{c}/archive/", talk.archive),
        Route(f"{c}/{{year:int}}/{{month:int}}/", talk.month),
        Route(f"{c}/discussions/", talk.discussions),
        Route(f"{c}/d/{{item:int}}", talk.discussion),
        Route(f"{c}/news/", rooms.news),
        Route(f"{c}/news/{{item:int}}", rooms.news_item),
        Route(f"{c}/events/", rooms.events),
        Route(f"{c}/events/{{item:int}}", rooms.event),
        Route(f"{c}/events/{{item:int}}.ics", files.ics),
        Route(f"{c}/calendar/{{year:int}}/{{month:int}}/", rooms.calendar),
        Route(f"{c}/resources/", rooms.resources),
        Route(f"{c}/resources/{{item:int}}", rooms.resource),
        Route(f"{c}/resources/{{item:int}}/file", files.resource_file),
        Route(f"{c}/files/{{item:int}}", files.attachment),
        Route(f"{c}/search", finder.within),
        Route("/search", finder.across),
        Route("/themes/{theme}/", across.theme),
        Route("/countries/{code}/", across.country),
        Route("/matrix/", across.matrix),
        Route("/signin", account.signin_form),
        Route("/signin", account.signin_post, methods=["POST"]),
        Route("/signin/code", account.code_post, methods=["POST"]),
        Route("/signin/{token}", account.link_page, methods=["GET", "POST"]),
        Route("/signout", account.signout, methods=["POST"]),
    ]
