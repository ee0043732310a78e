"""Moderation by email end to end over SMTP: hold, approve, reject, discard, forgeries,
batch decisions from the reminder, and replies threaded through reply addresses."""

from __future__ import annotations

import smtplib
from collections.abc import Callable, Iterator
from datetime import timedelta
from email import policy
from email.message import EmailMessage
from typing import Any

import pytest
from mailtools import address_in, body, outbox
from smtp_server import running_listener
from sqlmodel import select

from mailhub.clock import FrozenClock
from mailhub.communities import create_community, get_community
from mailhub.context import Context
from mailhub.inbound import pipeline
from mailhub.members import MemberFields, add_member
from mailhub.models import Decision, Post
from mailhub.moderation.queue import send_reminders

LIST = "irnet@lists.example.org"
OWNER = "irnet-owner@lists.example.org"
MOD1, MOD2 = "mod1@ministry.example.org", "mod2@union.example.org"
AMINA, BOB, CARLA = "amina@example.org", "bob@example.org", "carla@example.org"


@pytest.fixture
def community(ctx: Context) -> Iterator[int]:
    with ctx.session() as session:
        irnet = get_community(session, "irnet")
        people = [
            MemberFields(email=MOD1, name="Maria Mod", role="moderator", affiliation="government"),
            MemberFields(email=MOD2, name="Omar Mod", role="moderator", affiliation="workers"),
            MemberFields(
                email=AMINA,
                name="Amina K",
                affiliation="workers",
                country="KE",
                organisation="COTU",
            ),
            MemberFields(email=BOB, name="Bob M", affiliation="government", country="UG"),
            MemberFields(
                email=CARLA, name="Carla", affiliation="employers", country="TZ", delivery="digest"
            ),
        ]
        for fields in people:
            add_member(session, irnet, fields, ctx.now())
        assert irnet.id is not None
        community_id = irnet.id
    yield community_id


class Mailer:
    """Sends over real SMTP to the running listener and processes the spool."""

    def __init__(self, ctx: Context, port: int) -> None:
        self.ctx, self.port, self.count = ctx, port, 0

    def send(self, sender: str, to: str, subject: str, text: str, **headers: str) -> str:
        self.count += 1
        mail = EmailMessage()
        mail["From"] = sender
        mail["To"] = to
        mail["Subject"] = subject
        mail["Message-ID"] = f"<t{self.count}.{sender.split('@')[0]}@example.org>"
        for name, value in headers.items():
            mail[name.replace("_", "-")] = value
        mail.set_content(text)
        with smtplib.SMTP("127.0.0.1", self.port) as smtp:
            smtp.sendmail(sender, [to], mail.as_bytes(policy=policy.SMTP))
        pipeline.drain(self.ctx)
        return mail["Message-ID"].strip("<>")


@pytest.fixture
def mailer(ctx: Context, community: int) -> Iterator[Mailer]:
    with running_listener(ctx) as port:
        yield Mailer(ctx, port)


def post_by(ctx: Context, message_id: str) -> Post:
    with ctx.session() as session:
        return session.exec(select(Post).where(Post.message_id == message_id)).one()


def decision_address(ctx: Context, moderator: str) -> str:
    (_, held), *_ = [m for m in outbox(ctx, "held", moderator)][-1:]
    return address_in(held["Reply-To"], "m")


def test_held_approved_by_email_and_delivered_with_threading_headers(
    ctx: Context, mailer: Mailer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="mailhub.moderation")
    mid = mailer.send(
        AMINA, LIST, "Platform work and social dialogue", "How do your ministries consult unions?"
    )
    post = post_by(ctx, mid)
    assert post.status == "held" and "every post in this community is reviewed" in (
        post.reason or ""
    )
    notifications = outbox(ctx, "held")
    assert sorted(row.recipient for row, _ in notifications) == [MOD1, MOD2]
    text = body(notifications[0][1])
    for fragment in (
        "Amina K",
        "workers",
        "KE",
        "COTU",
        "Platform work and social dialogue",
        "How do your ministries consult unions?",
        "approve",
        "reject <reason>",
        "discard",
    ):
        assert fragment in text, fragment
    assert notifications[0][1]["Auto-Submitted"] == "auto-generated"
    tokens_used = {address_in(m["Reply-To"], "m") for _, m in notifications}
    assert len(tokens_used) == 2  # each moderator has their own decision address

    # Outlook-style reply: decision on top, the notification quoted below.
    mailer.send(
        MOD1,
        decision_address(ctx, MOD1),
        "RE: held",
        "Approve\n\n-----Original Message-----\nFrom: IRNet\nSubject: held\n\nreject this\n",
    )
    post = post_by(ctx, mid)
    assert post.status == "approved"
    delivered = outbox(ctx, "post")
    assert sorted(row.recipient for row, _ in delivered) == sorted(
        [AMINA, BOB, MOD1, MOD2]
    )  # Carla is digest
    for _, message in delivered:
        assert message["Message-ID"] == f"<{mid}>"
    confirmation = outbox(ctx, "moderation-reply", MOD1)
    assert confirmation and "approved" in confirmation[0][1]["Subject"]
    fyi = outbox(ctx, "fyi", MOD2)
    assert fyi and "approve" in body(fyi[0][1]) and "Maria Mod" in body(fyi[0][1])
    with ctx.session() as session:
        decisions = session.exec(select(Decision).where(Decision.post_id == post.id)).all()
    assert [(d.action, d.via) for d in decisions] == [("hold", "rules"), ("approve", "email")]
    logged = [r.getMessage() for r in caplog.records if r.getMessage().startswith("decision ")]
    assert logged[-1].startswith(f"decision post={post.id} community=")
    assert f"action=approve by={MOD1} via=email" in logged[-1]

    # A second moderator's later answer is told who decided first; nothing changes.
    mailer.send(MOD2, decision_address(ctx, MOD2), "Re: held", "reject not relevant")
    assert post_by(ctx, mid).status == "approved"
    already = outbox(ctx, "moderation-reply", MOD2)
    assert already and "already" in body(already[-1][1]) and "Maria Mod" in body(already[-1][1])

    # A member answers through their personal reply address: same thread, right parent.
    ((_, bobs_copy),) = [x for x in delivered if x[0].recipient == BOB]
    reply_address = address_in(bobs_copy["Reply-To"], "r")
    reply_mid = mailer.send(
        BOB,
        reply_address,
        "Re: [IRNet] Platform work and social dialogue",
        "Through a tripartite council.",
    )
    reply = post_by(ctx, reply_mid)
    assert reply.thread_id == post.thread_id and reply.parent_id == post.id


def test_reject_tells_the_poster_and_discard_sends_nothing(ctx: Context, mailer: Mailer) -> None:
    rejected = mailer.send(AMINA, LIST, "Buy our software", "Special offer")
    reason = (
        "commercial offers are off topic here; tell us about your training instead, "
        "write to irnet-owner@lists.example.org if you would like to talk about it"
    )
    mailer.send(MOD1, decision_address(ctx, MOD1), "Re: held", f"reject {reason}")
    assert post_by(ctx, rejected).status == "rejected"
    notice = outbox(ctx, "rejected", AMINA)
    assert len(notice) == 1 and " ".join(body(notice[0][1]).split()).count(reason) == 1
    assert max(len(line) for line in body(notice[0][1]).splitlines()) <= 78

    discarded = mailer.send(BOB, LIST, "test", "testing 123")
    before = len(outbox(ctx))
    mailer.send(MOD2, decision_address(ctx, MOD2), "Re: held", "discard")
    assert post_by(ctx, discarded).status == "discarded"
    new = outbox(ctx)[before:]
    assert {row.kind for row, _ in new} == {"moderation-reply", "fyi"}  # nothing to members or Bob
    assert all(row.recipient != BOB for row, _ in new)


def test_forged_and_unclear_decisions_change_nothing(
    ctx: Context, mailer: Mailer, clock: FrozenClock
) -> None:
    mid = mailer.send(AMINA, LIST, "Youth guarantee schemes", "Experiences?")
    genuine = decision_address(ctx, MOD1)
    # A member who is not a moderator, with a genuine token.
    mailer.send(BOB, genuine, "Re: held", "approve")
    assert post_by(ctx, mid).status == "held"
    refusal = outbox(ctx, "moderation-reply", BOB)[-1][1]
    assert "not a moderator" in body(refusal)
    # A question about it reaches the community's owners: named in the text and in Reply-To.
    assert OWNER in body(refusal) and OWNER in refusal["Reply-To"]
    # A tampered token.
    local, domain = genuine.split("@")
    tampered = f"{local[:-1]}{'a' if local[-1] != 'a' else 'b'}@{domain}"
    mailer.send(MOD1, tampered, "Re: held", "approve")
    assert post_by(ctx, mid).status == "held"
    # A token of this item sent to another community's address.
    with ctx.session() as session:
        youth = create_community(session, slug="youth", name="Youth", now=ctx.now())
        add_member(session, youth, MemberFields(email=MOD1, role="moderator"), ctx.now())
    other = genuine.replace("irnet+m-", "youth+m-")
    mailer.send(MOD1, other, "Re: held", "approve")
    assert post_by(ctx, mid).status == "held"
    # An empty or unclear reply never approves.
    mailer.send(MOD1, genuine, "Re: held", "\n\n> approve\n> this was quoted\n")
    mailer.send(MOD1, genuine, "Re: held", "Looks fine to me I think")
    assert post_by(ctx, mid).status == "held"
    assert "could not read a decision" in body(outbox(ctx, "moderation-reply", MOD1)[-1][1])
    # An expired token.
    clock.advance(timedelta(days=61))
    mailer.send(MOD1, genuine, "Re: held", "approve")
    assert post_by(ctx, mid).status == "held"
    with ctx.session() as session:
        decisions = session.exec(select(Decision.action)).all()
    assert set(decisions) == {"hold"}


def outlook_empty_reply(original: EmailMessage) -> str:
    """What Outlook sends when a moderator presses Send without typing: our mail again,
    unmarked, below a header block (no `>` quoting)."""
    return (
        "\n\n________________________________\n"
        f"From: {original['From']}\nSent: Friday, 27 February 2026 10:00\n"
        f"To: {original['To']}\nSubject: {original['Subject']}\n\n{body(original)}"
    )


def test_an_empty_outlook_reply_decides_nothing(
    ctx: Context, mailer: Mailer, clock: FrozenClock
) -> None:
    """The held notice and the reminder list the answers ("approve", "approve 1 3 4") as
    examples; sent back unmarked, they are not read as the moderator's decisions."""
    ids = [mailer.send(AMINA, LIST, f"Topic {n}", f"Text {n}") for n in range(5)]
    held = outbox(ctx, "held", MOD1)[-1][1]
    mailer.send(MOD1, decision_address(ctx, MOD1), "RE: held", outlook_empty_reply(held))
    assert "could not read a decision" in body(outbox(ctx, "moderation-reply", MOD1)[-1][1])
    clock.advance(timedelta(hours=25))
    with ctx.session() as session:
        send_reminders(ctx, session)
    ((_, reminder),) = outbox(ctx, "reminder", MOD1)
    assert "approve 1 3 4" in body(reminder)  # the examples are there, and ids 1-5 exist
    mailer.send(
        MOD1, address_in(reminder["Reply-To"], "m"), "RE: reminder", outlook_empty_reply(reminder)
    )
    assert [post_by(ctx, m).status for m in ids] == ["held"] * 5
    with ctx.session() as session:
        assert set(session.exec(select(Decision.action)).all()) == {"hold"}


def test_after_an_unclear_reply_the_moderator_simply_answers_again(
    ctx: Context, mailer: Mailer, clock: FrozenClock
) -> None:
    """The "could not read a decision" answer, and the summary of a reply to the reminder
    that held no decision line, are answered at the decision address (their Reply-To), not
    at -request@, which would take "approve" for a command it does not know."""
    mid = mailer.send(AMINA, LIST, "Wage councils", "How are they composed?")
    mailer.send(MOD1, decision_address(ctx, MOD1), "Re: held", "Thanks, I will look tomorrow")
    (_, unclear), *_ = outbox(ctx, "moderation-reply", MOD1)
    assert "could not read a decision" in body(unclear)
    again = address_in(unclear["Reply-To"], "m")
    # Sent back empty from Outlook, the answer's examples decide nothing.
    mailer.send(MOD1, again, "RE: No decision read", outlook_empty_reply(unclear))
    assert post_by(ctx, mid).status == "held"
    mailer.send(MOD1, again, "Re: No decision read", "approve")
    assert post_by(ctx, mid).status == "approved"
    assert len(outbox(ctx, "post")) > 0

    later = [mailer.send(AMINA, LIST, f"Topic {n}", f"Text {n}") for n in range(2)]
    clock.advance(timedelta(hours=25))
    with ctx.session() as session:
        send_reminders(ctx, session)
    ((_, reminder),) = outbox(ctx, "reminder", MOD1)
    mailer.send(MOD1, address_in(reminder["Reply-To"], "m"), "Re: reminder", "Will do!")
    (_, summary) = outbox(ctx, "moderation-reply", MOD1)[-1]
    assert "No decision lines were found" in body(summary)
    assert all(len(line) <= 78 for line in body(summary).splitlines())
    numbers = " ".join(str(post_by(ctx, m).id) for m in later)
    mailer.send(MOD1, address_in(summary["Reply-To"], "m"), "Re: summary", f"approve {numbers}")
    assert [post_by(ctx, m).status for m in later] == ["approved"] * 2


def test_a_decision_from_the_command_line_is_named_as_such(
    ctx: Context, mailer: Mailer, run_cli: Callable[..., Any]
) -> None:
    """`queue approve` without --as names no moderator; the moderator who answers later is
    told an admin decided on the command line, not that "the rules" did."""
    mid = mailer.send(AMINA, LIST, "Wage boards", "Who sits on them?")
    address = decision_address(ctx, MOD1)
    assert run_cli("queue", "approve", str(post_by(ctx, mid).id)).exit_code == 0
    again = run_cli("queue", "discard", str(post_by(ctx, mid).id))
    assert again.exit_code == 1 and "approved by an admin on the command line" in again.stderr
    mailer.send(MOD1, address, "Re: held", "reject off topic")
    assert post_by(ctx, mid).status == "approved"
    (_, answer) = outbox(ctx, "moderation-reply", MOD1)[-1]
    assert "an admin on the command line" in body(answer) and "the rules" not in body(answer)


def test_reminder_and_batch_decisions(ctx: Context, mailer: Mailer, clock: FrozenClock) -> None:
    ids = [mailer.send(AMINA, LIST, f"Topic {n}", f"Text {n}") for n in range(4)]
    posts = [post_by(ctx, m) for m in ids]
    with ctx.session() as session:
        assert send_reminders(ctx, session) == 0  # nothing has waited long enough yet
    clock.advance(timedelta(hours=25))
    with ctx.session() as session:
        assert send_reminders(ctx, session) == 2
        assert send_reminders(ctx, session) == 0  # at most once a day
    ((_, reminder),) = outbox(ctx, "reminder", MOD1)
    text = body(reminder)
    assert all(f"[{p.id}] Topic {n}" in text for n, p in enumerate(posts))
    batch = (
        f"approve {posts[0].id} {posts[2].id}\n"
        f"reject {posts[1].id} not for this list\n"
        f"discard {posts[3].id}\n"
    )
    mailer.send(MOD1, address_in(reminder["Reply-To"], "m"), "Re: reminder", batch)
    assert [post_by(ctx, m).status for m in ids] == [
        "approved",
        "rejected",
        "approved",
        "discarded",
    ]
    ((_, summary),) = outbox(ctx, "moderation-reply", MOD1)[-1:]
    assert (
        "approved" in body(summary) and "rejected" in body(summary) and "discarded" in body(summary)
    )
    assert "not for this list" in body(outbox(ctx, "rejected", AMINA)[-1][1])


def test_nonmember_policies_and_first_post(ctx: Context, mailer: Mailer) -> None:
    held = mailer.send("stranger@elsewhere.org", LIST, "Hello", "Can I join?")
    assert post_by(ctx, held).status == "held" and "not a member" in (
        post_by(ctx, held).reason or ""
    )
    with ctx.session() as session:
        irnet = get_community(session, "irnet")
        irnet.nonmember_policy = "reject"
        irnet.moderation = "first-post"
        session.add(irnet)
    subject = "Hello again: how do wage boards in the region hear from informal workers?"
    rejected = mailer.send("stranger@elsewhere.org", LIST, subject, "Please?")
    assert post_by(ctx, rejected).status == "rejected"
    told = body(outbox(ctx, "nonmember", "stranger@elsewhere.org")[-1][1])
    assert "only members" in told and "irnet-request@lists.example.org" in told
    assert max(len(line) for line in told.splitlines()) <= 78
    first = mailer.send(BOB, LIST, "My first post", "Hello all")
    assert post_by(ctx, first).status == "held" and "first post" in (
        post_by(ctx, first).reason or ""
    )
    mailer.send(MOD1, decision_address(ctx, MOD1), "Re", "approve")
    second = mailer.send(BOB, LIST, "My second post", "Hello again")
    assert post_by(ctx, second).status == "approved"  # no review after an approved first post


def test_queue_cli(run_cli, ctx: Context, mailer: Mailer) -> None:
    one = mailer.send(AMINA, LIST, "CLI one", "one")
    two = mailer.send(BOB, LIST, "CLI two", "two")
    listed = run_cli("queue", "list", "--json")
    assert listed.exit_code == 0 and "CLI one" in listed.output and "CLI two" in listed.output
    only_bob = run_cli("queue", "list", "--sender", BOB, "--json")
    assert "CLI two" in only_bob.output and "CLI one" not in only_bob.output
    first, second = post_by(ctx, one), post_by(ctx, two)
    assert "Amina K" in run_cli("queue", "show", str(first.id)).output
    assert run_cli("queue", "approve", str(first.id), "--as", MOD1).exit_code == 0
    again = run_cli("queue", "approve", str(first.id))
    assert again.exit_code == 1 and "already" in again.output
    assert run_cli("queue", "reject", str(second.id), "--reason", "duplicate").exit_code == 0
    assert post_by(ctx, two).status == "rejected"
    assert run_cli("queue", "approve", "9999").exit_code == 1
    bad_as = run_cli("queue", "discard", str(second.id), "--as", BOB)
    assert bad_as.exit_code != 0


def test_unsubscribe_sent_to_the_list_waits_and_the_sender_is_shown_the_way(
    ctx: Context, mailer: Mailer
) -> None:
    """In a community whose posts go out unreviewed, "unsubscribe" sent to the list does
    not reach every member: it waits for a moderator, and its sender is told where
    commands go."""
    with ctx.session() as session:
        get_community(session, "irnet").moderation = "none"
    posted = mailer.send(BOB, LIST, "Minimum wage boards", "Ours meets twice a year.")
    assert post_by(ctx, posted).status == "approved"  # the community does post at once
    command = mailer.send(BOB, LIST, "Re: [IRNet] Minimum wage boards", "unsubscribe\n\nBob")
    held = post_by(ctx, command)
    assert held.status == "held" and "membership command" in (held.reason or "")
    assert [m for _, m in outbox(ctx, "post") if m["Message-ID"] == f"<{command}>"] == []
    ((_, told),) = outbox(ctx, "command-to-list", BOB)
    assert "irnet-request@lists.example.org" in body(told)
    assert max(len(line) for line in body(told).splitlines()) <= 78
    assert OWNER in told["Reply-To"]  # a question about it reaches the people behind it
    assert sorted(row.recipient for row, _ in outbox(ctx, "held")) == [MOD1, MOD2]


def test_answers_as_people_write_them(ctx: Context, mailer: Mailer, clock: FrozenClock) -> None:
    """A greeting before the decision, the reason on the line below "reject", numbers in the
    reminder's brackets joined by "and"; a sentence that only mentions a decision is none."""
    unsure, spam, *rest = [mailer.send(AMINA, LIST, f"Topic {n}", f"Text {n}") for n in range(4)]
    address = decision_address(ctx, MOD1)  # the held notice of the last one
    mailer.send(MOD1, address, "Re: held", "Hello, I do not think we should\napprove this yet\n")
    assert post_by(ctx, rest[-1]).status == "held"
    mailer.send(MOD1, address, "Re: held", "Hi Maria,\n\nApproved.\n\nThanks,\nOmar\n")
    assert post_by(ctx, rest[-1]).status == "approved"
    (spam_notice,) = [m for _, m in outbox(ctx, "held", MOD1) if "Text 1" in body(m)]
    mailer.send(
        MOD1,
        address_in(spam_notice["Reply-To"], "m"),
        "Re: held",
        "Dear colleagues,\n\nreject\nNot for this list, sorry.\n\nBest regards\n",
    )
    assert post_by(ctx, spam).status == "rejected"
    assert "Not for this list, sorry." in body(outbox(ctx, "rejected", AMINA)[-1][1])
    clock.advance(timedelta(hours=25))
    with ctx.session() as session:
        send_reminders(ctx, session)
    ((_, reminder),) = outbox(ctx, "reminder", MOD1)
    first, second = post_by(ctx, unsure), post_by(ctx, rest[0])
    mailer.send(
        MOD1,
        address_in(reminder["Reply-To"], "m"),
        "Re: reminder",
        f"approve [{first.id}] and [{second.id}]\n",
    )
    assert [post_by(ctx, m).status for m in (unsure, rest[0])] == ["approved", "approved"]
