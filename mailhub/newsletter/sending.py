"""Sending an issue to every member who receives list mail, once.

Mails are queued in chunks with dedup keys `newsletter:<issue id>:person:<pid>`, so a send
that dies half-way, or two sends at once, queue each member's copy once; the issue is marked
sent (with `sent_at`) only after every chunk is queued, and a sent issue is never sent again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import update
from sqlmodel import Session

from mailhub.context import Context
from mailhub.errors import Conflict
from mailhub.models import Community, NewsletterIssue, table_of
from mailhub.newsletter import recipients
from mailhub.newsletter.issues import DRAFT, LEAVE_MARK, SENT
from mailhub.newsletter.letter import Letter, body
from mailhub.outbound import outbox

log = logging.getLogger("mailhub.newsletter")
ISSUE = table_of(NewsletterIssue)


@dataclass(frozen=True)
class Sent:
    number: int
    queued: int


def _letter(ctx: Context, session: Session, community: Community, issue: NewsletterIssue) -> Letter:
    return Letter(
        settings=ctx.settings,
        book=ctx.address_book(session),
        community=community,
        sender_name=f"{community.name} newsletter",
        subject=issue.title,
        date=ctx.now(),
        id_prefix=f"newsletter-{issue.id}",
        body=body(issue.text, issue.html, LEAVE_MARK),
    )


def send(ctx: Context, issue_id: int) -> Sent:
    """Queue the issue for every receiving member; Conflict when it was sent already."""
    with ctx.session() as session:
        issue = session.get(NewsletterIssue, issue_id)
        assert issue is not None
        if issue.state != DRAFT:
            raise Conflict(f"newsletter issue {issue.number} was sent already")
        community = session.get(Community, issue.community_id)
        assert community is not None and community.id is not None
        letter = _letter(ctx, session, community, issue)
        session.expunge(community)
        number = issue.number
    queued = 0
    for chunk in recipients.chunks(ctx, community.id):
        mails = letter.copies(ctx, chunk, kind="newsletter", key=f"newsletter:{issue_id}")
        with ctx.session() as session:
            queued += outbox.enqueue_many(session, mails, ctx.queue_time())
    with ctx.session() as session:
        marked = session.connection().execute(
            update(ISSUE)
            .where(ISSUE.c.id == issue_id, ISSUE.c.state == DRAFT)
            .values(state=SENT, sent_at=ctx.now())
        )
    if marked.rowcount != 1:
        raise Conflict(f"newsletter issue {number} was sent already")
    log.info("newsletter %s of %s: %s queued", number, community.slug, queued)
    return Sent(number, queued)
