"""Threading and judging a worker's whole batch of new posts at once: the one intake.

Every post and every submission meets the rules the same way: its facts are read set-wise
(`facts.py`), the table (`rules.CHAIN`) is run once (`rules.decide`), and the verdict is
carried out once. The common verdict, a hold that owes nobody a notice, is written for the
whole batch with one statement each (`actions.hold_all`); any other (an acceptance, a
rejection, a discard, a hold that owes its sender a notice) takes `actions.carry_out`, which
sends what that verdict owes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from types import SimpleNamespace
from typing import Any, cast

from sqlmodel import Session

from mailhub.context import Context
from mailhub.digest import replies as digest_replies
from mailhub.inbound.outcomes import Prepared
from mailhub.models import Community, Post, table_of
from mailhub.moderation import actions
from mailhub.moderation.facts import Candidate, gather
from mailhub.moderation.rules import Action, Verdict, decide
from mailhub.threads.batch import BatchThreader, NewPost
from mailhub.threads.pinning import pinned_parent_id, thread_one
from mailhub.threads.store import Placement

POST_COLUMNS = tuple(table_of(Post).c.keys())


@dataclass
class Fresh:
    """A post just inserted by the worker, with the row it was inserted from."""

    item: Prepared
    post_id: int
    values: dict[str, Any]
    concerns: list[str]

    @property
    def community(self) -> Community:
        assert self.item.community is not None
        return self.item.community


def moderate_batch(ctx: Context, session: Session, batch: list[Fresh]) -> dict[int, str]:
    """Thread and judge every post of ``batch``; return a one-line account per post id."""
    by_id = {fresh.post_id: fresh for fresh in batch}
    placements = _thread_all(ctx, session, batch, by_id)
    candidates = [
        Candidate(
            community=fresh.community,
            post=_transient_post(fresh, placements[fresh.post_id]),
            size=len(fresh.item.row.raw),
            attachment_concerns=fresh.concerns,
            unmatched_digest_reply=reply.hold_reason if reply else None,
            digest_note=reply.note if reply else None,
        )
        for fresh in batch
        for reply in [fresh.item.digest_reply]
    ]
    verdicts = judge(ctx, session, candidates)
    return {
        c.post.id or 0: account(post_status(c, v), v, placements[c.post.id or 0])
        for c, v in zip(candidates, verdicts, strict=True)
    }


def judge(ctx: Context, session: Session, candidates: Sequence[Candidate]) -> list[Verdict]:
    """Decide every candidate once and carry the verdicts out; the verdicts, in order."""
    facts = gather(ctx, session, candidates)
    verdicts = [decide(f) for f in facts]
    held: list[tuple[Community, Post, str]] = []
    for candidate, verdict in zip(candidates, verdicts, strict=True):
        if verdict.action is Action.HOLD and not verdict.tell_sender:
            held.append((candidate.community, candidate.post, verdict.reason))
            continue
        # Threaded by plain statements: read the row as it is now, whatever the session holds.
        stored = session.get(Post, candidate.post.id, populate_existing=True)
        assert stored is not None
        actions.carry_out(ctx, session, candidate.community, stored, verdict)
        candidate.post = stored
    actions.hold_all(ctx, session, held)
    for candidate, verdict in zip(candidates, verdicts, strict=True):
        if verdict.action is Action.HOLD and candidate.digest_note:
            post = session.get(Post, candidate.post.id)
            assert post is not None
            digest_replies.tell_sender(
                ctx, session, candidate.community, post, candidate.digest_note
            )
    return verdicts


def post_status(candidate: Candidate, verdict: Verdict) -> str:
    return {
        Action.ACCEPT: "approved",
        Action.HOLD: "held",
        Action.REJECT: "rejected",
        Action.DISCARD: "discarded",
    }[verdict.action]


def account(status: str, verdict: Verdict, placement: Placement) -> str:
    where = f"thread #{placement.thread_id} by {placement.how}"
    return f"{status} by rule '{verdict.rule}': {verdict.reason}; {where}"


def _thread_all(
    ctx: Context, session: Session, batch: list[Fresh], by_id: dict[int, Fresh]
) -> dict[int, Placement]:
    def full_path(post: NewPost) -> Placement:
        fresh = by_id[post.id]
        session.expire_all()
        stored = session.get(Post, post.id)
        assert stored is not None
        placement = thread_one(ctx, session, fresh.community, stored, fresh.item)
        session.flush()
        return placement

    window = timedelta(days=ctx.settings.moderation.subject_window_days)
    threader = BatchThreader(session.connection(), window, ctx.now(), full_path)
    posts = [
        NewPost(
            id=fresh.post_id,
            community_id=fresh.values["community_id"],
            message_id=fresh.values["message_id"],
            in_reply_to=fresh.values["in_reply_to"],
            references=fresh.values["references"],
            subject=fresh.values["subject"],
            received_at=fresh.values["received_at"],
            tag=fresh.community.tag or "",
            pinned_parent_id=pinned_parent_id(ctx, fresh.item),
        )
        for fresh in batch
    ]
    return threader.place_all(posts)


class PostView(SimpleNamespace):
    """A just-inserted post's values, read as a `Post` by the rules and the held notice.

    A real `Post` costs ~0.15 ms to build (validation and instrumentation) and would only
    be read: this costs a hundredth of that.
    """


def _transient_post(fresh: Fresh, placement: Placement) -> Post:
    fields: dict[str, Any] = dict.fromkeys(POST_COLUMNS)
    fields.update(fresh.values)
    fields.update(id=fresh.post_id, thread_id=placement.thread_id, parent_id=placement.parent_id)
    return cast(Post, PostView(**fields))
