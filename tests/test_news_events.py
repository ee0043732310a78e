"""News and events from members by mail (held, decided by email, never sent as posts),
events from `.ics` files and from lines, what cannot be read answered, the CLI, `.ics` out."""

from __future__ import annotations

import json
import smtplib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
from mailtools import address_in, body, outbox
from smtp_server import running_listener
from sqlmodel import select

from mailhub.communities import get_community
from mailhub.context import Context
from mailhub.events.icsfile import calendar_for
from mailhub.inbound import pipeline
from mailhub.members import MemberFields, add_member
from mailhub.models import Event, NewsItem, Post

NEWS = "irnet-news@lists.example.org"
EVENTS = "irnet-events@lists.example.org"
MOD, AMINA, BOB = "mod@ministry.example.org", "amina@example.org", "bob@example.org"
NAIROBI = ZoneInfo("Africa/Nairobi")


@pytest.fixture
def send(ctx: Context) -> Iterator[Callable[..., str]]:
    with ctx.session() as session:
        irnet = get_community(session, "irnet")
        add_member(
            session, irnet, MemberFields(email=MOD, name="Maria", role="moderator"), ctx.now()
        )
        add_member(session, irnet, MemberFields(email=AMINA, name="Amina K"), ctx.now())
        add_member(session, irnet, MemberFields(email=BOB, name="Bob M"), ctx.now())
    count = [0]

    with running_listener(ctx) as port:

        def send_mail(
            sender: str,
            to: str,
            subject: str,
            text: str,
            ics: bytes | None = None,
            pdf: bytes = b"",
        ) -> str:
            count[0] += 1
            mail = EmailMessage()
            mail["From"], mail["To"], mail["Subject"] = sender, to, subject
            mail["Message-ID"] = f"<n{count[0]}@example.org>"
            mail.set_content(text)
            if ics is not None:
                mail.add_attachment(ics, "text", "calendar", filename="event.ics")
            if pdf:
                mail.add_attachment(pdf, "application", "pdf", filename="study.pdf")
            with smtplib.SMTP("127.0.0.1", port) as smtp:
                smtp.sendmail(sender, [to], mail.as_bytes(policy=policy.SMTP))
            pipeline.drain(ctx)
            return mail["Message-ID"].strip("<>")

        yield send_mail


def events(ctx: Context) -> list[Event]:
    with ctx.session() as session:
        return list(session.exec(select(Event).order_by(Event.id)))  # type: ignore[arg-type]


def test_news_is_held_in_the_queue_and_approved_by_email_without_delivery(
    ctx: Context, send: Callable[..., str], run_cli: Callable[..., Any]
) -> None:
    text = "https://example.org/report\n\nThe new youth employment report is out.\n"
    send(AMINA, NEWS, "Youth employment report 2026", text)
    with ctx.session() as session:
        item = session.exec(select(NewsItem)).one()
        assert (item.title, item.url, item.status) == (
            "Youth employment report 2026",
            "https://example.org/report",
            "held",
        )
        assert item.body == "The new youth employment report is out."
        post = session.get(Post, item.post_id)
        assert post is not None and post.kind == "news" and post.status == "held"
    queued = json.loads(run_cli("queue", "list", "--json").stdout)
    assert [q["id"] for q in queued] == [post.id]
    held = outbox(ctx, "held", MOD)
    notification = body(held[0][1])
    assert "A news item for IRNet" in notification and "not sent to the members" in notification
    assert "Title: Youth employment report 2026" in notification
    send(MOD, address_in(held[0][1]["Reply-To"], "m"), "Re: held", "approve\n")
    with ctx.session() as session:
        item = session.exec(select(NewsItem)).one()
        assert item.status == "approved" and item.published_at == ctx.now()
    assert outbox(ctx, "post") == []
    assert json.loads(run_cli("queue", "list", "--json").stdout) == []


def test_event_from_an_ics_attachment_keeps_its_time_zone(
    ctx: Context, send: Callable[..., str]
) -> None:
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//test//")
    calendar.add("version", "2.0")
    vevent = icalendar.Event()
    vevent.add("uid", "forum-2026@example.org")
    vevent.add("summary", "Social dialogue forum")
    vevent.add("dtstart", datetime(2026, 5, 12, 9, 30, tzinfo=NAIROBI))
    vevent.add("dtend", datetime(2026, 5, 12, 17, 0, tzinfo=NAIROBI))
    vevent.add("location", "Nairobi, KICC")
    vevent.add("url", "https://example.org/forum")
    calendar.add_component(vevent)
    calendar.add_missing_timezones()
    send(BOB, EVENTS, "Forum", "Please add this.", ics=calendar.to_ical())
    (event,) = events(ctx)
    assert event.uid == "forum-2026@example.org" and event.status == "held"
    assert event.starts_at == datetime(2026, 5, 12, 6, 30, tzinfo=UTC)
    assert event.ends_at == datetime(2026, 5, 12, 14, 0, tzinfo=UTC)
    assert (event.timezone, event.location, event.url) == (
        "Africa/Nairobi",
        "Nairobi, KICC",
        "https://example.org/forum",
    )


def test_event_from_lines_with_and_without_a_zone(ctx: Context, send: Callable[..., str]) -> None:
    send(
        AMINA,
        EVENTS,
        "Webinar",
        "Title: Green jobs webinar\nStarts: 2026-06-01 14:00 Europe/Berlin\nEnds: 15:30\n"
        "Where: Online\nLink: https://example.org/webinar\n\nAn hour on green jobs.\n",
    )
    send(BOB, EVENTS, "Skills fair", "Starts: 2026-07-03 10:00\nWhere: Kampala\n")
    webinar, fair = events(ctx)
    assert webinar.title == "Green jobs webinar" and webinar.timezone == "Europe/Berlin"
    assert webinar.starts_at == datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    assert webinar.ends_at == datetime(2026, 6, 1, 13, 30, tzinfo=UTC)
    assert webinar.description == "An hour on green jobs."
    assert fair.title == "Skills fair" and fair.timezone == "Africa/Nairobi"
    assert fair.starts_at == datetime(2026, 7, 3, 7, 0, tzinfo=UTC)
    assert len(outbox(ctx, "held", MOD)) == 2
    assert "already past" not in body(outbox(ctx, "held", MOD)[-1][1])
    # An event that has already started is held like any other, and the moderator is
    # told, so that it is not published as coming.
    send(BOB, EVENTS, "Old forum", "Starts: 2026-01-10 10:00\nWhere: Bangkok\n")
    notice = body(outbox(ctx, "held", MOD)[-1][1])
    assert "Starts: 2026-01-10 10:00 Africa/Nairobi (already past when it was sent)" in notice


def test_event_without_a_start_is_answered_and_nothing_stored(
    ctx: Context, send: Callable[..., str]
) -> None:
    send(AMINA, EVENTS, "Forum", "Where: Nairobi\nLink: not-a-link\n")
    assert events(ctx) == []
    with ctx.session() as session:
        assert session.exec(select(Post)).all() == []
    (answer,) = outbox(ctx, "submission-reply", AMINA)
    text = body(answer[1])
    assert "no start time" in text and "Starts: 2026-05-12 09:30" in text
    assert "not a web address" in text
    assert outbox(ctx, "held") == []


def test_ics_round_trip_is_the_same_event_in_its_zone() -> None:
    event = Event(
        id=1,
        community_id=1,
        uid="abc@lists.example.org",
        title="Forum, with; commas",
        description="Line one\nLine two",
        starts_at=datetime(2026, 5, 12, 6, 30, tzinfo=UTC),
        ends_at=datetime(2026, 5, 12, 14, 0, tzinfo=UTC),
        timezone="Africa/Nairobi",
        location="KICC",
        url="https://example.org/forum",
        status="approved",
        created_at=datetime(2026, 3, 1, tzinfo=UTC),
    )
    parsed = icalendar.Calendar.from_ical(calendar_for(event))
    (vevent,) = parsed.walk("VEVENT")
    start = vevent.decoded("DTSTART")
    assert start == datetime(2026, 5, 12, 9, 30, tzinfo=NAIROBI)
    assert str(vevent["DTSTART"].params["TZID"]) == "Africa/Nairobi"
    assert start.astimezone(UTC) == datetime(2026, 5, 12, 6, 30, tzinfo=UTC)
    assert [str(t["TZID"]) for t in parsed.walk("VTIMEZONE")] == ["Africa/Nairobi"]
    assert vevent.decoded("DTEND").astimezone(UTC) == event.ends_at
    assert str(vevent["UID"]) == event.uid and str(vevent["SUMMARY"]) == event.title
    assert str(vevent["LOCATION"]) == "KICC" and str(vevent["URL"]) == event.url
    assert str(vevent["DESCRIPTION"]) == event.description
    event.timezone = "UTC+03:00"
    utc_start = icalendar.Calendar.from_ical(calendar_for(event)).walk("VEVENT")[0]
    assert utc_start.decoded("DTSTART") == datetime(2026, 5, 12, 6, 30, tzinfo=UTC)


def test_cli_news_and_events(run_cli: Callable[..., Any]) -> None:
    added = run_cli("news", "add", "-c", "irnet", "--title", "Report", "--url", "https://x.org/r")
    assert added.exit_code == 0, added.output
    (news,) = json.loads(run_cli("news", "list", "--json").stdout)
    assert news["status"] == "approved" and news["published_at"]
    result = run_cli(
        "event", "add", "-c", "irnet", "--title", "Forum", "--starts", "2026-05-12 09:30",
        "--ends", "17:00", "--where", "Nairobi", "--theme", "skills", "--allow-past",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (event,) = json.loads(run_cli("event", "list", "--json").stdout)
    assert event["starts"] == "2026-05-12 09:30 Africa/Nairobi"
    assert event["starts_at"].startswith("2026-05-12 06:30")
    assert event["status"] == "approved" and event["themes"] == ["skills"]
    assert run_cli("event", "cancel", str(event["id"])).exit_code == 0
    assert json.loads(run_cli("event", "list", "--json").stdout)[0]["status"] == "cancelled"
    for args, fragment in [
        (("--starts", "12 May 09:30"), "cannot read"),
        (("--starts", "2026-05-12 09:30 Mars/Base"), "unknown time zone"),
        (("--starts", "2026-05-12 09:30", "--theme", "nope", "--allow-past"), "unknown theme"),
    ]:
        bad = run_cli("event", "add", "-c", "irnet", "--title", "X", *args)
        assert bad.exit_code == 2 and fragment in bad.stderr, bad.output
        assert len(bad.stderr.strip().splitlines()) == 1


def test_cli_resources(run_cli: Callable[..., Any], tmp_path: Path, ctx: Context) -> None:
    paper = tmp_path / "paper.pdf"
    paper.write_bytes(b"%PDF-1.4 a paper")
    link = run_cli(
        "resource", "add", "-c", "irnet", "--title", "Labour Act", "--url", "https://x.org/act",
        "--kind", "legislation", "--country", "ke", "--theme", "skills",
    )  # fmt: skip
    assert link.exit_code == 0, link.output
    stored = run_cli("resource", "add", "-c", "irnet", "--title", "Paper", "--file", str(paper))
    assert stored.exit_code == 0, stored.output
    listed = json.loads(run_cli("resource", "list", "--json").stdout)
    assert [(r["title"], r["kind"], r["country"]) for r in listed] == [
        ("Paper", "other", None),
        ("Labour Act", "legislation", "KE"),
    ]
    digest = listed[0]["sha256"]
    assert (ctx.settings.data_dir / "attachments" / digest[:2] / digest).read_bytes() == (
        paper.read_bytes()
    )
    for args, fragment in [
        (("--url", "https://x.org", "--country", "XX"), "country"),
        (("--url", "https://x.org", "--theme", "nope"), "unknown theme"),
        (("--file", str(tmp_path / "missing.pdf")), "no such file"),
        (("--url", "https://x.org", "--kind", "poem"), "kind"),
    ]:
        bad = run_cli("resource", "add", "-c", "irnet", "--title", "T", *args)
        assert bad.exit_code == 2 and fragment in bad.stderr, bad.output
        assert len(bad.stderr.strip().splitlines()) == 1
    assert json.loads(run_cli("resource", "candidates", "--json").stdout) == []


def test_attachments_of_approved_posts_become_resources(
    ctx: Context, send: Callable[..., str], run_cli: Callable[..., Any]
) -> None:
    mid = send(AMINA, "irnet@lists.example.org", "Our study", "Attached.", pdf=b"%PDF-1.4 s")
    with ctx.session() as session:
        post_id = session.exec(select(Post.id).where(Post.message_id == mid)).one()
    assert run_cli("resource", "candidates", "--json").stdout.strip() == "[]"
    assert run_cli("queue", "approve", str(post_id)).exit_code == 0
    (candidate,) = json.loads(run_cli("resource", "candidates", "--json").stdout)
    assert (candidate["post"], candidate["filename"]) == (post_id, "study.pdf")
    made = run_cli("resource", "add", "--from-post", str(post_id), "--kind", "research")
    assert made.exit_code == 0, made.output
    (resource,) = json.loads(run_cli("resource", "list", "--json").stdout)
    assert (resource["title"], resource["kind"]) == ("study.pdf", "research")
    assert resource["attachment"] == candidate["attachment"]
    assert run_cli("resource", "candidates", "--json").stdout.strip() == "[]"
    again = run_cli("resource", "add", "--from-post", str(post_id))
    assert again.exit_code == 1 and "no attachment" in again.stderr


def test_rejected_event_is_marked_and_the_sender_told(
    ctx: Context, send: Callable[..., str], run_cli: Callable[..., Any]
) -> None:
    send(BOB, EVENTS, "Fair", "Starts: 2026-07-03 10:00 +03:00\n")
    (event,) = events(ctx)
    assert event.timezone == "UTC+03:00"
    assert event.starts_at == datetime(2026, 7, 3, 7, 0, tzinfo=UTC)
    result = run_cli("queue", "reject", str(event.post_id), "--reason", "not our field")
    assert result.exit_code == 0, result.output
    assert events(ctx)[0].status == "rejected"
    assert outbox(ctx, "rejected", BOB) and outbox(ctx, "post") == []


def test_cli_edits_and_removes_news_and_events(run_cli: Callable[..., Any]) -> None:
    run_cli("news", "add", "-c", "irnet", "--title", "Draft code", "--url", "https://x.org/d")
    changed = run_cli(
        "news", "update", "1", "--title", "Labour code adopted", "--url", "https://x.org/code",
        "--theme", "skills",
    )  # fmt: skip
    assert changed.exit_code == 0 and "changed title, url, themes" in changed.output
    (news,) = json.loads(run_cli("news", "list", "--json").stdout)
    assert (news["title"], news["url"], news["themes"]) == (
        "Labour code adopted",
        "https://x.org/code",
        ["skills"],
    )
    assert run_cli("news", "update", "1", "--url", "javascript:alert(1)").exit_code == 2
    # An empty --url removes the link (a link gone dead), once.
    cleared = run_cli("news", "update", "1", "--url", "")
    assert cleared.exit_code == 0 and "changed url" in cleared.output
    assert json.loads(run_cli("news", "list", "--json").stdout)[0]["url"] is None
    assert "nothing changed" in run_cli("news", "update", "1", "--url", "").output
    assert run_cli("news", "update", "1", "--url", "https://x.org/code").exit_code == 0
    # An update that names nothing to change is a mistake (exit 2), not a silent success;
    # problems name the options typed.
    for args, words in (
        ((), "nothing to change: give at least one of --title, --body, --url, --theme"),
        (("--url", "nope"), "--url: 'nope' is not a web address"),
        (("--theme", "astrology"), "--theme: unknown theme astrology"),
        (("--title", " "), "--title: a news item needs a title"),
    ):
        refused = run_cli("news", "update", "1", *args)
        assert refused.exit_code == 2 and refused.stderr.startswith(f"error: {words}"), args
    assert run_cli("news", "add", "-c", "irnet", "--title", "X", "--url", "nope").stderr.startswith(
        "error: --url: 'nope'"
    )
    assert run_cli("news", "remove", "1").exit_code == 0
    assert json.loads(run_cli("news", "list", "--json").stdout) == []
    assert run_cli("news", "remove", "1").exit_code == 1

    added = run_cli(
        "event", "add", "-c", "irnet", "--title", "Forum", "--starts", "2030-05-12 09:30",
        "--ends", "17:00", "--where", "Nairobi",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    (before,) = json.loads(run_cli("event", "list", "--json").stdout)
    moved = run_cli(
        "event", "update", str(before["id"]), "--starts", "2030-05-13 10:00 Asia/Bangkok",
        "--ends", "16:00", "--where", "Bangkok",
    )  # fmt: skip
    assert moved.exit_code == 0, moved.output
    (after,) = json.loads(run_cli("event", "list", "--json").stdout)
    assert after["starts"] == "2030-05-13 10:00 Asia/Bangkok" and after["where"] == "Bangkok"
    assert after["uid"] == before["uid"]  # calendars update the same event
    # A new start alone moves the end with it: the event keeps its six hours.
    later = run_cli("event", "update", str(before["id"]), "--starts", "2030-06-01 09:00")
    assert later.exit_code == 0, later.output
    (shifted,) = json.loads(run_cli("event", "list", "--json").stdout)
    assert (shifted["starts"], shifted["ends"]) == (
        "2030-06-01 09:00 Asia/Bangkok",
        "2030-06-01 15:00 Asia/Bangkok",
    )
    past = run_cli("event", "update", str(before["id"]), "--starts", "2020-01-01 10:00")
    assert past.exit_code == 2 and "--starts: " in past.output and "in the past" in past.output
    # Problems name the options the admin typed, not a mail's field lines.
    for args, words in (
        (("--title", " ", "--starts", "2030-01-01 10:00"), "--title: the event needs a name"),
        (("--title", "X", "--starts", "soon"), "--starts: cannot read 'soon'"),
        (("--title", "X", "--starts", "2030-01-01 10:00", "--ends", "09:00"), "--ends: the event"),
        (("--title", "X", "--starts", "2030-01-01 10:00", "--url", "nope"), "--url: 'nope'"),
    ):
        refused = run_cli("event", "add", "-c", "irnet", *args)
        assert refused.exit_code == 2 and refused.stderr.startswith(f"error: {words}"), args
    nothing = run_cli("event", "update", str(before["id"]))
    assert nothing.exit_code == 2 and nothing.stderr.startswith("error: nothing to change")
    assert "--starts" in nothing.stderr
    backwards = run_cli("event", "update", str(before["id"]), "--ends", "2030-05-12 08:00")
    assert backwards.exit_code == 2 and "before the start" in backwards.output
    assert run_cli("event", "remove", str(before["id"])).exit_code == 0
    assert json.loads(run_cli("event", "list", "--json").stdout) == []
