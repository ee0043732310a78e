"""What a discussion sends as it moves: the announcement that opens it (and becomes the
root of its thread), the reminder to those who have not spoken, the moderator's status."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from mailhub.context import Context
from mailhub.discussions import figures, listmail
from mailhub.discussions.figures import ROOT_KIND
from mailhub.models import Community, Discussion, Person, Post, PostStatus, Thread, ThreadRef
from mailhub.outbound.compose import send_rendered, staff_notice
from mailhub.rendering import render
from mailhub.search.queue import mark
from mailhub.threads.subjects import normalise_subject


def root_message_id(ctx: Context, discussion: Discussion) -> str:
    """The announcement's Message-ID: fixed per discussion, so a second try reuses it."""
    stamp = int(discussion.created_at.timestamp())
    return f"discussion-{discussion.id}-{stamp}@{ctx.settings.instance.domain}"


def root_post(
    ctx: Context, session: Session, community: Community, discussion: Discussion, now: datetime
) -> Post:
    """The announcement as the first post of the discussion's thread (made once).

    Replies find the thread through it: the reply address names this post, and its
    Message-ID is remembered for replies that only carry In-Reply-To or References.
    """
    assert community.id is not None
    message_id = root_message_id(ctx, discussion)
    found = session.exec(
        select(Post).where(Post.community_id == community.id, Post.message_id == message_id)
    ).first()
    if found is not None:
        return found
    moderator = session.get(Person, discussion.moderator_id) if discussion.moderator_id else None
    thread = Thread(
        community_id=community.id,
        subject=discussion.title,
        normalised_subject=normalise_subject(discussion.title, [community.tag or ""]),
        root_message_id=message_id,
        discussion_id=discussion.id,
        post_count=1,
        created_at=now,
        last_activity_at=now,
    )
    session.add(thread)
    session.flush()
    assert thread.id is not None
    post = Post(
        community_id=community.id,
        thread_id=thread.id,
        person_id=moderator.id if moderator else None,
        message_id=message_id,
        kind=ROOT_KIND,
        author_email=moderator.email if moderator else "",
        author_name=moderator.name if moderator else "",
        subject=discussion.title,
        status=PostStatus.APPROVED.value,
        reason="the question of a discussion",
        body_text=discussion.question,
        full_text=discussion.question,
        sent_at=now,
        received_at=now,
        decided_at=now,
    )
    session.add(post)
    session.add(ThreadRef(community_id=community.id, message_id=message_id, thread_id=thread.id))
    session.flush()
    mark(session, "post", [post.id])
    return post


def announce(
    ctx: Context, session: Session, community: Community, discussion: Discussion, root: Post
) -> int:
    """The question to every member who receives mail; returns the copies newly queued."""
    assert community.id is not None and root.id is not None
    moderator = session.get(Person, discussion.moderator_id) if discussion.moderator_id else None
    text = render(
        "discussions/announcement.txt",
        ctx.settings.templates_override,
        community=community,
        discussion=discussion,
        moderator=moderator,
    )
    mail = listmail.ListMail(f"Discussion: {discussion.title}", text, root.message_id)
    return listmail.send_to(
        ctx,
        session,
        community,
        mail,
        recipients=listmail.receivers(session, community.id),
        root_post_id=root.id,
        kind="discussion",
        key=f"discussion:{discussion.id}:open",
    )


def remind(
    ctx: Context, session: Session, community: Community, discussion: Discussion, root: Post
) -> int:
    """A reminder to members who have not contributed; the moderator gets the status."""
    assert community.id is not None and root.id is not None
    spoke = figures.contributor_ids(session, discussion) | {discussion.moderator_id}
    waiting = [r for r in listmail.receivers(session, community.id) if r.person_id not in spoke]
    text = render(
        "discussions/reminder.txt",
        ctx.settings.templates_override,
        community=community,
        discussion=discussion,
    )
    mail = listmail.ListMail(
        f"Reminder: {discussion.title}",
        text,
        f"discussion-{discussion.id}-reminder@{ctx.settings.instance.domain}",
        in_reply_to=root.message_id,
    )
    sent = listmail.send_to(
        ctx,
        session,
        community,
        mail,
        recipients=waiting,
        root_post_id=root.id,
        kind="discussion-reminder",
        key=f"discussion:{discussion.id}:remind",
    )
    send_status(ctx, session, community, discussion, reminded=len(waiting))
    return sent


def send_status(
    ctx: Context, session: Session, community: Community, discussion: Discussion, reminded: int
) -> bool:
    """The moderator's short account of the contributions so far."""
    moderator = session.get(Person, discussion.moderator_id) if discussion.moderator_id else None
    if moderator is None:
        return False
    approved = figures.contributions(session, discussion)
    held = figures.contributions(session, discussion, (PostStatus.HELD.value,))
    notice = staff_notice(
        community,
        moderator,
        f"status of the discussion: {discussion.title}",
        kind="discussion-status",
        dedup_key=f"discussion:{discussion.id}:status",
    )
    return send_rendered(
        ctx,
        session,
        community,
        "discussions/status.txt",
        notice,
        discussion=discussion,
        figures=figures.figures(approved),
        held=len(held),
        reminded=reminded,
    )
