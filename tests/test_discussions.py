"""A time-boxed discussion through its whole life, over real SMTP with the frozen clock:
created, opened, answered and moderated by email, reminded, closed (a late answer held),
summarised by the moderator's email and broadcast; and the CLI's refusals of bad input."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import START
from mailtools import address_in, body, outbox
from smtp_server import running_listener
from sqlmodel import col, select
from test_moderation import Mailer, decision_address, post_by

from mailhub.clock import FrozenClock
from mailhub.communities import get_community
from mailhub.context import Context
from mailhub.members import MemberFields, add_member
from mailhub.models import Discussion, SynopsisVersion, Thread
from mailhub.scheduler import run_due

LIST = "irnet@lists.example.org"
MOD = "mod@ministry.example.org"
AMINA, BOB, CARLA = "amina@example.org", "bob@example.org", "carla@example.org"
DAN, EVE = "dan@example.org", "eve@example.org"
RECEIVING = sorted([MOD, AMINA, BOB, CARLA, EVE])  # Dan takes no mail
OPENS = START + timedelta(hours=1)
CLOSES = START + timedelta(days=7)


@pytest.fixture
def members(ctx: Context) -> None:
    people = [
        MemberFields(email=MOD, name="Maria Mod", role="moderator", affiliation="government"),
        MemberFields(
            email=AMINA, name="Amina K", affiliation="workers", country="KE", organisation="COTU"
        ),
        MemberFields(email=BOB, name="Bob M", affiliation="government", country="UG"),
        MemberFields(
            email=CARLA, name="Carla", affiliation="employers", country="TZ", delivery="digest"
        ),
        MemberFields(email=DAN, name="Dan", affiliation="academic", country="KE", delivery="none"),
        MemberFields(email=EVE, name="Eve", affiliation="workers", country="TZ"),
    ]
    with ctx.session() as session:
        irnet = get_community(session, "irnet")
        for fields in people:
            add_member(session, irnet, fields, ctx.now())


@pytest.fixture
def mailer(ctx: Context, members: None) -> Iterator[Mailer]:
    with running_listener(ctx) as port:
        yield Mailer(ctx, port)


def create(run_cli: Callable[..., Any], tmp_path: Path) -> int:
    question = tmp_path / "question.txt"
    question.write_text("How do your countries regulate platform work?\n")
    result = run_cli(
        "discussion", "create", "--community", "irnet", "--title", "Platform work",
        "--question-file", str(question), "--moderator", MOD,
        "--opens", OPENS.isoformat(), "--closes", CLOSES.isoformat(), "--theme", "skills",
        "--allow-past",  # the test's clock is in the past of the CLI's (the system's)
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return int(re.search(r"discussion (\d+) scheduled", result.output).group(1))  # type: ignore[union-attr]


def discussion(ctx: Context, discussion_id: int) -> Discussion:
    with ctx.session() as session:
        found = session.get(Discussion, discussion_id)
        assert found is not None
        return found


def reply_address(ctx: Context, kind: str, member: str) -> str:
    ((_, mail),) = outbox(ctx, kind, member)
    return address_in(mail["Reply-To"], "r")


def answer_and_approve(ctx: Context, mailer: Mailer, member: str, text: str) -> str:
    message_id = mailer.send(member, reply_address(ctx, "discussion", member), "Re: x", text)
    assert post_by(ctx, message_id).status == "held"
    mailer.send(MOD, decision_address(ctx, MOD), "Re: held", "approve")
    assert post_by(ctx, message_id).status == "approved"
    return message_id


def test_a_discussion_from_question_to_synopsis(
    ctx: Context,
    mailer: Mailer,
    clock: FrozenClock,
    run_cli: Callable[..., Any],
    tmp_path: Path,
) -> None:
    discussion_id = create(run_cli, tmp_path)
    assert discussion(ctx, discussion_id).remind_at == CLOSES - timedelta(hours=48)
    assert run_due(ctx, OPENS - timedelta(minutes=1)).done == []

    # Opening: the question to every member who takes mail, digest members too.
    clock.set(OPENS)
    report = run_due(ctx)
    assert report.done == [f"opened discussion {discussion_id}: 5 announcement(s) queued"]
    assert run_due(ctx).done == []  # nothing twice
    announcements = outbox(ctx, "discussion")
    assert sorted(row.recipient for row, _ in announcements) == RECEIVING
    root = discussion(ctx, discussion_id).root_message_id
    for row, mail in announcements:
        assert mail["Message-ID"] == f"<{root}>"
        assert row.dedup_key == f"discussion:{discussion_id}:open:person:{row.person_id}"
        assert "platform work" in body(mail) and "reply to this mail" in body(mail)
        assert "Monday 09 March 2026, 12:00 EAT" in body(mail)  # Nairobi time

    # Members of different affiliations answer from their inboxes; the moderator approves.
    first = answer_and_approve(ctx, mailer, AMINA, "Our unions bargain with the platforms.")
    with ctx.session() as session:
        thread = session.get(Thread, post_by(ctx, first).thread_id)
        assert thread is not None and thread.discussion_id == discussion_id
    answer_and_approve(ctx, mailer, BOB, "The ministry drafted a code of practice.")
    clock.advance(timedelta(hours=1))
    mailer.send(
        AMINA,
        reply_address(ctx, "discussion", AMINA),
        "Re: x",
        "And a second thought on\nsocial protection.",
    )
    mailer.send(MOD, decision_address(ctx, MOD), "Re: held", "approve")

    # The reminder goes only to those who have not spoken; the moderator gets the status.
    remind_at = CLOSES - timedelta(hours=48)
    clock.set(remind_at)
    report = run_due(ctx)
    assert report.done == [f"reminded discussion {discussion_id}: 2 reminder(s)"]
    reminders = outbox(ctx, "discussion-reminder")
    assert sorted(row.recipient for row, _ in reminders) == [CARLA, EVE]
    assert reminders[0][1]["In-Reply-To"] == f"<{root}>"
    ((_, status),) = outbox(ctx, "discussion-status", MOD)
    text = body(status)
    assert "Approved contributions: 3 from 2 contributor(s)" in text
    assert re.search(r"workers\s+1 / 2", text) and re.search(r"KE\s+1 / 2", text)
    assert run_due(ctx).done == []

    answer_and_approve(ctx, mailer, CARLA, "Employers want a level playing field.")

    # Closing: the moderator is asked for the synopsis, with the draft and the figures.
    clock.set(CLOSES)
    # The weekly digest falls due in this week too; its line is not this test's subject.
    done = [line for line in run_due(ctx).done if not line.startswith("digest ")]
    assert done == [f"closed discussion {discussion_id}; synopsis requested"]
    assert discussion(ctx, discussion_id).state == "closed"
    ((_, request),) = outbox(ctx, "synopsis-request", MOD)
    draft = body(request)
    assert "Participation: 3 contributor(s), 4 approved contribution(s)." in draft
    for line in (r"workers\s+1 / 2", r"government\s+1 / 1", r"employers\s+1 / 1"):
        assert re.search(line, draft), line
    for line in (r"KE\s+1 / 2", r"UG\s+1 / 1", r"TZ\s+1 / 1"):
        assert re.search(line, draft), line
    assert "government 1, workers 1, employers 1, others 0" in draft
    assert "* Amina K, workers, KE, COTU" in draft
    assert '"And a second thought on social protection."' in draft
    assert "Employers want a level playing field." in draft
    synopsis_address = address_in(request["Reply-To"], "s")

    # A late answer is held and its sender told.
    subject = "Re: [IRNet] Platform work: how do your countries regulate delivery riders?"
    late = mailer.send(EVE, reply_address(ctx, "discussion", EVE), subject, "Sorry I am late.")
    assert post_by(ctx, late).status == "held"
    assert "late contribution" in (post_by(ctx, late).reason or "")
    ((_, told),) = outbox(ctx, "late", EVE)
    assert "Platform work" in body(told)
    assert max(len(line) for line in body(told).splitlines()) <= 78

    # Someone other than the moderator cannot set the synopsis.
    mailer.send(BOB, synopsis_address, "Re: synopsis", "My own conclusions.")
    assert discussion(ctx, discussion_id).synopsis is None
    assert "not the moderator" in body(outbox(ctx, "synopsis-reply", BOB)[-1][1])

    # Sent empty from Outlook, the request comes back unmarked: nothing is published
    # (least of all the draft), and the moderator is told.
    mailer.send(
        MOD,
        synopsis_address,
        "RE: please write the synopsis",
        f"\n________________________________\nFrom: IRNet\nSent: Monday, 9 March 2026\n"
        f"To: {MOD}\nSubject: please write the synopsis\n\n{draft}",
    )
    assert discussion(ctx, discussion_id).synopsis is None and not outbox(ctx, "synopsis")
    assert "nothing of yours above the quoted mail" in body(
        outbox(ctx, "synopsis-reply", MOD)[-1][1]
    )

    # The moderator's reply is the synopsis; every member who takes mail receives it.
    mailer.send(
        MOD,
        synopsis_address,
        "Re: please write the synopsis",
        "Conclusions: codes of practice work.\nNext steps: a workshop in May.\n\n"
        "On Mon, 9 Mar 2026, IRNet wrote:\n> DRAFT SYNOPSIS: Platform work\n> more\n",
    )
    summarised = discussion(ctx, discussion_id)
    assert summarised.state == "summarised" and summarised.synopsis_version == 1
    assert summarised.synopsis == (
        "Conclusions: codes of practice work.\nNext steps: a workshop in May.\n"
    )
    broadcast = outbox(ctx, "synopsis")
    assert sorted(row.recipient for row, _ in broadcast) == RECEIVING
    assert "a workshop in May" in body(broadcast[0][1])
    assert "3 member(s) took part, with 4 contribution(s)" in body(broadcast[0][1])

    # A second synopsis by email is refused with the way to correct it.
    mailer.send(MOD, synopsis_address, "Re: synopsis", "Something else entirely.")
    assert discussion(ctx, discussion_id).synopsis == summarised.synopsis
    assert "'correction' alone on the first line" in body(outbox(ctx, "synopsis-reply", MOD)[-1][1])

    # A correction is explicit, and sent as one.
    fixed = tmp_path / "fixed.txt"
    fixed.write_text("Conclusions: codes of practice work.\nNext steps: a workshop in June.\n")
    result = run_cli("discussion", "synopsis", str(discussion_id), "--file", str(fixed))
    assert result.exit_code == 1 and "--correction" in result.output
    missing = run_cli("discussion", "synopsis", str(discussion_id), "--file", "no/such.txt")
    assert missing.exit_code == 2 and missing.stderr.startswith("error: --file: cannot read ")
    result = run_cli(
        "discussion", "synopsis", str(discussion_id), "--file", str(fixed), "--correction"
    )
    assert result.exit_code == 0, result.output
    corrections = outbox(ctx, "synopsis-correction")
    assert sorted(row.recipient for row, _ in corrections) == RECEIVING
    assert "a workshop in June" in body(corrections[0][1])
    assert discussion(ctx, discussion_id).synopsis_version == 2
    with ctx.session() as session:  # both versions stay: the portal shows the earlier one
        kept = session.exec(
            select(SynopsisVersion.version, SynopsisVersion.text)
            .where(SynopsisVersion.discussion_id == discussion_id)
            .order_by(col(SynopsisVersion.version))
        ).all()
    assert [(n, "May" in text, "June" in text) for n, text in kept] == [
        (1, True, False),
        (2, False, True),
    ]

    shown = run_cli("discussion", "show", str(discussion_id))
    assert shown.exit_code == 0
    for fragment in ("summarised", "Monday 09 March 2026, 12:00 EAT", "workshop in June"):
        assert fragment in shown.output, fragment
    assert re.search(r"contributors\s+3", shown.output)
    # Later runs touch the discussion no more; Eve's late answer still waits for a decision.
    assert run_due(ctx, CLOSES + timedelta(days=30)).done == ["moderation reminders: 1 queued"]


def test_the_moderator_corrects_the_synopsis_by_mail(
    ctx: Context, mailer: Mailer, clock: FrozenClock, run_cli: Callable[..., Any], tmp_path: Path
) -> None:
    """A moderator has no command line: the mail that says the synopsis is published tells
    how to correct it, and answering it with 'correction' on the first line does; a second
    synopsis without that word replaces nothing, and its answer is answered the same way."""
    discussion_id = create(run_cli, tmp_path)
    clock.set(OPENS)
    run_due(ctx)
    clock.set(CLOSES)
    run_due(ctx)
    ((_, request),) = outbox(ctx, "synopsis-request", MOD)
    mailer.send(MOD, address_in(request["Reply-To"], "s"), "Re: synopsis", "A workshop in May.")
    (_, published) = outbox(ctx, "synopsis-reply", MOD)[-1]
    assert "To correct it, reply to this mail" in body(published)
    mailer.send(MOD, address_in(published["Reply-To"], "s"), "Re: published", "Sent twice.")
    assert discussion(ctx, discussion_id).synopsis == "A workshop in May.\n"
    (_, refused) = outbox(ctx, "synopsis-reply", MOD)[-1]
    assert "already has a synopsis" in body(refused) and "Only the discussion's" not in body(
        refused
    )
    assert all(len(line) <= 78 for line in body(refused).splitlines())
    mailer.send(
        MOD,
        address_in(refused["Reply-To"], "s"),
        "Re: not published",
        "Correction:\n\nA workshop in June.\n\nOn Monday, IRNet wrote:\n> A workshop in May.\n",
    )
    corrected = discussion(ctx, discussion_id)
    assert (corrected.synopsis, corrected.synopsis_version) == ("A workshop in June.\n", 2)
    corrections = outbox(ctx, "synopsis-correction")
    assert sorted(row.recipient for row, _ in corrections) == RECEIVING
    assert "A workshop in June." in body(corrections[0][1])
    assert outbox(ctx, "synopsis-reply", MOD)[-1][1]["Subject"].startswith("Correction published")


@pytest.mark.parametrize(
    ("changes", "hint"),
    [
        ({"--moderator": "nobody@example.org"}, "not an active member"),
        ({"--moderator": AMINA}, "not a moderator"),
        ({"--closes": "2026-03-01T09:00"}, "after the opening"),
        ({"--opens": "next tuesday"}, "cannot read 'next tuesday'"),
        ({"--theme": "astrology"}, "unknown theme"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    run_cli: Callable[..., Any], members: None, tmp_path: Path, changes: dict[str, str], hint: str
) -> None:
    question = tmp_path / "q.txt"
    question.write_text("A question?\n")
    options = {
        "--community": "irnet",
        "--title": "T",
        "--question-file": str(question),
        "--moderator": MOD,
        "--opens": "2026-03-02T10:00",
        "--closes": "2026-03-09T10:00",
        **changes,
    }
    result = run_cli(
        "discussion", "create", "--allow-past", *[i for pair in options.items() for i in pair]
    )
    assert result.exit_code == 2, result.output
    assert hint in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    listed = run_cli("discussion", "list").stdout  # not a terminal: the header row alone
    assert len(listed.splitlines()) == 1 and listed.startswith("id\t")


def test_open_close_and_cancel_by_hand(
    ctx: Context, members: None, run_cli: Callable[..., Any]
) -> None:
    made = run_cli(
        "discussion", "create", "--community", "irnet", "--title", "Skills",
        "--question-file", "-", "--moderator", MOD, "--days", "5", input="Which skills?\n",
    )  # fmt: skip
    assert made.exit_code == 0 and "draft" in made.output
    assert run_due(ctx, START + timedelta(days=1)).done == []  # a draft waits for a person
    opened = run_cli("discussion", "open", "1")
    assert opened.exit_code == 0 and "5 announcement(s)" in opened.output
    assert run_cli("discussion", "open", "1").exit_code == 1
    assert run_cli("discussion", "close", "1").exit_code == 0
    assert len(outbox(ctx, "synopsis-request", MOD)) == 1
    assert run_cli("discussion", "cancel", "1").exit_code == 1
    other = run_cli(
        "discussion", "create", "--community", "irnet", "--title", "Later",
        "--question-file", "-", "--moderator", MOD, "--opens", "2026-04-01T09:00",
        "--days", "3", "--allow-past", input="Later?\n",
    )  # fmt: skip
    assert other.exit_code == 0
    assert run_cli("discussion", "cancel", "2").exit_code == 0
    assert run_due(ctx, START + timedelta(days=40)).done == []
    assert discussion(ctx, 2).state == "cancelled"


def test_opening_by_hand_refuses_a_closing_time_already_past(
    ctx: Context, members: None, run_cli: Callable[..., Any]
) -> None:
    """A discussion made weeks ago and opened now would invite every member to something the
    next run closes: refused, unless a new end (--days, --closes) or --allow-past is given."""
    now = datetime.now(UTC)  # the CLI's clock is the system's
    made = run_cli(
        "discussion", "create", "-c", "irnet", "--title", "Late start", "--question-file", "-",
        "--moderator", MOD, "--opens", f"{now - timedelta(days=20):%Y-%m-%dT%H:%M}+00:00",
        "--days", "14", "--allow-past", input="Still there?\n",
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    refused = run_cli("discussion", "open", "1")
    assert refused.exit_code == 2, refused.output
    assert refused.output.startswith("error: --closes: discussion 1 closes ")
    assert "already past" in refused.output and "--days N" in refused.output
    past = run_cli(
        "discussion", "open", "1", "--closes", f"{now - timedelta(hours=1):%Y-%m-%d %H:%M}"
    )
    assert past.exit_code == 2 and "already past" in past.output, past.output
    both = run_cli("discussion", "open", "1", "--days", "3", "--closes", "2030-01-01 09:00")
    assert both.exit_code == 2 and "not both" in both.output
    assert discussion(ctx, 1).state == "scheduled" and outbox(ctx, "discussion") == []

    opened = run_cli("discussion", "open", "1", "--days", "3")
    assert opened.exit_code == 0 and "5 announcement(s)" in opened.output, opened.output
    closes = discussion(ctx, 1).closes_at
    assert closes is not None and abs(closes - (now + timedelta(days=3))) < timedelta(minutes=5)
    closing = closes.astimezone(ZoneInfo("Africa/Nairobi"))
    ((_, announcement),) = outbox(ctx, "discussion", AMINA)
    assert f"{closing:%A %d %B %Y, %H:%M}" in " ".join(body(announcement).split())


def test_opening_by_hand_past_its_close_when_allowed(
    ctx: Context, members: None, run_cli: Callable[..., Any]
) -> None:
    now = datetime.now(UTC)
    made = run_cli(
        "discussion", "create", "-c", "irnet", "--title", "Over", "--question-file", "-",
        "--moderator", MOD, "--opens", f"{now - timedelta(days=3):%Y-%m-%dT%H:%M}+00:00",
        "--days", "1", "--allow-past", input="Over?\n",
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    opened = run_cli("discussion", "open", "1", "--allow-past")
    assert opened.exit_code == 0, opened.output
    assert discussion(ctx, 1).state == "open"


def test_times_without_a_zone_are_the_communitys_and_the_past_is_refused(
    ctx: Context, members: None, run_cli: Callable[..., Any]
) -> None:
    now = datetime.now(UTC)
    opens = (now + timedelta(days=3)).astimezone(ZoneInfo("Africa/Nairobi"))
    written = f"{opens:%Y-%m-%dT%H:%M}"  # no zone: Nairobi, irnet's zone
    made = run_cli(
        "discussion", "create", "-c", "irnet", "--title", "Soon", "--question-file", "-",
        "--moderator", MOD, "--opens", written, "--days", "2", input="Soon?\n",
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    assert discussion(ctx, 1).opens_at == opens.replace(second=0, microsecond=0)
    shown = json.loads(run_cli("discussion", "show", "1", "--json").output)
    assert shown["opens"].startswith(f"{opens:%A %d %B %Y, %H:%M}")

    past = f"{now - timedelta(days=1):%Y-%m-%d %H:%M}"
    refused = run_cli(
        "discussion", "create", "-c", "irnet", "--title", "Late", "--question-file", "-",
        "--moderator", MOD, "--opens", past, "--days", "2", input="Late?\n",
    )  # fmt: skip
    assert refused.exit_code == 2
    assert "opens:" in refused.output and "is in the past" in refused.output
    assert "--allow-past" in refused.output and len(refused.output.strip().splitlines()) == 1
    event = run_cli("event", "add", "-c", "irnet", "--title", "Over", "--starts", past)
    assert event.exit_code == 2 and "starts:" in event.output and "in the past" in event.output
    kept = run_cli(
        "event", "add", "-c", "irnet", "--title", "Over", "--starts", past, "--allow-past"
    )
    assert kept.exit_code == 0, kept.output


def test_run_due_now_in_the_future_queues_mail_due_at_once(
    ctx: Context, members: None, run_cli: Callable[..., Any]
) -> None:
    """Anticipating a discussion's opening sends its announcements now, not then."""
    opens = datetime.now(UTC) + timedelta(days=2)
    made = run_cli(
        "discussion", "create", "-c", "irnet", "--title", "Ahead", "--question-file", "-",
        "--moderator", MOD, "--opens", opens.isoformat(), "--days", "3", input="Ahead?\n",
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    unread = run_cli("run-due", "--now", "tomorrow")
    assert unread.exit_code == 2 and unread.stderr.startswith("error: --now: 'tomorrow'")
    ran = run_cli("run-due", "--now", (opens + timedelta(minutes=1)).isoformat())
    assert ran.exit_code == 0 and "opened discussion 1" in ran.output
    rows = outbox(ctx, "discussion")
    assert len(rows) == 5
    for row, _mail in rows:
        assert row.next_attempt_at <= datetime.now(UTC), row.next_attempt_at
