"""The event digest (upcoming events, each with its `.ics`) and event reminders (once per
event, to members who asked for them), with the attachments read back by icalendar."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
from conftest import START
from mailtools import outbox
from sqlmodel import select
from test_digests import parse_html
from test_newsletter import HOSTILE_BODY, HOSTILE_TITLE, members

from mailhub.communities import get_community
from mailhub.context import Context
from mailhub.models import Event, Membership, Person, PostStatus
from mailhub.scheduler import run_due

FORUM = datetime(2026, 3, 12, 7, 0, tzinfo=UTC)
NOW = "2026-03-02T09:00Z"
WEBINAR = datetime(2026, 3, 20, 14, 0, tzinfo=UTC)


def events(ctx: Context) -> None:
    with ctx.session() as session:
        irnet = get_community(session, "irnet")
        members(session, irnet)
        common: dict[str, Any] = {
            "community_id": irnet.id,
            "created_at": START,
            "status": PostStatus.APPROVED.value,
        }
        session.add_all(
            [
                Event(
                    **common,
                    uid="forum@example.org",
                    title="Tripartite forum",
                    starts_at=FORUM,
                    ends_at=FORUM + timedelta(hours=3),
                    timezone="Africa/Nairobi",
                    location="Nairobi",
                ),
                Event(
                    **common,
                    uid="webinar@example.org",
                    title=HOSTILE_TITLE,
                    description=HOSTILE_BODY,
                    starts_at=WEBINAR,
                    timezone="Europe/Zurich",
                    url="https://example.org/webinar",
                ),
                Event(
                    **{**common, "status": "cancelled"},
                    uid="off@example.org",
                    title="Cancelled meeting",
                    starts_at=FORUM,
                ),
                Event(
                    **common,
                    uid="late@example.org",
                    title="Later",
                    starts_at=START + timedelta(weeks=5),
                ),
            ]
        )


def calendars(message: EmailMessage) -> list[icalendar.Event]:
    found = []
    for part in message.iter_attachments():
        assert part.get_content_type() == "text/calendar"
        assert part.get_filename().endswith(".ics")
        found += icalendar.Calendar.from_ical(part.get_content()).walk("VEVENT")
    return found


def test_the_event_digest_attaches_each_events_calendar(ctx: Context, run_cli: Any) -> None:
    events(ctx)
    # NOW is the test clock's, in the past of the CLI's (the system's): said so.
    past = run_cli("event", "digest", "--community", "irnet", "--now", NOW)
    assert past.exit_code == 2 and past.stderr.startswith("error: --now: ")
    assert "give --allow-past" in past.stderr and outbox(ctx, kind="event-digest") == []
    sent = run_cli("event", "digest", "--community", "irnet", "--now", NOW, "--allow-past")
    assert sent.exit_code == 0, sent.output
    assert "2 event(s): 2 queued" in sent.output
    mails = {row.recipient: (row, message) for row, message in outbox(ctx, kind="event-digest")}
    assert set(mails) == {"amina@example.org", "dee@example.org"}
    for row, message in mails.values():
        assert row.dedup_key == f"events:{row.community_id}:2026-03-02:person:{row.person_id}"
        assert message.get_content_type() == "multipart/mixed"
        assert "\n" not in message["Subject"] and message["List-Unsubscribe"]
        text = message.get_body(preferencelist=("plain",))
        html = message.get_body(preferencelist=("html",))
        assert text is not None and html is not None
        plain = text.get_content()
        assert plain.index("Tripartite forum") < plain.index("Wages <script>")
        assert "Thursday 12 March 2026, 10:00 to 13:00 EAT" in plain
        assert "Friday 20 March 2026, 17:00 EAT (15:00 CET where it takes place)" in plain
        assert "Cancelled meeting" not in plain and "Later" not in plain
        tree = parse_html(html.get_content())
        assert "script" not in tree.tags and "https://example.org/webinar" in tree.links
        forum, webinar = calendars(message)
        assert str(forum["UID"]) == "forum@example.org"
        start = forum.decoded("DTSTART")
        assert start == FORUM and start.tzinfo == ZoneInfo("Africa/Nairobi")
        assert forum.decoded("DTEND") == FORUM + timedelta(hours=3)
        assert str(webinar["SUMMARY"]).startswith("Wages <script>")
        assert webinar.decoded("DTSTART") == WEBINAR
        assert webinar.decoded("DTSTART").tzinfo == ZoneInfo("Europe/Zurich")
    again = run_cli("event", "digest", "--community", "irnet", "--now", NOW, "--allow-past")
    assert "0 queued" in again.output and len(outbox(ctx, kind="event-digest")) == 2
    none = run_cli(
        "event", "digest", "--community", "irnet", "--weeks", "1", "--now", NOW, "--allow-past"
    )
    assert "no events in the next 1 week(s)" in none.output


def test_reminders_go_once_per_event_to_members_who_asked(ctx: Context) -> None:
    events(ctx)
    with ctx.session() as session:
        dee = session.exec(
            select(Membership).join(Person).where(Person.email == "dee@example.org")
        ).one()
        dee.event_reminders = False
        session.add(dee)
    early = run_due(ctx, FORUM - timedelta(hours=30))
    assert outbox(ctx, kind="event-reminder") == [] and early.failed == []
    due = run_due(ctx, FORUM - timedelta(hours=20))
    assert due.failed == []
    mails = outbox(ctx, kind="event-reminder")
    assert [row.recipient for row, _ in mails] == ["amina@example.org"]
    _row, message = mails[0]
    assert message["Subject"] == "[IRNet] Reminder: Tripartite forum"
    (forum,) = calendars(message)
    assert forum.decoded("DTSTART") == FORUM
    run_due(ctx, FORUM - timedelta(hours=10))
    assert len(outbox(ctx, kind="event-reminder")) == 1  # once per event
    with ctx.session() as session:
        reminded = {e.uid: e.reminded_at for e in session.exec(select(Event))}
    assert reminded["forum@example.org"] == FORUM - timedelta(hours=20)
    assert reminded["off@example.org"] is None  # cancelled events are not reminded of
    run_due(ctx, WEBINAR - timedelta(hours=1))
    assert len(outbox(ctx, kind="event-reminder")) == 2
