"""Sending a community's digest when its schedule says so, once per due time.

A run is claimed by inserting its `DigestIssue` row (unique per community and due time) in
a transaction of its own: whoever inserts it sends, any other process finds it there and
does nothing. Members are then read and queued in chunks, each chunk committed with the
members' `last_digest_at` moved to the due time, so memory stays flat however many members
there are. A run that dies half-way is not resumed: the members it did not reach get
those posts in their next digest, since their `last_digest_at` did not move.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session

from mailhub.addresses import AddressBook, Kind
from mailhub.communities import community_ids
from mailhub.context import Context
from mailhub.cron import last_due
from mailhub.db import insert_once
from mailhub.digest import items as digest_items
from mailhub.digest import members as digest_members
from mailhub.digest.build import ContentCache, Issue
from mailhub.digest.letters import Personaliser, letterhead
from mailhub.digest.render import date_line
from mailhub.due import DueReport
from mailhub.models import Community, DigestIssue, Membership, table_of
from mailhub.outbound import outbox
from mailhub.outbound.compose import bounce_address
from mailhub.outbound.headers import unsubscribe_link
from mailhub.outbound.outbox import Outgoing
from mailhub.portal import links

log = logging.getLogger("mailhub.digest")
ISSUE = table_of(DigestIssue)
MEMBERSHIP = table_of(Membership)


@dataclass(frozen=True)
class RunReport:
    due_at: datetime
    posts: int
    queued: int


def claim_issue(session: Session, community_id: int, due_at: datetime, now: datetime) -> bool:
    """Insert the run's row; False when another process (or an earlier run) has it."""
    values = {
        "community_id": community_id,
        "due_at": due_at,
        "post_count": 0,
        "recipients": 0,
        "created_at": now,
    }
    return insert_once(session.connection(), ISSUE, values, ["community_id", "due_at"])


def send_due(ctx: Context, community_id: int, now: datetime) -> RunReport | None:
    """Send the community's digest if one is due at ``now`` and not sent yet."""
    with ctx.session() as session:
        community = session.get(Community, community_id)
        assert community is not None
        due_at = last_due(community.digest_cron, community.timezone, now)
        if due_at is None or not claim_issue(session, community_id, due_at, now):
            return None
    report = send_issue(ctx, community_id, due_at)
    with ctx.session() as session:
        session.connection().execute(
            update(ISSUE)
            .where(ISSUE.c.community_id == community_id, ISSUE.c.due_at == due_at)
            .values(post_count=report.posts, recipients=report.queued)
        )
    return report


def send_issue(ctx: Context, community_id: int, due_at: datetime) -> RunReport:
    """Queue the digest of everything new up to ``due_at`` (or now, if that comes first: a
    digest sent early by `run-due --now` covers what is approved so far) for every digest
    member."""
    until = min(due_at, ctx.queue_time())
    with ctx.session() as session:
        community = session.get(Community, community_id)
        assert community is not None and community.id is not None
        session.expunge(community)
        since = digest_members.oldest_cutoff(session, community_id)
        posts = (
            []
            if since is None
            else digest_items.approved_between(session, community_id, since, until)
        )
        book = ctx.address_book(session)
    if not posts:
        return RunReport(due_at, 0, 0)
    issue = issue_for(ctx, book, community, due_at)
    cache = ContentCache(issue)
    head = letterhead(ctx.settings, book, community, due_at, issue.date)
    person = Personaliser(ctx.settings, book, community, due_at, head)
    stamp = f"{due_at:%Y%m%dT%H%MZ}"
    queued = 0
    for chunk in digest_members.chunks(ctx, community_id):
        mails, reached = [], []
        for member in chunk:
            chosen = digest_items.chosen(posts, member.since, member.themes, member.only_my_themes)
            if not chosen:
                continue
            content = cache.get(chosen, member.digest_format)
            mails.append(
                Outgoing(
                    dedup_key=f"digest:{community_id}:{stamp}:person:{member.person_id}",
                    kind="digest",
                    recipient=member.email,
                    envelope_from=bounce_address(ctx, book, community, member.person_id),
                    raw=person.letter(
                        content, member.person_id, member.email, member.membership_id
                    ),
                    community_id=community_id,
                    person_id=member.person_id,
                )
            )
            reached.append(member.membership_id)
        with ctx.session() as session:
            queued += outbox.enqueue_many(session, mails, ctx.queue_time())
            if reached:
                session.connection().execute(
                    update(MEMBERSHIP)
                    .where(MEMBERSHIP.c.id.in_(reached))
                    .values(last_digest_at=until)
                )
    log.info(
        "digest of %s at %s: %s queued over %s post(s)", community.slug, stamp, queued, len(posts)
    )
    return RunReport(due_at, len(posts), queued)


def issue_for(ctx: Context, book: AddressBook, community: Community, due_at: datetime) -> Issue:
    return Issue(
        community=community.name,
        tag=community.tag or "",
        date=date_line(due_at, community.timezone),
        zone=community.timezone,
        request=book.address(community.slug, Kind.REQUEST),
        archive=links.archive_url(ctx.settings, community) or "",
        override=ctx.settings.templates_override,
        unsubscribe=unsubscribe_link(ctx.settings, "") or "",
    )


def digests_due(ctx: Context, now: datetime, report: DueReport) -> None:
    """The scheduler's job: each community's digest, when its schedule says it is due."""
    with ctx.session() as session:
        ids = community_ids(session)
    for community_id in ids:

        def send(community_id: int = community_id) -> str | None:
            run = send_due(ctx, community_id, now)
            if run is None or not run.queued:
                return None
            return (
                f"digest of community {community_id} due {run.due_at:%Y-%m-%d %H:%M} UTC: "
                f"{run.queued} queued over {run.posts} post(s)"
            )

        report.attempt(f"digest of community {community_id}", send)
