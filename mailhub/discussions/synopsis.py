"""The end of a discussion: the moderator's draft, the synopsis, and its broadcast.

At closing the moderator is sent a draft made of every approved contribution, grouped by
contributor, with the participation figures, so they edit rather than compile. The
synopsis they send back is stored with the discussion and goes to every member who
receives mail. It is set once; replacing it takes an explicit correction, which is sent
as such. Every version is kept (the portal shows the corrections with their dates).
"""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, col, select

from mailhub import tokens
from mailhub.addresses import Kind
from mailhub.context import Context
from mailhub.discussions import figures, listmail
from mailhub.discussions.claims import claim
from mailhub.errors import Conflict, InvalidInput
from mailhub.models import (
    Community,
    Discussion,
    DiscussionState,
    Person,
    Post,
    SynopsisVersion,
)
from mailhub.outbound.compose import send_rendered, staff_notice
from mailhub.rendering import render
from mailhub.search.queue import mark_discussion


def draft(ctx: Context, session: Session, community: Community, discussion: Discussion) -> str:
    """The draft synopsis: contributions by contributor and the participation figures."""
    items = figures.contributions(session, discussion)
    return render(
        "discussions/draft.txt",
        ctx.settings.templates_override,
        community=community,
        discussion=discussion,
        groups=figures.grouped(items),
        figures=figures.figures(items),
        brief=figures.brief,
    )


def address(ctx: Context, session: Session, community: Community, discussion: Discussion) -> str:
    """The moderator's `+s-<token>` address for this discussion's synopsis."""
    lifetime = timedelta(days=ctx.settings.discussions.synopsis_token_days)
    token = tokens.sign(
        ctx.secret, tokens.SYNOPSIS, discussion.id or 0, expires_at=ctx.now() + lifetime
    )
    return ctx.address_book(session).address(community.slug, Kind.SYNOPSIS, token)


def request(ctx: Context, session: Session, community: Community, discussion: Discussion) -> bool:
    """Ask the moderator for the synopsis, with the draft; once per discussion."""
    moderator = session.get(Person, discussion.moderator_id) if discussion.moderator_id else None
    if moderator is None:
        return False
    notice = staff_notice(
        community,
        moderator,
        f"please write the synopsis: {discussion.title}",
        kind="synopsis-request",
        dedup_key=f"discussion:{discussion.id}:synopsis-request",
        reply_to=address(ctx, session, community, discussion),
    )
    return send_rendered(
        ctx,
        session,
        community,
        "discussions/synopsis_request.txt",
        notice,
        discussion=discussion,
        moderator=moderator,
        draft=draft(ctx, session, community, discussion),
    )


def set_synopsis(
    ctx: Context, session: Session, discussion_id: int, text: str, *, correction: bool = False
) -> int:
    """Store the synopsis of a closed discussion and send it to the community; with
    ``correction`` replace the synopsis of a summarised one and send it as a correction.
    Returns the copies queued."""
    text = text.strip()
    if not text:
        raise InvalidInput("synopsis: the text is empty")
    wanted = DiscussionState.SUMMARISED if correction else DiscussionState.CLOSED
    discussion = claim(session, discussion_id, Discussion.state == wanted.value, wait=True)
    if discussion is None:
        current = session.get(Discussion, discussion_id)
        if current is None:
            raise Conflict(f"no discussion {discussion_id}")
        if current.state == DiscussionState.SUMMARISED.value:
            raise Conflict(
                f"discussion {discussion_id} already has a synopsis; replacing it takes "
                f"'mailhub discussion synopsis {discussion_id} --file FILE --correction'"
            )
        raise Conflict(
            f"discussion {discussion_id} is {current.state}; a synopsis "
            + ("correction needs one already summarised" if correction else "needs it closed")
        )
    now = ctx.now()
    discussion.synopsis = text + "\n"
    discussion.synopsis_at = now
    discussion.synopsis_version += 1
    discussion.state = DiscussionState.SUMMARISED.value
    session.add(discussion)
    assert discussion.id is not None
    session.add(
        SynopsisVersion(
            discussion_id=discussion.id,
            version=discussion.synopsis_version,
            text=discussion.synopsis,
            set_at=now,
        )
    )
    mark_discussion(session, discussion.id)
    return broadcast(ctx, session, discussion, correction=correction)


def broadcast(
    ctx: Context, session: Session, discussion: Discussion, *, correction: bool = False
) -> int:
    """The synopsis (its current version) to every member who receives mail."""
    community = session.get(Community, discussion.community_id)
    assert community is not None and community.id is not None
    root = session.exec(
        select(Post).where(
            Post.community_id == community.id,
            col(Post.message_id) == discussion.root_message_id,
        )
    ).one()
    assert root.id is not None
    template = "correction.txt" if correction else "synopsis.txt"
    text = render(
        f"discussions/{template}",
        ctx.settings.templates_override,
        community=community,
        discussion=discussion,
        figures=figures.figures(figures.contributions(session, discussion)),
    )
    version = discussion.synopsis_version
    label = "Correction to the synopsis" if correction else "Synopsis"
    mail = listmail.ListMail(
        f"{label}: {discussion.title}",
        text,
        f"discussion-{discussion.id}-synopsis-{version}@{ctx.settings.instance.domain}",
        in_reply_to=root.message_id,
    )
    return listmail.send_to(
        ctx,
        session,
        community,
        mail,
        recipients=listmail.receivers(session, community.id),
        root_post_id=root.id,
        kind="synopsis-correction" if correction else "synopsis",
        key=f"discussion:{discussion.id}:synopsis:{version}",
    )
