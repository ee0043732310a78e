"""Every portal route, mounted by the web app (mailhub/web/app.py). URLs are made of ids
and dates only (links.py), so they never change once published."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from mailhub.context import Context
from mailhub.portal.account import AccountPages
from mailhub.portal.across import AcrossPages
from mailhub.portal.feedpage import PATH as MY_FEEDS
from mailhub.portal.feedpage import FeedKeyPage
from mailhub.portal.feedroutes import FeedRoutes
from mailhub.portal.files import FileRoutes
from mailhub.portal.mboxes import MboxRoutes
from mailhub.portal.member_page import MemberPages
from mailhub.portal.moderate import ModerationPages
from mailhub.portal.pages import ConversationPages
from mailhub.portal.reports import ReportPages
from mailhub.portal.rooms import RoomPages
from mailhub.portal.search import SearchPages


def routes(ctx: Context) -> list[BaseRoute]:
    talk, rooms, files, across = (
        ConversationPages(ctx),
        RoomPages(ctx),
        FileRoutes(ctx),
        AcrossPages(ctx),
    )
    account, me, queue = AccountPages(ctx), MemberPages(ctx), ModerationPages(ctx)
    feeds, mboxes, my_feeds = FeedRoutes(ctx), MboxRoutes(ctx), FeedKeyPage(ctx)
    reports = ReportPages(ctx)
    finder = SearchPages(ctx)
    c = "/c/{slug}"
    return [
        Route("/", talk.home),
        Route("/static/portal.css", talk.stylesheet),
        Route(f"{c}/", talk.community),
        Route(f"{c}/t/{{thread_id:int}}", talk.thread),
        Route(f"{c}/t/{{thread_id:int}}.mbox", mboxes.thread),
        Route(f"{c}/{{year:int}}/{{month:int}}.mbox", mboxes.month),
        Route(f"{c}/archive/", talk.archive),
        Route(f"{c}/{{year:int}}/{{month:int}}/", talk.month),
        Route(f"{c}/discussions/", talk.discussions),
        Route(f"{c}/d/{{item:int}}", talk.discussion),
        Route(f"{c}/d/{{item:int}}/synopsis/{{version:int}}", talk.synopsis),
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
        Route(f"{c}/reports", reports.reports),
        Route(f"{c}/search", finder.within),
        Route("/search", finder.across),
        Route("/themes/{theme}/", across.theme),
        Route("/countries/{code}/", across.country),
        Route("/matrix/", across.matrix),
        Route(f"{c}/feed.atom", feeds.community),
        Route(f"{c}/t/{{thread_id:int}}/feed.atom", feeds.thread),
        Route(f"{c}/synopses.atom", feeds.synopses),
        Route("/synopses.atom", feeds.synopses),
        Route("/themes/{theme}/feed.atom", feeds.theme),
        Route(f"{c}/events.ics", feeds.community_calendar),
        Route("/themes/{theme}/events.ics", feeds.theme_calendar),
        Route(MY_FEEDS, my_feeds.show),
        Route(MY_FEEDS, my_feeds.act, methods=["POST"]),
        Route("/signin", account.signin_form),
        Route("/signin", account.signin_post, methods=["POST"]),
        Route("/signin/code", account.code_post, methods=["POST"]),
        Route("/signin/{token}", account.link_page, methods=["GET", "POST"]),
        Route("/signout", account.signout, methods=["POST"]),
        Route("/me", me.page),
        Route("/me/profile", me.profile, methods=["POST"]),
        Route("/me/{slug}/settings", me.settings, methods=["POST"]),
        Route("/me/{slug}/leave", me.leave, methods=["POST"]),
        Route(f"{c}/queue", queue.queue),
        Route(f"{c}/queue/{{item:int}}", queue.decide, methods=["POST"]),
        Route(f"{c}/queue/files/{{item:int}}", files.held_attachment),
    ]
