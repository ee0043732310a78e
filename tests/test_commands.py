"""Membership by mail, end to end: commands to -request@ and answers to +c-/+u- addresses
arrive over the real SMTP listener, the pipeline acts, and the outbox holds the answers.
Also the admin CLI that shares the implementation."""

from __future__ import annotations

import json
import smtplib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from smtp_server import running_listener
from sqlmodel import select

from mailhub.clock import FrozenClock
from mailhub.context import Context
from mailhub.inbound import pipeline
from mailhub.members import MemberFields, add_member, find_person, membership_of
from mailhub.models import Community, InboundMessage, Membership, OutboundMessage
from mailhub.scheduler import run_due
from mailhub.subscriptions import CONFIRM_DAYS, unsubscribe_token

DOMAIN = "lists.example.org"
REQUEST = f"irnet-request@{DOMAIN}"
_ids = count(1)


@pytest.fixture
def port(ctx: Context) -> Iterator[int]:
    with running_listener(ctx) as listening:
        yield listening


def mail(
    sender: str, rcpt: str, subject: str, body: str, headers: dict[str, str] | None = None
) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = rcpt
    message["Subject"] = subject
    message["Message-ID"] = f"<cmd-{next(_ids)}@example.org>"
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    return message.as_bytes(policy=policy.SMTP)


def send(
    ctx: Context,
    port: int,
    sender: str,
    body: str = "",
    *,
    subject: str = "",
    rcpt: str = REQUEST,
    headers: dict[str, str] | None = None,
) -> None:
    """Send one mail over SMTP to the real listener, then let the pipeline process it."""
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        smtp.sendmail(sender, [rcpt], mail(sender, rcpt, subject, body, headers))
    pipeline.drain(ctx)


def queued(ctx: Context, kind: str | None = None, to: str | None = None) -> list[EmailMessage]:
    """The mails in the outbox, oldest first, parsed."""
    with ctx.session() as session:
        query = select(OutboundMessage).order_by(OutboundMessage.id)
        if kind:
            query = query.where(OutboundMessage.kind == kind)
        if to:
            query = query.where(OutboundMessage.recipient == to)
        rows = session.exec(query).all()
        return [message_from_bytes(r.raw, policy=policy.default) for r in rows]  # type: ignore[misc]


def text_of(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return " ".join(part.get_content().split())


def membership(ctx: Context, email: str) -> Membership | None:
    with ctx.session() as session:
        person = find_person(session, email)
        community = session.exec(select(Community)).one()
        return membership_of(session, community, person) if person else None


def status(ctx: Context, email: str) -> str | None:
    found = membership(ctx, email)
    return found.status if found else None


def add(ctx: Context, email: str, state: str = "active", **fields: object) -> Membership:
    with ctx.session() as session:
        community = session.exec(select(Community)).one()
        _, added = add_member(
            session, community, MemberFields(email=email, status=state, **fields), ctx.now()
        )
        return added


def last_outcome(ctx: Context) -> InboundMessage:
    with ctx.session() as session:
        return session.exec(select(InboundMessage).order_by(InboundMessage.id.desc())).first()  # type: ignore[union-attr,return-value]


def test_subscribe_waits_for_the_confirmation_to_be_answered_by_mail(
    ctx: Context, port: int
) -> None:
    send(ctx, port, "Nadia <nadia@example.org>", subject="subscribe")
    assert status(ctx, "nadia@example.org") == "pending"
    [confirmation] = queued(ctx, "confirmation", "nadia@example.org")
    reply_to = confirmation["Reply-To"]
    assert reply_to.startswith("irnet+c-") and reply_to.endswith(f"@{DOMAIN}")
    assert confirmation["Auto-Submitted"] == "auto-generated"
    assert "reply to this message" in text_of(confirmation)
    [answer] = queued(ctx, "command-reply", "nadia@example.org")
    assert "A confirmation has been sent to nadia@example.org" in text_of(answer)
    assert answer["From"].addresses[0].addr_spec == REQUEST

    # Asking again neither activates nor answers twice for the same mail.
    send(ctx, port, "nadia@example.org", "subscribe")
    assert status(ctx, "nadia@example.org") == "pending"

    send(ctx, port, "nadia@example.org", "yes please", subject="Re: Confirm", rcpt=reply_to)
    assert status(ctx, "nadia@example.org") == "active"
    [welcome] = queued(ctx, "confirmation-reply", "nadia@example.org")
    assert "nadia@example.org is now a member of IRNet" in text_of(welcome)
    with ctx.session() as session:
        assert find_person(session, "nadia@example.org").name == "Nadia"  # type: ignore[union-attr]

    # The same confirmation answered again changes nothing and says so.
    send(ctx, port, "nadia@example.org", "again", rcpt=reply_to)
    assert "has been used already" in text_of(queued(ctx, "confirmation-reply")[-1])


def test_several_commands_in_one_mail_get_one_reply(ctx: Context, port: int) -> None:
    add(ctx, "amina@example.org")
    body = "themes skills\n\nnomail\nfrobnicate the list\neach\n-- \nAmina Person\nunsubscribe\n"
    send(ctx, port, "amina@example.org", body, subject="digest")
    found = membership(ctx, "amina@example.org")
    assert found is not None
    assert (found.status, found.delivery, found.themes) == ("active", "each", ["skills"])
    [reply] = queued(ctx)
    text = text_of(reply)
    assert reply["Subject"] == "Re: digest"
    assert "> digest You will receive a digest of the posts" in text
    assert "> themes skills Your themes are now: skills." in text
    assert "> nomail You will receive no posts" in text
    assert "Not understood, so not done: > frobnicate the list" in text
    assert "unsubscribe" not in text.split("Not understood")[0]  # the signature was not read


def test_reading_stops_at_quoted_text_end_and_the_line_limit(ctx: Context, port: int) -> None:
    add(ctx, "amina@example.org")
    quoted = (
        "digest\n\nOn Mon, 2 Mar 2026 at 09:00, IRNet <irnet-request@x> wrote:\n> unsubscribe\n"
    )
    send(ctx, port, "amina@example.org", quoted)
    assert (status(ctx, "amina@example.org"), membership(ctx, "amina@example.org").delivery) == (  # type: ignore[union-attr]
        "active",
        "digest",
    )
    send(ctx, port, "amina@example.org", "nomail\nend\nunsubscribe\n")
    assert status(ctx, "amina@example.org") == "active"
    assert membership(ctx, "amina@example.org").delivery == "none"  # type: ignore[union-attr]
    send(ctx, port, "amina@example.org", "help\n" * 20 + "each\n")
    assert membership(ctx, "amina@example.org").delivery == "none"  # type: ignore[union-attr]
    assert "Only the first 20 lines" in text_of(queued(ctx)[-1])


def test_reading_stops_at_a_hand_written_sign_off(ctx: Context, port: int) -> None:
    """ "Thanks," and the name, title and ministry below it are not commands: the answer
    reports the two commands done and nothing "not understood"."""
    add(ctx, "somchai@example.org")
    send(
        ctx,
        port,
        "Somchai P <somchai@example.org>",
        "digest\nformat rfc1153\n\nBest regards,\nSomchai P.\nDirector, Labour Relations\n"
        "Ministry of Labour, Bangkok\n",
    )
    joined = membership(ctx, "somchai@example.org")
    assert joined is not None and (joined.delivery, joined.digest_format) == ("digest", "rfc1153")
    assert "; 0 not understood" in (last_outcome(ctx).error or "")
    answer = text_of(queued(ctx, "command-reply", "somchai@example.org")[-1])
    assert "Ministry" not in answer and "regards" not in answer


def test_unknown_and_bad_commands_are_answered_clearly(ctx: Context, port: int) -> None:
    send(ctx, port, "stranger@example.org", "please add me to your list", subject="Hello")
    text = text_of(queued(ctx)[-1])
    assert "Not understood: > please add me to your list" in text
    assert "subscribe join (you will be asked to confirm)" in text  # the help follows
    assert status(ctx, "stranger@example.org") is None

    send(ctx, port, "stranger@example.org", "digest\nthemes skills\n")
    text = text_of(queued(ctx)[-1])
    assert text.count("You are not a member of IRNet, so nothing changed.") == 2
    assert status(ctx, "stranger@example.org") is None

    add(ctx, "amina@example.org", themes=["skills"])
    send(ctx, port, "amina@example.org", "themes skills nosuch\nunsubscribe not-an-address@\n")
    text = text_of(queued(ctx)[-1])
    assert "Unknown theme: nosuch; nothing changed." in text
    assert "'not-an-address@' is not an e-mail address; nothing was done." in text
    assert membership(ctx, "amina@example.org").themes == ["skills"]  # type: ignore[union-attr]
    assert status(ctx, "amina@example.org") == "active"

    send(ctx, port, "amina@example.org", "themes")
    reply = queued(ctx)[-1].get_body(("plain",))
    assert reply is not None
    lines = reply.get_content().splitlines()
    # One theme a line, its slug (to write) before its name.
    start = lines.index("Themes you can choose:")
    assert lines[start - 1] == "Your themes: skills."
    assert lines[start + 1].split() == ["green-jobs", "Green", "jobs"]
    assert lines[start + 2].startswith("  skills ")


def test_unsubscribe_is_confirmed_by_the_address_that_leaves(ctx: Context, port: int) -> None:
    add(ctx, "amina@example.org")
    add(ctx, "omar@example.org")
    send(ctx, port, "amina@example.org", "unsubscribe omar@example.org")
    assert status(ctx, "omar@example.org") == "active"
    assert "If omar@example.org is a member of IRNet, a confirmation has been sent" in text_of(
        queued(ctx, "command-reply", "amina@example.org")[-1]
    )
    [confirmation] = queued(ctx, "confirmation", "omar@example.org")
    assert "Someone asked that omar@example.org leave IRNet" in text_of(confirmation)

    # The same answer for an address that is not a member, and no mail to it.
    send(ctx, port, "amina@example.org", "unsubscribe nobody@example.org")
    assert queued(ctx, to="nobody@example.org") == []
    assert "If nobody@example.org is a member" in text_of(queued(ctx)[-1])

    send(ctx, port, "omar@example.org", "ok", rcpt=confirmation["Reply-To"])
    assert status(ctx, "omar@example.org") == "unsubscribed"
    assert "has left IRNet" in text_of(queued(ctx, "confirmation-reply", "omar@example.org")[-1])

    # From is not proof: leaving by command is confirmed by the address, like joining.
    send(ctx, port, "amina@example.org", "unsubscribe")
    assert status(ctx, "amina@example.org") == "active"
    assert "A confirmation has been sent to amina@example.org" in text_of(queued(ctx)[-1])
    [leave] = queued(ctx, "confirmation", "amina@example.org")
    assert "Someone asked that amina@example.org leave IRNet" in text_of(leave)
    send(ctx, port, "amina@example.org", "ok", rcpt=leave["Reply-To"])
    assert status(ctx, "amina@example.org") == "unsubscribed"
    assert "has left IRNet" in text_of(queued(ctx, "confirmation-reply", "amina@example.org")[-1])
    send(ctx, port, "amina@example.org", "digest")
    assert "You are not a member of IRNet" in text_of(queued(ctx)[-1])


@pytest.mark.parametrize(
    "line", ["unsubscribe me", "Leave IRNet", "unsubscribe please", "Please unsubscribe me."]
)
def test_unsubscribe_in_the_members_own_words_asks_them_to_confirm(
    ctx: Context, port: int, line: str
) -> None:
    add(ctx, "lan@example.org")
    send(ctx, port, "lan@example.org", line)
    assert "A confirmation has been sent to lan@example.org" in text_of(queued(ctx)[-1])
    [leave] = queued(ctx, "confirmation", "lan@example.org")
    send(ctx, port, "lan@example.org", "yes", rcpt=leave["Reply-To"])
    assert status(ctx, "lan@example.org") == "unsubscribed"


def test_commands_written_as_people_write_them(ctx: Context, port: int) -> None:
    """Capitals, a full stop, a comma and a "please" do not make a command unreadable."""
    add(ctx, "lan@example.org")
    send(ctx, port, "lan@example.org", "Digest, please.\nEvents off.\nFormat RFC1153.")
    reply = text_of(queued(ctx, "command-reply", "lan@example.org")[-1])
    assert "Not understood" not in reply
    # When the first digest comes, in the community's time (Mondays at 08:00 in Nairobi).
    assert "The next one goes out Monday 09 March 2026, 08:00 EAT" in reply
    found = membership(ctx, "lan@example.org")
    assert found is not None
    assert (found.delivery, found.event_reminders, found.digest_format) == (
        "digest",
        False,
        "rfc1153",
    )
    # A profile keeps its own words and punctuation.
    send(ctx, port, "lan@example.org", 'profile organisation="VGCL, Hanoi."')
    with ctx.session() as session:
        person = find_person(session, "lan@example.org")
        assert person is not None and person.organisation == "VGCL, Hanoi."


def test_delivery_modes_need_an_active_membership(ctx: Context, port: int) -> None:
    add(ctx, "amina@example.org")
    for command, delivery in [("digest", "digest"), ("nomail", "none"), ("each", "each")]:
        send(ctx, port, "amina@example.org", command)
        assert membership(ctx, "amina@example.org").delivery == delivery  # type: ignore[union-attr]
    send(ctx, port, "amina@example.org", "each")
    assert "Nothing to change: You will receive every post" in text_of(queued(ctx)[-1])
    add(ctx, "waiting@example.org", state="pending")
    send(ctx, port, "waiting@example.org", "digest")
    assert membership(ctx, "waiting@example.org").delivery == "each"  # type: ignore[union-attr]
    assert "please answer the confirmation mail first" in text_of(queued(ctx)[-1])


def test_a_banned_address_changes_nothing_and_gets_a_neutral_answer(
    ctx: Context, port: int
) -> None:
    add(ctx, "banned@example.org", state="banned")
    send(ctx, port, "banned@example.org", "subscribe\ndigest\nunsubscribe\nunsubscribe a@b.org")
    found = membership(ctx, "banned@example.org")
    assert (found.status, found.delivery) == ("banned", "each")  # type: ignore[union-attr]
    text = text_of(queued(ctx)[-1])
    assert text.count("This request cannot be carried out for your address.") == 4
    assert "banned" not in text
    assert queued(ctx, "confirmation") == []


def test_replies_to_one_address_stop_after_five_a_day(
    ctx: Context, port: int, clock: FrozenClock
) -> None:
    for _ in range(7):
        send(ctx, port, "loop@example.org", "Thank you for your message.")
    assert len(queued(ctx, "command-reply", "loop@example.org")) == 5
    assert "neither done nor answered" in (last_outcome(ctx).error or "")
    send(ctx, port, "other@example.org", "help")
    assert len(queued(ctx, "command-reply", "other@example.org")) == 1
    clock.advance(timedelta(days=1, seconds=1))
    send(ctx, port, "loop@example.org", "help")
    assert len(queued(ctx, "command-reply", "loop@example.org")) == 6


def test_auto_replies_and_bounces_are_never_answered(ctx: Context, port: int) -> None:
    send(ctx, port, "away@example.org", "back Monday", subject="Out of Office: subscribe")
    send(
        ctx,
        port,
        "bot@example.org",
        "subscribe",
        subject="subscribe",
        headers={"Auto-Submitted": "auto-replied"},
    )
    send(ctx, port, "MAILER-DAEMON@example.org", "Delivery failed", subject="Undeliverable: x")
    assert queued(ctx) == []
    assert status(ctx, "bot@example.org") is None


def test_bad_and_expired_confirmations_change_nothing(
    ctx: Context, port: int, clock: FrozenClock
) -> None:
    send(ctx, port, "late@example.org", "subscribe")
    confirmation = queued(ctx, "confirmation")[-1]
    clock.advance(timedelta(days=CONFIRM_DAYS, minutes=1))
    send(ctx, port, "late@example.org", "yes", rcpt=confirmation["Reply-To"])
    assert status(ctx, "late@example.org") == "pending"
    assert "Nothing was done: this link has expired." in text_of(queued(ctx)[-1])

    forged = confirmation["Reply-To"].replace("irnet+c-", "irnet+c-9")
    send(ctx, port, "late@example.org", "yes", rcpt=forged)
    assert status(ctx, "late@example.org") == "pending"
    assert "Nothing was done: this link is not valid" in text_of(queued(ctx)[-1])


def test_the_unsubscribe_address_leaves_at_once(ctx: Context, port: int) -> None:
    member = add(ctx, "amina@example.org")
    token = unsubscribe_token(ctx, member)
    send(
        ctx, port, "amina@example.org", "", subject="unsubscribe", rcpt=f"irnet+u-{token}@{DOMAIN}"
    )
    assert status(ctx, "amina@example.org") == "unsubscribed"
    [done] = queued(ctx, "unsubscribe-reply")
    assert "amina@example.org has left IRNet" in text_of(done)
    assert f'To come back, write "subscribe" to {REQUEST}' in text_of(done)

    other = add(ctx, "omar@example.org")
    bad = unsubscribe_token(ctx, other)[:-2] + "zz"
    send(ctx, port, "omar@example.org", "", rcpt=f"irnet+u-{bad}@{DOMAIN}")
    assert status(ctx, "omar@example.org") == "active"


def test_admin_cli_shares_the_rules(run_cli, ctx: Context) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("member", "subscribe", "New@Example.org", "--name", "New Person")
    assert result.exit_code == 0, result.output
    assert "confirmation sent to new@example.org" in result.output
    assert status(ctx, "new@example.org") == "pending"
    assert len(queued(ctx, "confirmation", "new@example.org")) == 1

    add(ctx, "amina@example.org")
    result = run_cli("member", "delivery", "amina@example.org", "digest")
    assert result.exit_code == 0 and "now receives digest" in result.output
    result = run_cli("member", "themes", "amina@example.org", "skills", "green-jobs")
    assert result.exit_code == 0 and "themes: green-jobs, skills" in result.output
    result = run_cli("member", "themes", "amina@example.org", "nosuch")
    assert result.exit_code == 2 and "unknown theme nosuch" in result.output
    assert "Traceback" not in result.output
    found = membership(ctx, "amina@example.org")
    assert (found.delivery, found.themes) == ("digest", ["green-jobs", "skills"])  # type: ignore[union-attr]

    result = run_cli("member", "unsubscribe", "amina@example.org", "--notify")
    assert result.exit_code == 0 and "unsubscribed amina@example.org" in result.output
    assert status(ctx, "amina@example.org") == "unsubscribed"
    assert "has left IRNet" in text_of(queued(ctx, "unsubscribe-notice")[-1])

    add(ctx, "banned@example.org", state="banned")
    result = run_cli("member", "subscribe", "banned@example.org")
    assert result.exit_code == 1 and "banned" in result.output
    result = run_cli("member", "delivery", "nobody@example.org", "each")
    assert result.exit_code == 1 and "not a member" in result.output
    assert queued(ctx, "confirmation", "banned@example.org") == []


def test_preferences_and_profile_by_mail(ctx: Context, port: int) -> None:
    """What a member can choose by mail: digest format, themes only, event reminders and the
    profile that participation figures count."""
    add(ctx, "amina@example.org", delivery="digest")
    add(ctx, "bob@example.org")
    send(ctx, port, "amina@example.org", "format rfc1153\nevents off\nthemes only skills")
    reply = text_of(queued(ctx, "command-reply", "amina@example.org")[-1])
    assert "> format rfc1153 Your digests come as one plain text (RFC 1153)." in reply
    assert "You receive no digests now" not in reply  # Amina takes digests
    assert "> events off You will get no event reminders." in reply
    assert "only posts tagged with your themes: skills" in reply
    joined = membership(ctx, "amina@example.org")
    assert joined is not None
    assert (joined.digest_format, joined.event_reminders, joined.only_my_themes) == (
        "rfc1153",
        False,
        True,
    )
    assert joined.themes == ["skills"]
    # Bob gets each post: the format is kept, and he is told it changes nothing yet.
    send(ctx, port, "bob@example.org", "format rfc1153")
    told = text_of(queued(ctx, "command-reply", "bob@example.org")[-1])
    assert 'You receive no digests now: write "digest" to get them instead.' in told

    send(
        ctx,
        port,
        "amina@example.org",
        'profile affiliation=workers country=th organisation="Thai Labour Congress"\n'
        "themes all\nformat mime\nevents on",
    )
    reply = text_of(queued(ctx, "command-reply", "amina@example.org")[-1])
    assert "profile: affiliation workers country TH organisation Thai Labour Congress" in reply
    send(ctx, port, "bob@example.org", "profile")  # a member who never gave one
    reply = text_of(queued(ctx, "command-reply", "bob@example.org")[-1])
    assert "Your profile: affiliation other country not given organisation not given" in reply
    with ctx.session() as session:
        person = find_person(session, "amina@example.org")
        assert person is not None
        assert (person.affiliation, person.country, person.organisation) == (
            "workers",
            "TH",
            "Thai Labour Congress",
        )
    joined = membership(ctx, "amina@example.org")
    assert joined is not None
    assert (joined.digest_format, joined.event_reminders, joined.only_my_themes) == (
        "mime",
        True,
        False,
    )

    # "themes only none" clears the themes, and says what that means for digests.
    send(ctx, port, "amina@example.org", "themes only none")
    reply = text_of(queued(ctx, "command-reply", "amina@example.org")[-1])
    assert "You have no themes now, so your digests have every post." in reply
    assert "your themes: ." not in reply

    send(ctx, port, "amina@example.org", "profile affiliation=union\nformat pdf\nevents maybe")
    reply = text_of(queued(ctx, "command-reply", "amina@example.org")[-1])
    assert "affiliation 'union': expected one of government, workers" in reply
    assert 'Write "format mime"' in reply and 'Write "events on" or "events off"' in reply
    with ctx.session() as session:
        assert find_person(session, "amina@example.org").affiliation == "workers"  # type: ignore[union-attr]

    # Not a member: nothing changes, and the answer says how to join.
    send(ctx, port, "someone@example.org", "profile country=VN")
    assert "You are not a member of IRNet" in text_of(queued(ctx)[-1])


def test_the_welcome_mail_explains_profile_and_preferences(ctx: Context, port: int) -> None:
    send(ctx, port, "nadia@example.org", "subscribe")
    [confirmation] = queued(ctx, "confirmation", "nadia@example.org")
    send(ctx, port, "nadia@example.org", "yes", rcpt=confirmation["Reply-To"])
    welcome = text_of(queued(ctx, "confirmation-reply", "nadia@example.org")[-1])
    for words in ("profile affiliation=workers country=TH", "themes only", "format rfc1153"):
        assert words in welcome, words


@pytest.mark.parametrize(
    ("delivery", "said", "not_said"),
    [
        ("digest", "You receive a digest of the posts", "You receive every post"),
        ("none", "You receive no posts for now", "You receive every post"),
    ],
)
def test_a_returning_member_is_welcomed_with_the_delivery_they_kept(
    ctx: Context, port: int, delivery: str, said: str, not_said: str
) -> None:
    add(ctx, "lan@example.org", "unsubscribed", delivery=delivery)
    send(ctx, port, "lan@example.org", "subscribe")
    [confirmation] = queued(ctx, "confirmation", "lan@example.org")
    send(ctx, port, "lan@example.org", "yes", rcpt=confirmation["Reply-To"])
    assert status(ctx, "lan@example.org") == "active"
    found = membership(ctx, "lan@example.org")
    assert found is not None and found.delivery == delivery
    welcome = text_of(queued(ctx, "confirmation-reply", "lan@example.org")[-1])
    assert said in welcome and not_said not in welcome


def test_a_first_digest_holds_only_what_came_after_choosing_it(
    ctx: Context, port: int, clock: FrozenClock
) -> None:
    """Lan took each post and turns to digests; Tran, a digest reader, left and comes back.
    Neither gets again, or all at once, what was approved before: only what came after."""
    with ctx.session() as session:
        irnet = session.exec(select(Community)).one()
        irnet.moderation = "none"
        session.add(irnet)
    add(ctx, "amina@example.org")
    add(ctx, "lan@example.org", delivery="each")
    add(ctx, "tran@example.org", "unsubscribed", delivery="digest")
    clock.advance(timedelta(hours=1))
    send(ctx, port, "amina@example.org", "Unions sit on the wage board.",
         subject="Before the switch", rcpt=f"irnet@{DOMAIN}")  # fmt: skip
    assert len(queued(ctx, "post", "lan@example.org")) == 1
    clock.advance(timedelta(hours=1))
    send(ctx, port, "lan@example.org", "digest")
    send(ctx, port, "tran@example.org", "subscribe")
    [confirmation] = queued(ctx, "confirmation", "tran@example.org")
    send(ctx, port, "tran@example.org", "yes", rcpt=confirmation["Reply-To"])
    assert status(ctx, "tran@example.org") == "active"
    clock.advance(timedelta(hours=1))
    send(ctx, port, "amina@example.org", "The board meets in May.",
         subject="After the switch", rcpt=f"irnet@{DOMAIN}")  # fmt: skip
    clock.set(datetime(2026, 3, 9, 5, 1, tzinfo=UTC))  # irnet's next digest
    assert run_due(ctx).failed == []
    for reader in ("lan@example.org", "tran@example.org"):
        [digest] = queued(ctx, "digest", reader)
        assert "After the switch" in text_of(digest)
        assert "Before the switch" not in text_of(digest), reader


def test_preferences_by_the_cli_and_csv(run_cli: Callable[..., Any], tmp_path: Path) -> None:
    result = run_cli(
        "member", "add", "wei@example.org", "-c", "irnet", "--digest-format", "rfc1153",
        "--only-my-themes", "--no-event-reminders", "--theme", "skills",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    shown = json.loads(run_cli("member", "show", "wei@example.org", "--json").output)[0]
    assert (shown["digest_format"], shown["only_my_themes"], shown["event_reminders"]) == (
        "rfc1153",
        True,
        False,
    )
    result = run_cli("member", "update", "wei@example.org", "-c", "irnet", "--all-themes")
    assert result.exit_code == 0, result.output
    shown = json.loads(run_cli("member", "show", "wei@example.org", "--json").output)[0]
    assert shown["only_my_themes"] is False and shown["digest_format"] == "rfc1153"
    bad = run_cli("member", "update", "wei@example.org", "-c", "irnet", "--digest-format", "pdf")
    assert bad.exit_code == 2 and "--digest-format 'pdf'" in bad.output

    table = tmp_path / "members.csv"
    table.write_text(
        "email,digest_format,only_my_themes,event_reminders\n"
        "lan@example.org,rfc1153,yes,no\n"
        "bad@example.org,pdf,yes,no\n"
    )
    result = run_cli("member", "import", str(table), "--community", "irnet")
    assert result.exit_code == 1 and "members.csv:3: digest_format 'pdf'" in result.output
    shown = json.loads(run_cli("member", "show", "lan@example.org", "--json").output)[0]
    assert (shown["digest_format"], shown["only_my_themes"], shown["event_reminders"]) == (
        "rfc1153",
        True,
        False,
    )
