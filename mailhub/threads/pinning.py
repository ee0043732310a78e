"""Threading one post whose parent is known for certain: a reply sent to a member's reply
address (`+r-<token>@`, which names the post replied to) or a reply to a whole digest matched
to one of its items (digest/replies.py). Everything else is threaded by its headers."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session

from mailhub import tokens
from mailhub.addresses import Kind
from mailhub.context import Context
from mailhub.inbound.outcomes import Prepared
from mailhub.models import Community, Post
from mailhub.threads.store import Placement, place


def pinned_parent_id(ctx: Context, item: Prepared) -> int | None:
    """The post a reply is pinned to: the item a whole-digest reply was matched to, or the
    one a genuine reply-token address names. Its community is for the caller to check."""
    if item.digest_reply is not None and item.digest_reply.parent_id is not None:
        return item.digest_reply.parent_id
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
