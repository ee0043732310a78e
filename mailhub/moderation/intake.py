"""A new post meets moderation: find its thread, gather the facts, run the rules, act."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func
from sqlmodel import Session, select

from mailhub import tokens
from mailhub.addresses import Kind
from mailhub.context import Context
from mailhub.inbound.outcomes import Prepared
from mailhub.models import Community, Discussion, Membership, Person, Post, PostStatus, Thread
from mailhub.moderation import actions
from mailhub.moderation.rules import Action, Facts, decide
from mailhub.outbound.headers import loop_marker
from mailhub.threads.store import place


def pinned_parent(
    ctx: Context, session: Session, community: Community, item: Prepared
) -> Post | None:
    """The post a reply-token address names, if the token is genuine and of this community."""
    destination = item.destination
    if destination is None or destination.kind is not Kind.REPLY or not destination.token:
        return None
    try:
        token = tokens.verify(ctx.secret, tokens.REPLY, destination.token, now=ctx.now())
        parent = session.get(Post, token.int_value(0))
    except (tokens.TokenError, ValueError, IndexError):
        return None
    if parent is None or parent.community_id != community.id:
        return None
    return parent


def gather(
    session: Session,
    ctx: Context,
    community: Community,
    post: Post,
    item: Prepared,
    concerns: list[str],
) -> Facts:
    membership = None
    person = None
    if post.person_id is not None:
        person = session.get(Person, post.person_id)
        membership = session.exec(
            select(Membership).where(
                Membership.community_id == community.id, Membership.person_id == post.person_id
            )
        ).first()
    approved = 0
    # Only the first-post policy needs the count; it is a query per post, so skip it otherwise.
    if post.person_id is not None and community.moderation == "first-post":
        approved = session.exec(
            select(func.count())
            .select_from(Post)
            .where(
                Post.community_id == community.id,
                Post.person_id == post.person_id,
                Post.status == PostStatus.APPROVED.value,
            )
        ).one()
    thread = session.get(Thread, post.thread_id) if post.thread_id else None
    discussion = (
        session.get(Discussion, thread.discussion_id) if thread and thread.discussion_id else None
    )
    loop = bool(
        item.parsed
        and item.parsed.headers.get("x-loop", "").strip().lower()
        == loop_marker(ctx.settings.instance.domain)
    )
    return Facts(
        community=community,
        post=post,
        person=person,
        membership=membership,
        approved_before=approved,
        size=len(item.row.raw),
        max_size=ctx.settings.moderation.max_post_bytes,
        discussion=discussion,
        attachment_concerns=concerns,
        loop=loop,
    )


def moderate(
    ctx: Context,
    session: Session,
    community: Community,
    post: Post,
    item: Prepared,
    concerns: list[str],
) -> str:
    """Thread and judge a freshly stored post; return a one-line account of what happened."""
    window = timedelta(days=ctx.settings.moderation.subject_window_days)
    placement = place(
        session,
        community,
        post,
        pinned_parent=pinned_parent(ctx, session, community, item),
        window=window,
        now=ctx.now(),
    )
    facts = gather(session, ctx, community, post, item, concerns)
    verdict = decide(facts)
    post.reason = verdict.reason
    session.add(post)
    if verdict.action is Action.ACCEPT:
        actions.decide(ctx, session, post, "approve", by=None, via="rules", reason=verdict.reason)
    elif verdict.action is Action.HOLD:
        actions.record(session, post, "hold", None, "rules", verdict.reason, ctx.now())
        actions.notify_held(ctx, session, community, post)
    else:
        post.status = (
            PostStatus.REJECTED.value
            if verdict.action is Action.REJECT
            else PostStatus.DISCARDED.value
        )
        post.decided_at = ctx.now()
        actions.record(
            session, post, verdict.action.value, None, "rules", verdict.reason, ctx.now()
        )
    if verdict.tell_sender:
        actions.tell_sender(ctx, session, community, post, verdict.tell_sender)
    session.flush()
    where = f"thread #{placement.thread_id} by {placement.how}"
    return f"{post.status} by rule '{verdict.rule}': {verdict.reason}; {where}"
