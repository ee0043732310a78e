"""What the moderation rules look at, read once for a whole batch of posts.

A worker's batch (or one submission to -news@/-events@) is judged set-wise: the senders,
their memberships, earlier approvals (only where the community's policy is first-post) and
the discussions of the posts' threads are read with one query each, however many posts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import func
from sqlmodel import Session, col, select

from mailhub.context import Context
from mailhub.models import (
    Community,
    Discussion,
    Membership,
    Person,
    Post,
    PostStatus,
    Thread,
    table_of,
)
from mailhub.moderation.rules import Facts

THREADS = table_of(Thread)


@dataclass
class Candidate:
    """A stored post waiting for its verdict, with what the rules need besides the store."""

    community: Community
    post: Post  # a Post, or a PostView of a just-inserted row (moderation/batch.py)
    size: int
    attachment_concerns: list[str] = field(default_factory=list)
    unmatched_digest_reply: str | None = None
    digest_note: str | None = None  # what to tell the sender of such a reply, if held


def gather(ctx: Context, session: Session, candidates: Sequence[Candidate]) -> list[Facts]:
    """The facts of every candidate, in order."""
    discussions = _discussions(session, {c.post.thread_id for c in candidates} - {None})
    people, memberships, approved = _senders(session, candidates)
    max_size = ctx.settings.moderation.max_post_bytes
    facts = []
    for candidate in candidates:
        post, community = candidate.post, candidate.community
        person_id = post.person_id
        facts.append(
            Facts(
                community=community,
                post=post,
                person=people.get(person_id) if person_id else None,
                membership=memberships.get((community.id, person_id)) if person_id else None,
                approved_before=approved.get((community.id, person_id), 0) if person_id else 0,
                size=candidate.size,
                max_size=max_size,
                discussion=discussions.get(post.thread_id) if post.thread_id else None,
                attachment_concerns=candidate.attachment_concerns,
                unmatched_digest_reply=candidate.unmatched_digest_reply,
            )
        )
    return facts


def _discussions(session: Session, thread_ids: set[int | None]) -> dict[int, Discussion]:
    """The discussion of each thread that belongs to one."""
    ids = sorted(i for i in thread_ids if i is not None)
    if not ids:
        return {}
    rows = session.connection().execute(
        select(THREADS.c.id, THREADS.c.discussion_id).where(
            THREADS.c.id.in_(ids), THREADS.c.discussion_id.is_not(None)
        )
    )
    of_thread = {thread_id: discussion_id for thread_id, discussion_id in rows}
    if not of_thread:
        return {}
    found = {
        d.id: d
        for d in session.exec(
            select(Discussion).where(col(Discussion.id).in_(set(of_thread.values())))
        )
    }
    return {t: found[d] for t, d in of_thread.items() if d in found}


Key = tuple[int | None, int]


def _senders(
    session: Session, candidates: Sequence[Candidate]
) -> tuple[dict[int, Person], dict[Key, Membership], dict[Key, int]]:
    """People, their memberships, and (for first-post communities) their approved posts."""
    person_ids = sorted({c.post.person_id for c in candidates if c.post.person_id})
    if not person_ids:
        return {}, {}, {}
    people = {
        p.id: p
        for p in session.exec(select(Person).where(col(Person.id).in_(person_ids)))
        if p.id is not None
    }
    community_ids = sorted({c.community.id for c in candidates if c.community.id is not None})
    memberships: dict[Key, Membership] = {
        (m.community_id, m.person_id): m
        for m in session.exec(
            select(Membership).where(
                col(Membership.community_id).in_(community_ids),
                col(Membership.person_id).in_(person_ids),
            )
        )
    }
    approved: dict[Key, int] = {}
    first_post = sorted(
        {
            c.community.id
            for c in candidates
            if c.community.moderation == "first-post" and c.community.id is not None
        }
    )
    if first_post:
        rows = session.exec(
            select(Post.community_id, Post.person_id, func.count())
            .where(
                col(Post.community_id).in_(first_post),
                col(Post.person_id).in_(person_ids),
                Post.status == PostStatus.APPROVED.value,
            )
            .group_by(col(Post.community_id), col(Post.person_id))
        )
        approved = {(c, p): n for c, p, n in rows if p is not None}
    return people, memberships, approved
