"""What a moderator's decision on a news or event submission does to the item itself.

Submissions wait in the moderation queue as posts of kind "news" or "event"; the decision
is mirrored onto the linked news item or event, which is what newsletters and the event
calendar read. This module imports no moderation code, so the moderation actions can call it.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from mailhub.models import Community, Event, NewsItem, Post, PostStatus

SUBMISSION_KINDS = ("news", "event")


def settle(session: Session, post: Post, now: datetime) -> None:
    """Give the news item or event of a submission the status its post was given."""
    if post.kind == "news":
        news = session.exec(select(NewsItem).where(NewsItem.post_id == post.id)).first()
        if news is not None:
            news.status = post.status
            if post.status == PostStatus.APPROVED.value:
                news.published_at = now
            session.add(news)
    elif post.kind == "event":
        event = session.exec(select(Event).where(Event.post_id == post.id)).first()
        if event is not None:
            event.status = post.status
            session.add(event)


def community_key(community: Community) -> int:
    """The id of a stored community (every community handed around here is stored)."""
    assert community.id is not None
    return community.id
