"""Event reminders: `[events] reminder_hours` before an approved event starts, one mail
with its `.ics` to each member who asked for reminders, once per event.

An event is claimed by setting its `reminded_at` with a conditional UPDATE (only while it
is still unset), in the transaction that queues the reminders: a second scheduler's UPDATE
finds it set (on PostgreSQL it waits for the first to commit, then sees it) and does
nothing. Events that already started are not reminded of.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from mailhub.context import Context
from mailhub.due import DueReport
from mailhub.events.mail import letter
from mailhub.models import Community, Event, PostStatus, table_of
from mailhub.newsletter import recipients
from mailhub.outbound import outbox

EVENT = table_of(Event)


def due(session: Session, now: datetime, hours: float) -> list[int]:
    """Approved events starting within ``hours`` and not reminded of yet."""
    return [
        i
        for i in session.exec(
            select(col(Event.id))
            .where(
                Event.status == PostStatus.APPROVED.value,
                col(Event.reminded_at).is_(None),
                col(Event.starts_at) > now,
                col(Event.starts_at) <= now + timedelta(hours=hours),
            )
            .order_by(col(Event.starts_at), col(Event.id))
        )
        if i is not None
    ]


def _claim(session: Session, event_id: int, now: datetime) -> bool:
    claimed = session.connection().execute(
        update(EVENT)
        .where(EVENT.c.id == event_id, EVENT.c.reminded_at.is_(None))
        .values(reminded_at=now)
    )
    return claimed.rowcount == 1


def remind(ctx: Context, event_id: int) -> int | None:
    """Queue the event's reminders; None when another run has claimed it."""
    with ctx.session() as session:
        if not _claim(session, event_id, ctx.now()):
            return None
        event = session.get(Event, event_id, populate_existing=True)
        assert event is not None
        community = session.get(Community, event.community_id)
        assert community is not None
        mail = letter(
            ctx,
            session,
            community,
            [event],
            f"Reminder: {event.title}",
            "A reminder of this event; its calendar file is attached.",
            f"event-reminder-{event_id}",
        )
        key = f"event-reminder:{event_id}"
        mails = [
            copy
            for chunk in recipients.chunks(ctx, event.community_id, reminders_only=True)
            for copy in mail.copies(ctx, chunk, kind="event-reminder", key=key)
        ]
        return outbox.enqueue_many(session, mails, ctx.queue_time())


def reminders_due(ctx: Context, now: datetime, report: DueReport) -> None:
    """The scheduler's job: remind members of events starting soon, once per event."""
    with ctx.session() as session:
        ids = due(session, now, ctx.settings.events.reminder_hours)
    for event_id in ids:

        def run(event_id: int = event_id) -> str | None:
            sent = remind(ctx, event_id)
            return None if sent is None else f"event {event_id}: {sent} reminder(s) queued"

        report.attempt(f"reminding of event {event_id}", run)
