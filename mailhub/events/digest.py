"""The event digest: the approved events of the next weeks in one mail to every member
who receives the periodic mail (see newsletter/recipients.py), each event's `.ics` attached.

Dedup keys `events:<community id>:<local date>:person:<pid>` make it once a day per member,
however often it is asked for (by hand or by the schedule, see eventschedule.py). All the
mails of one digest are queued in the caller's transaction, so a digest is queued whole or
not at all.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from mailhub import rendering
from mailhub.context import Context
from mailhub.events.mail import letter, stamp
from mailhub.models import Community
from mailhub.newsletter import recipients
from mailhub.newsletter.contents import upcoming_events
from mailhub.outbound import outbox

log = logging.getLogger("mailhub.events")


@dataclass(frozen=True)
class DigestRun:
    events: int
    queued: int


def send_digest(ctx: Context, community_id: int, weeks: int, now: datetime) -> DigestRun:
    """Queue the digest of events starting in the next ``weeks``; none when there are none."""
    with ctx.session() as session:
        return queue_digest(ctx, session, community_id, weeks, now, dated=now)


def queue_digest(
    ctx: Context,
    session: Session,
    community_id: int,
    weeks: int,
    now: datetime,
    *,
    dated: datetime,
) -> DigestRun:
    """Queue, in ``session``'s transaction, the digest of events starting in ``weeks`` from
    ``now``; ``dated`` (a scheduled run's due time) names the day in the dedup keys."""
    community = session.get(Community, community_id)
    assert community is not None
    events = upcoming_events(session, community_id, now, now + timedelta(weeks=weeks))
    if not events:
        return DigestRun(0, 0)
    date = rendering.local_time(dated, community.timezone, "%Y-%m-%d")
    mail = letter(
        ctx,
        session,
        community,
        events,
        f"{community.name} events, next {weeks} week{'s' if weeks != 1 else ''}",
        f"{len(events)} upcoming event{'s' if len(events) != 1 else ''} from {date}",
        f"events-{community_id}-{stamp(now)}",
    )
    queued = 0
    for chunk in recipients.chunks(ctx, community_id):
        mails = mail.copies(ctx, chunk, kind="event-digest", key=f"events:{community_id}:{date}")
        queued += outbox.enqueue_many(session, mails, ctx.queue_time())
    log.info("event digest of %s: %s event(s), %s queued", community.slug, len(events), queued)
    return DigestRun(len(events), queued)
