"""The moderation queue as a whole: listing what waits, and the daily reminder.

The reminder lists every held item of a community with its number (the item's id), so a
moderator can answer it with lines such as `approve 1 3 4`. It goes out at most once a day
per moderator, and only when something has waited longer than the configured time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from mailhub import tokens
from mailhub.addresses import Kind
from mailhub.context import Context
from mailhub.models import Attachment, Community, Person, Post, PostStatus
from mailhub.moderation.team import DECISION_TOKEN_LIFETIME, moderators
from mailhub.outbound.compose import send_rendered, staff_notice
from mailhub.portal import links


@dataclass(frozen=True)
class QueueItem:
    post: Post
    person: Person | None
    age: str
    preview: str


def describe_age(delta: timedelta) -> str:
    hours = int(delta.total_seconds() // 3600)
    if hours < 1:
        return f"{max(int(delta.total_seconds() // 60), 0)} min"
    if hours < 48:
        return f"{hours} h"
    return f"{hours // 24} days"


def held_posts(
    session: Session,
    community: Community | None = None,
    *,
    older_than: datetime | None = None,
    sender: str | None = None,
) -> list[Post]:
    query = select(Post).where(Post.status == PostStatus.HELD.value).order_by(col(Post.id))
    if community is not None:
        query = query.where(Post.community_id == community.id)
    if older_than is not None:
        query = query.where(Post.received_at <= older_than)
    if sender:
        query = query.where(Post.author_email == sender.strip().lower())
    return list(session.exec(query))


def held_attachment(
    session: Session, community: Community, attachment_id: int
) -> Attachment | None:
    """A file of a post of this community that waits in the queue, or None."""
    query = (
        select(Attachment)
        .join(Post, col(Post.id) == col(Attachment.post_id))
        .where(
            Attachment.id == attachment_id,
            Post.community_id == community.id,
            Post.status == PostStatus.HELD.value,
        )
    )
    return session.exec(query).first()


def queue_items(session: Session, posts: list[Post], now: datetime) -> list[QueueItem]:
    ids = {p.person_id for p in posts if p.person_id}
    people = (
        {p.id: p for p in session.exec(select(Person).where(col(Person.id).in_(ids)))}
        if ids
        else {}
    )
    items = []
    for post in posts:
        first = next((line.strip() for line in post.body_text.splitlines() if line.strip()), "")
        preview = first if len(first) <= 100 else first[:97] + "..."
        person = people.get(post.person_id) if post.person_id else None
        items.append(QueueItem(post, person, describe_age(now - post.received_at), preview))
    return items


def send_reminders(ctx: Context, session: Session, now: datetime | None = None) -> int:
    """Remind each community's moderators of items waiting too long; once a day each."""
    now = now or ctx.now()
    cutoff = now - timedelta(hours=ctx.settings.moderation.remind_after_hours)
    sent = 0
    for community in session.exec(select(Community).order_by(col(Community.id))):
        if not held_posts(session, community, older_than=cutoff):
            continue
        items = queue_items(session, held_posts(session, community), now)
        book = ctx.address_book(session)
        base = links.base_url(ctx.settings)
        web = base + links.queue_path(community.slug) if base else None
        for moderator in moderators(session, community):
            token = tokens.sign(
                ctx.secret,
                tokens.QUEUE,
                community.id or 0,
                moderator.id or 0,
                expires_at=now + DECISION_TOKEN_LIFETIME,
            )
            notice = staff_notice(
                community,
                moderator,
                f"{len(items)} item(s) await moderation",
                kind="reminder",
                dedup_key=f"reminder:{community.id}:{moderator.id}:{now.date().isoformat()}",
                reply_to=book.address(community.slug, Kind.MODERATION, token),
            )
            template = "moderation/reminder.txt"
            sent += send_rendered(
                ctx, session, community, template, notice, items=items, queue_url=web
            )
    return sent
