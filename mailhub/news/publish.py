"""What a moderator's decision on a news or event submission does to the item itself.

Submissions wait in the moderation queue as posts of kind "news" or "event"; the decision
is mirrored onto the linked news item or event, which is what newsletters and the event
calendar read. This module imports no moderation code, so the moderation actions can call it.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from mailhub.models import SUBMISSION_KINDS, Community, Event, NewsItem, Post, PostStatus
from mailhub.search.queue import mark


def submission_key(kind: str, message_id: str) -> str:
    """The Message-ID a submission's queue item is stored under: the mail's, qualified by
    what it is. So the same mail sent to the list, -news@ and -events@ is one post, one news
    item and one event, each once however often it arrives; and a reply that names the
    Message-ID finds the list post, never a queue item."""
    return f"{kind}:{message_id}"


def mail_message_id(post: Post) -> str:
    """The Message-ID of the mail a post (or a submission) came in."""
    if post.kind in SUBMISSION_KINDS:
        return post.message_id.removeprefix(f"{post.kind}:")
    return post.message_id


def settle(session: Session, post: Post, now: datetime) -> None:
    """Give the news item or event of a submission the status its post was given."""
    if post.kind == "news":
        news = session.exec(select(NewsItem).where(NewsItem.post_id == post.id)).first()
        if news is not None:
            news.status = post.status
            if post.status == PostStatus.APPROVED.value:
                news.published_at = now
            session.add(news)
            mark(session, "news", [news.id])
    elif post.kind == "event":
        event = session.exec(select(Event).where(Event.post_id == post.id)).first()
        if event is not None:
            event.status = post.status
            session.add(event)
            mark(session, "event", [event.id])


def community_key(community: Community) -> int:
    """The id of a stored community (every community handed around here is stored)."""
    assert community.id is not None
    return community.id
