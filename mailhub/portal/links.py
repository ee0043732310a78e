"""The portal's addresses, in one place: pages link with them and mail points at them
(List-Archive, Archived-At). Once published a URL never changes: it is made of ids and
dates only, never of a subject or a title that a moderator may edit."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

from mailhub.config import Settings

if TYPE_CHECKING:  # the command line reads addresses without loading the store's models
    from mailhub.models import Community


def community_path(slug: str) -> str:
    return f"/c/{slug}/"


def thread_path(slug: str, thread_id: int | None) -> str:
    return f"/c/{slug}/t/{thread_id}"


def post_anchor(post_id: int | None) -> str:
    return f"p{post_id}"


def post_path(slug: str, thread_id: int | None, post_id: int | None) -> str:
    return f"{thread_path(slug, thread_id)}#{post_anchor(post_id)}"


def synopsis_path(slug: str, discussion_id: int | None, version: int) -> str:
    return f"/c/{slug}/d/{discussion_id}/synopsis/{version}"


def discussion_path(slug: str, discussion_id: int | None) -> str:
    return f"/c/{slug}/d/{discussion_id}"


def discussions_path(slug: str) -> str:
    return f"/c/{slug}/discussions/"


def theme_path(theme: str) -> str:
    return f"/themes/{theme}/"


def month_path(slug: str, year: int, month: int) -> str:
    return f"/c/{slug}/{year:04d}/{month:02d}/"


def reports_path(slug: str, since: str, until: str) -> str:
    """The moderators' report page of a period (days, both included)."""
    return f"/c/{slug}/reports?since={since}&until={until}"


def queue_path(slug: str) -> str:
    """The moderators' queue of a community (anyone else: 404)."""
    return f"/c/{slug}/queue"


def held_file_path(slug: str, attachment_id: int | None) -> str:
    """A held post's attachment, for the community's moderators while the post waits."""
    return f"/c/{slug}/queue/files/{attachment_id}"


def signin_path(next_path: str = "/", token: str = "") -> str:
    """The sign-in page (with ``token``: a mailed link's page) that returns the member to
    ``next_path``, a path of this site with its query, percent-encoded so that its `&`, `?`
    and non-ASCII letters come back as they were."""
    page = f"/signin/{token}" if token else "/signin"
    return page if next_path == "/" else f"{page}?next={quote(next_path, safe='/')}"


def base_url(settings: Settings) -> str | None:
    """Where the portal is served: the web endpoint's public address, or None."""
    public = settings.instance.public_url
    return public.rstrip("/") if public else None


def archive_url(settings: Settings, community: Community) -> str | None:
    """The community's portal home for List-Archive, unless it has no web archive."""
    base = base_url(settings)
    if base is None or community.archive == "none":
        return None
    return base + community_path(community.slug)


def archived_at(settings: Settings, community: Community, post_path_: str) -> str | None:
    """RFC 5064 Archived-At of one post, unless the community has no web archive."""
    base = base_url(settings)
    if base is None or community.archive == "none":
        return None
    return base + post_path_


# Feeds and exports: beside the page they follow, so a reader finds one from the other.


def community_feed_path(slug: str) -> str:
    return f"/c/{slug}/feed.atom"


def thread_feed_path(slug: str, thread_id: int | None) -> str:
    return f"{thread_path(slug, thread_id)}/feed.atom"


def theme_feed_path(theme: str) -> str:
    return f"/themes/{theme}/feed.atom"


def synopses_feed_path(slug: str | None = None) -> str:
    """A community's synopses, or (without ``slug``) those of every readable community."""
    return f"/c/{slug}/synopses.atom" if slug else "/synopses.atom"


def community_calendar_path(slug: str) -> str:
    return f"/c/{slug}/events.ics"


def theme_calendar_path(theme: str) -> str:
    return f"/themes/{theme}/events.ics"


def thread_mbox_path(slug: str, thread_id: int | None) -> str:
    return f"{thread_path(slug, thread_id)}.mbox"


def month_mbox_path(slug: str, year: int, month: int) -> str:
    return f"/c/{slug}/{year:04d}/{month:02d}.mbox"
