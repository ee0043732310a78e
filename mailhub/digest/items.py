"""What a digest can hold: the community's approved posts in a period, with their author,
thread and discussion, and the choice of them one member gets.

A post's themes are its thread's (set by moderators: `mailhub thread theme`, `mailhub queue
approve --theme`, or `approve themes ...` by mail) and its discussion's; a member who takes
"only my themes" gets the posts tagged with one of theirs and nothing untagged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from mailhub.models import Attachment, Discussion, Person, Post, PostStatus, Thread
from mailhub.rendering import human_size, one_line
from mailhub.threads.subjects import display_subject
from mailhub.threads.themes import combined


@dataclass(frozen=True)
class Item:
    """One approved post as a digest shows it."""

    post_id: int
    message_id: str
    at: datetime
    subject: str
    body: str
    author_name: str
    author_email: str
    affiliation: str
    country: str
    organisation: str
    thread_id: int
    thread_subject: str
    discussion_id: int | None
    discussion_title: str
    themes: frozenset[str]
    attachments: tuple[str, ...] = ()  # "report.pdf (1.2 MB)", as the post carried them


def approved_between(
    session: Session, community_id: int, since: datetime, until: datetime
) -> list[Item]:
    """Posts approved after ``since`` and at or before ``until``, oldest first.

    A post counts from its approval (a post approved late joins the next digest), or from
    its arrival when it never waited for a decision.
    """
    decided = col(Post.decided_at)
    received = col(Post.received_at)
    window = or_(
        and_(decided.is_not(None), decided > since, decided <= until),
        and_(decided.is_(None), received > since, received <= until),
    )
    query = (
        select(Post, Person, Thread, Discussion)
        .outerjoin(Person, col(Person.id) == col(Post.person_id))
        .outerjoin(Thread, col(Thread.id) == col(Post.thread_id))
        .outerjoin(Discussion, col(Discussion.id) == col(Thread.discussion_id))
        .where(
            Post.community_id == community_id,
            Post.status == PostStatus.APPROVED.value,
            # Members' posts only: news and events go to the newsletter and event digest,
            # and a discussion's announcement already went to every digest member.
            col(Post.kind).in_(DIGEST_KINDS),
            window,
        )
    )
    items = _with_attachments(session, [_item(*row) for row in session.exec(query).all()])
    return sorted(items, key=lambda item: (item.at, item.post_id))


def _with_attachments(session: Session, items: list[Item]) -> list[Item]:
    """The items, each naming its post's attachments (one query for all of them)."""
    named: dict[int, list[str]] = {}
    ids = [item.post_id for item in items]
    for start in range(0, len(ids), 500):
        rows = session.exec(
            select(Attachment.post_id, Attachment.filename, Attachment.size)
            .where(col(Attachment.post_id).in_(ids[start : start + 500]))
            .order_by(col(Attachment.id))
        ).all()
        for post_id, filename, size in rows:
            named.setdefault(post_id, []).append(f"{one_line(filename)} ({human_size(size)})")
    return [
        replace(item, attachments=tuple(named[item.post_id])) if item.post_id in named else item
        for item in items
    ]


DIGEST_KINDS = ("post", "reply")


def _item(
    post: Post, person: Person | None, thread: Thread | None, talk: Discussion | None
) -> Item:
    assert post.id is not None
    return Item(
        post_id=post.id,
        message_id=post.message_id,
        at=post.decided_at or post.received_at,
        subject=display_subject(post.subject),
        body=post.body_text.strip(),
        author_name=(person.name if person and person.name else post.author_name)
        or post.author_email,
        author_email=post.author_email,
        affiliation=person.affiliation if person else "",
        country=(person.country or "").upper() if person else "",
        organisation=person.organisation if person else "",
        thread_id=thread.id if thread and thread.id else -post.id,
        thread_subject=display_subject(thread.subject if thread else post.subject),
        discussion_id=talk.id if talk else None,
        discussion_title=" ".join(talk.title.split()) if talk else "",
        themes=frozenset(combined(thread, talk)),
    )


def chosen(
    items: Sequence[Item], since: datetime, themes: Sequence[str], only_my_themes: bool
) -> tuple[Item, ...]:
    """The items one member gets: newer than their last digest, and on their themes when
    they take only those (a member who chose no theme gets everything)."""
    wanted = frozenset(themes) if only_my_themes and themes else None
    return tuple(
        item for item in items if item.at > since and (wanted is None or item.themes & wanted)
    )
