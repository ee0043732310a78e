"""Carrying out a moderation verdict or decision: status, record, and the mails it owes.

One place turns approve / reject / discard / defer / hold into effects: the post's status,
a `Decision` row (who, when, how, what), the delivery of an approved post, the notice to a
rejected poster, the notification of moderators for a held post, and the FYI to the other
moderators when one of them decides.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, insert, update
from sqlmodel import Session, col, select

from mailhub.context import Context
from mailhub.library.offers import offer_attachments
from mailhub.models import (
    SUBMISSION_KINDS,
    Attachment,
    Community,
    Decision,
    Discussion,
    Person,
    Post,
    PostStatus,
    table_of,
)
from mailhub.moderation.rules import Action, Verdict
from mailhub.moderation.team import moderation_address, moderators
from mailhub.news.publish import mail_message_id, settle
from mailhub.outbound.compose import Notice, owner_reply_to, send_rendered, staff_notice
from mailhub.portal import links
from mailhub.search.queue import mark
from mailhub.threads.themes import add_themes

log = logging.getLogger("mailhub.moderation")
DECISIONS = table_of(Decision)
POSTS = table_of(Post)
DONE_STATUS = {
    "approve": PostStatus.APPROVED,
    "reject": PostStatus.REJECTED,
    "discard": PostStatus.DISCARDED,
}


class AlreadyDecided(Exception):
    """The item was decided before; the first decision stands."""

    def __init__(self, post: Post, by: str) -> None:
        super().__init__(f"item {post.id} was already {post.status} by {by}")
        self.post = post
        self.by = by


@dataclass(frozen=True)
class Done:
    post: Post
    action: str
    reason: str | None


def person_label(person: Person | None, via: str = "rules") -> str:
    """Who decided, for people: a named moderator, an admin's command (`queue approve`
    without --as names nobody), or the rules."""
    if person is None:
        return "an admin on the command line" if via == "cli" else "the rules"
    return f"{person.name} <{person.email}>" if person.name else person.email


def decider_label(session: Session, post: Post) -> str:
    person = session.get(Person, post.decided_by) if post.decided_by else None
    if person is not None:
        return person_label(person)
    last = session.exec(
        select(Decision.via)
        .where(Decision.post_id == post.id, Decision.action != "hold")
        .order_by(col(Decision.id).desc())
    ).first()
    return person_label(None, last or "rules")


def notify_held(ctx: Context, session: Session, community: Community, post: Post) -> int:
    """One notification per moderator, each with its own decision address."""
    team = moderators(session, community)
    if not team:
        return 0
    person = session.get(Person, post.person_id) if post.person_id else None
    files = session.exec(select(Attachment).where(Attachment.post_id == post.id)).all()
    web = held_links(ctx, community, files)
    sent = 0
    for moderator in team:
        notice = staff_notice(
            community,
            moderator,
            f"held for moderation: {post.subject}",
            kind="held",
            dedup_key=f"held:{post.id}:to:{moderator.id}",
            reply_to=moderation_address(ctx, session, community, post, moderator),
        )
        sent += send_rendered(
            ctx,
            session,
            community,
            "moderation/held.txt",
            notice,
            post=post,
            person=person,
            author_name=post.author_name,
            reason=post.reason,
            attachments=files,
            **web,
        )
    return sent


def held_links(
    ctx: Context, community: Community, files: Sequence[Attachment]
) -> dict[str, object]:
    """The queue's web address and each held file's, when the portal has a public address:
    the files are not in the notice (a file the policy refused may be harmful), so this is
    how a moderator opens them before deciding."""
    base = links.base_url(ctx.settings)
    if base is None:
        return {"queue_url": None, "file_urls": {}}
    return {
        "queue_url": base + links.queue_path(community.slug),
        "file_urls": {f.id: base + links.held_file_path(community.slug, f.id) for f in files},
    }


def tell_sender(
    ctx: Context, session: Session, community: Community, post: Post, template: str, **extra: object
) -> None:
    """A notice to the poster (rejection, non-member, late contribution)."""
    if not post.author_email:
        return
    discussion = _discussion_of(session, post) if template == "late" else None
    subjects = {
        "rejected": "Your message was not published",
        "nonmember": "Your message was not published",
        "late": "The discussion has closed",
        "command-to-list": "Your message is waiting for a moderator",
    }
    notice = Notice(
        to=post.author_email,
        subject=f"{subjects.get(template, 'About your message')}: {post.subject}",
        kind=template,
        dedup_key=f"{template}:{post.id}",
        person_id=post.person_id,
        in_reply_to=mail_message_id(post),
        reply_to=owner_reply_to(ctx.address_book(session), community),
    )
    send_rendered(
        ctx,
        session,
        community,
        f"moderation/{template}.txt",
        notice,
        post=post,
        author_name=post.author_name,
        discussion=discussion,
        **extra,
    )


def _discussion_of(session: Session, post: Post) -> Discussion | None:
    from mailhub.models import Thread

    thread = session.get(Thread, post.thread_id) if post.thread_id else None
    if thread is None or thread.discussion_id is None:
        return None
    return session.get(Discussion, thread.discussion_id)


def record(
    session: Session,
    post: Post,
    action: str,
    by: Person | None,
    via: str,
    reason: str | None,
    now: datetime,
) -> None:
    """Keep who decided what, when and how (email, CLI or the rules)."""
    # A plain insert: the record is never changed afterwards, so the unit of work has
    # nothing to track, and on the intake path this is measurably cheaper.
    session.connection().execute(
        insert(DECISIONS),
        {
            "post_id": post.id,
            "person_id": by.id if by else None,
            "action": action,
            "reason": reason,
            "via": via,
            "decided_at": now,
        },
    )
    log.info(
        "decision post=%s community=%s action=%s by=%s via=%s reason=%r",
        post.id,
        post.community_id,
        action,
        by.email if by else "rules",
        via,
        reason,
    )


def hold_all(ctx: Context, session: Session, held: Sequence[tuple[Community, Post, str]]) -> None:
    """The one writer of holds, for posts and submissions: each post keeps its reason and a
    decision record (set-wise: one statement each for the whole batch), and its community's
    moderators are told."""
    if not held:
        return
    connection = session.connection()
    connection.execute(
        update(POSTS).where(POSTS.c.id == bindparam("post_id")).values(reason=bindparam("why")),
        [{"post_id": post.id, "why": reason} for _, post, reason in held],
    )
    decided_at = ctx.now()
    connection.execute(
        insert(DECISIONS),
        [
            {
                "post_id": post.id,
                "person_id": None,
                "action": "hold",
                "reason": reason,
                "via": "rules",
                "decided_at": decided_at,
            }
            for _, post, reason in held
        ],
    )
    for community, post, reason in held:
        post.reason = reason
        log.info(
            "decision post=%s community=%s action=hold by=rules via=rules reason=%r",
            post.id,
            community.id,
            reason,
        )
        notify_held(ctx, session, community, post)


def carry_out(
    ctx: Context, session: Session, community: Community, post: Post, verdict: Verdict
) -> None:
    """Do what the rules decided for one stored post (a hold that owes its sender a notice,
    an acceptance, a rejection or a discard), and send what that verdict owes."""
    post.reason = verdict.reason
    session.add(post)
    if verdict.action is Action.ACCEPT:
        decide(ctx, session, post, "approve", by=None, via="rules", reason=verdict.reason)
    elif verdict.action is Action.HOLD:
        session.flush()
        hold_all(ctx, session, [(community, post, verdict.reason)])
    else:
        done = PostStatus.REJECTED if verdict.action is Action.REJECT else PostStatus.DISCARDED
        post.status = done.value
        post.decided_at = ctx.now()
        record(session, post, verdict.action.value, None, "rules", verdict.reason, ctx.now())
    if verdict.tell_sender:
        tell_sender(ctx, session, community, post, verdict.tell_sender)
    session.flush()


def claim_held(session: Session, post: Post) -> bool:
    """Take a post for one decision; False when it is no longer held. PostgreSQL locks the
    row (a second decider waits, then reads the first one's outcome); on SQLite the
    conditional UPDATE takes the one write lock and checks the status once the writer
    before it has committed."""
    session.flush()
    if session.connection().dialect.name == "postgresql":
        query = select(Post).where(Post.id == post.id).with_for_update()
        session.exec(query.execution_options(populate_existing=True)).first()
    else:
        session.connection().execute(
            update(POSTS)
            .where(POSTS.c.id == post.id, POSTS.c.status == PostStatus.HELD.value)
            .values(status=POSTS.c.status)
        )
        session.refresh(post)
    return post.status == PostStatus.HELD.value


def decide(
    ctx: Context,
    session: Session,
    post: Post,
    action: str,
    *,
    by: Person | None,
    via: str,
    reason: str | None = None,
    themes: Sequence[str] = (),
) -> Done:
    """Apply a moderator's (or the rules') decision to a held post; first decision wins,
    also when two moderators (by mail, on the web, in two processes) answer at once.

    ``themes`` (an approval's, as `approve themes a b` by mail) file the post's conversation
    under them once the post is taken, so a decision that lost the race tags nothing;
    InvalidInput names an unknown theme before anything is decided."""
    if post.status != PostStatus.HELD.value or (by is not None and not claim_held(session, post)):
        raise AlreadyDecided(post, decider_label(session, post))
    if themes and action == "approve" and post.kind not in SUBMISSION_KINDS:
        add_themes(session, post, themes)
    community = session.get(Community, post.community_id)
    assert community is not None
    now = ctx.now()
    record(session, post, action, by, via, reason, now)
    if action == "defer":
        session.flush()
        return Done(post, action, reason)
    post.status = DONE_STATUS[action].value
    post.decided_at = now
    post.decided_by = by.id if by else None
    if reason:
        post.reason = reason
    session.add(post)
    session.flush()
    if action == "approve" and post.kind not in SUBMISSION_KINDS and ctx.settings.search.enabled:
        mark(session, "post", [post.id])
    if post.kind in SUBMISSION_KINDS:
        settle(session, post, now)
    if action == "approve":
        deliver(ctx, session, post)
        offer_attachments(ctx, session, post)
    elif action == "reject":
        tell_sender(ctx, session, community, post, "rejected", reason=reason)
    if by is not None:
        send_fyi(ctx, session, community, post, action, by, reason)
    return Done(post, action, reason)


def deliver(ctx: Context, session: Session, post: Post) -> int:
    """Send an approved post to the community's each-message members."""
    from mailhub.outbound.fanout import fan_out

    # News and events are published in newsletters and the calendar, never sent as posts.
    if post.kind in SUBMISSION_KINDS:
        return 0

    return fan_out(ctx, session, post)


def send_fyi(
    ctx: Context,
    session: Session,
    community: Community,
    post: Post,
    action: str,
    by: Person,
    reason: str | None,
) -> None:
    for moderator in moderators(session, community):
        if moderator.id == by.id:
            continue
        notice = staff_notice(
            community,
            moderator,
            f"FYI: item {post.id} {action}",
            kind="fyi",
            dedup_key=f"fyi:{post.id}:to:{moderator.id}",
        )
        send_rendered(
            ctx,
            session,
            community,
            "moderation/fyi.txt",
            notice,
            post=post,
            moderator=person_label(by),
            action=action,
            reason=reason,
        )
