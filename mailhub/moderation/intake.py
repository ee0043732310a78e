"""A new post meets moderation: find its thread, gather the facts, run the rules, act."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func
from sqlmodel import Session, select

from mailhub import tokens
from mailhub.addresses import Kind
from mailhub.context import Context
from mailhub.digest import replies as digest_replies
from mailhub.inbound.outcomes import Prepared
from mailhub.models import Community, Discussion, Membership, Person, Post, PostStatus, Thread
from mailhub.moderation import actions
from mailhub.moderation.rules import Action, Facts, Verdict, decide
from mailhub.outbound.headers import loop_marker
from mailhub.threads.store import Placement, place


def pinned_parent_id(ctx: Context, item: Prepared) -> int | None:
    """The post a reply is pinned to: the item a whole-digest reply was matched to
    (digest/replies.py), or the one a genuine reply-token address names. Its community is
    for the caller to check."""
    if item.pinned_parent_id is not None:
        return item.pinned_parent_id
    destination = item.destination
    if destination is None or destination.kind is not Kind.REPLY or not destination.token:
        return None
    try:
        token = tokens.verify(ctx.secret, tokens.REPLY, destination.token, now=ctx.now())
        return token.int_value(0)
    except (tokens.TokenError, ValueError, IndexError):
        return None


def pinned_parent(
    ctx: Context, session: Session, community: Community, item: Prepared
) -> Post | None:
    """The pinned post (see `pinned_parent_id`), when it is of this community."""
    parent_id = pinned_parent_id(ctx, item)
    parent = session.get(Post, parent_id) if parent_id is not None else None
    if parent is None or parent.community_id != community.id:
        return None
    return parent


def carries_our_loop_marker(ctx: Context, item: Prepared) -> bool:
    """X-Loop says this mail went through us already."""
    parsed = item.parsed
    marker = loop_marker(ctx.settings.instance.domain)
    return bool(parsed and parsed.headers.get("x-loop", "").strip().lower() == marker)


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
    loop = carries_our_loop_marker(ctx, item)
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
    placement = thread_one(ctx, session, community, post, item)
    return judge(ctx, session, community, post, item, concerns, placement)


def thread_one(
    ctx: Context, session: Session, community: Community, post: Post, item: Prepared
) -> Placement:
    """Place one post through the ORM (the full path: merges, adopted replies)."""
    window = timedelta(days=ctx.settings.moderation.subject_window_days)
    return place(
        session,
        community,
        post,
        pinned_parent=pinned_parent(ctx, session, community, item),
        window=window,
        now=ctx.now(),
    )


def judge(
    ctx: Context,
    session: Session,
    community: Community,
    post: Post,
    item: Prepared,
    concerns: list[str],
    placement: Placement,
    facts: Facts | None = None,
) -> str:
    """Run the rules on a threaded post and carry out the verdict."""
    facts = facts or gather(session, ctx, community, post, item, concerns)
    verdict = decide(facts)
    if item.force_hold_reason and verdict.action in (Action.ACCEPT, Action.HOLD):
        # Held whatever the policy says; a refusal (banned, non-member) still stands.
        reason = item.force_hold_reason
        if verdict.action is Action.HOLD:
            reason = f"{reason}; {verdict.reason}"
        verdict = Verdict(Action.HOLD, reason, "digest reply", verdict.tell_sender)
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
    if item.digest_note and post.status == PostStatus.HELD.value:
        digest_replies.tell_sender(ctx, session, community, post, item.digest_note)
    session.flush()
    return account(post.status, verdict.rule, verdict.reason, placement)


def account(status: str, rule: str, reason: str, placement: Placement) -> str:
    where = f"thread #{placement.thread_id} by {placement.how}"
    return f"{status} by rule '{rule}': {reason}; {where}"
