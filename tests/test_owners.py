"""`<list>-owner@` and `postmaster@`: mailed over real SMTP, forwarded to the people who run
the community or the instance, never in a loop and never to the null sender's bounces."""

from __future__ import annotations

import smtplib
from email import policy
from email.message import EmailMessage

import pytest
from conftest import corpus, derive
from mailtools import body, outbox
from smtp_server import running_listener
from sqlmodel import col, select

from mailhub.communities import get_community
from mailhub.context import Context
from mailhub.inbound import pipeline
from mailhub.members import MemberFields, add_member
from mailhub.models import InboundMessage, Post
from mailhub.moderation import actions

OWNER = "irnet-owner@lists.example.org"
POSTMASTER = "postmaster@lists.example.org"
MARIA, ADAM, AMINA = "maria@ministry.example.org", "adam@example.org", "amina@example.org"
LISTMASTER = "listmaster@example.org"


@pytest.fixture
def live(ctx: Context) -> Context:
    """irnet with a moderator, an admin and a member; an instance admin address."""
    live = derive(ctx, instance={"admin_email": LISTMASTER})
    with live.session() as session:
        irnet = get_community(session, "irnet")
        for address, name, role in (
            (MARIA, "Maria Mod", "moderator"),
            (ADAM, "Adam Admin", "admin"),
            (AMINA, "Amina K", "member"),
        ):
            add_member(
                session, irnet, MemberFields(email=address, name=name, role=role), live.now()
            )
    return live


def mail(sender: str, to: str, msgid: str, subject: str = "Why was my post refused?") -> bytes:
    message = EmailMessage()
    message["From"] = f"Someone <{sender}>"
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = msgid
    message.set_content("My post about platform work was refused. Can a person explain?\n")
    return message.as_bytes(policy=policy.SMTP)


def deliver(ctx: Context, sender: str, rcpt: str, raw: bytes) -> list[tuple[str | None, str]]:
    """Send over SMTP to our listener, process, and return (class, reason) of each row."""
    with running_listener(ctx) as port, smtplib.SMTP("127.0.0.1", port) as client:
        assert client.sendmail(sender, [rcpt], raw) == {}
    batch = pipeline.drain(ctx)
    return [(o.msg_class, o.reason) for o in batch.outcomes.values()]


def forwards(ctx: Context) -> list[tuple[str, EmailMessage]]:
    return [(row.recipient, message) for row, message in outbox(ctx, "owner-forward")]


def test_owner_mail_reaches_moderators_and_admins_with_the_writer_as_reply_to(
    live: Context,
) -> None:
    outcomes = deliver(live, AMINA, OWNER, mail(AMINA, OWNER, "<q1@example.org>"))
    assert outcomes == [("owner", f"forwarded to {MARIA}, {ADAM}")]
    sent = forwards(live)
    assert [to for to, _ in sent] == [MARIA, ADAM]
    for _, message in sent:
        assert message["From"].addresses[0].addr_spec == OWNER
        assert message["From"].addresses[0].display_name == "Someone via IRNet"
        assert message["Reply-To"].addresses[0].addr_spec == AMINA
        assert message["Subject"] == "To the owners of IRNet: Why was my post refused?"
        assert message["X-Loop"] == "mailhub@lists.example.org"
        assert message["Auto-Submitted"] == "auto-generated"
        text = body(message)
        assert f"Someone <{AMINA}> wrote to {OWNER}" in text
        assert "Can a person explain?" in text
        assert f"goes to {AMINA}" in text
    # The same message again (a retry by the sending server): nothing new is queued.
    deliver(live, AMINA, OWNER, mail(AMINA, OWNER, "<q1@example.org>"))
    assert len(forwards(live)) == 2


def test_a_moderator_writing_to_owner_reaches_the_others_only(live: Context) -> None:
    deliver(live, MARIA, OWNER, mail(MARIA, OWNER, "<q2@example.org>"))
    assert [to for to, _ in forwards(live)] == [ADAM]


def test_postmaster_in_any_case_and_without_domain_reaches_the_instance_admins(
    live: Context,
) -> None:
    with running_listener(live) as port, smtplib.SMTP("127.0.0.1", port) as client:
        client.ehlo()
        client.mail("someone@example.net")
        for address in ("PostMaster@Lists.Example.ORG", "Postmaster", POSTMASTER):
            assert client.rcpt(address)[0] == 250, address
        client.rset()
        raw = mail("someone@example.net", POSTMASTER, "<pm1@example.net>", "Your server")
        assert client.sendmail("someone@example.net", ["Postmaster"], raw) == {}
    (outcome,) = pipeline.drain(live).outcomes.values()
    assert (outcome.msg_class, outcome.community_id) == ("postmaster", None)
    sent = forwards(live)
    assert sorted(to for to, _ in sent) == [ADAM, LISTMASTER]
    row, message = outbox(live, "owner-forward")[0]
    assert row.envelope_from == POSTMASTER and row.community_id is None
    assert message["From"].addresses[0].addr_spec == POSTMASTER
    assert message["Reply-To"].addresses[0].addr_spec == "someone@example.net"
    assert message["List-Id"] is None
    assert "Your server" in message["Subject"]


def test_null_sender_bounces_auto_replies_and_our_own_mail_are_never_forwarded(
    live: Context,
) -> None:
    # A message from the null sender, a real bounce, an auto-reply: none forwarded (the null
    # sender is machine mail to the classifier already, before any route).
    assert deliver(live, "", OWNER, mail(AMINA, OWNER, "<n1@example.org>")) == [
        ("auto_reply", "null envelope sender (MAIL FROM:<>, RFC 5321)")
    ]
    assert not outbox(live, "owner-forward")
    dsn = corpus("sisimai-bounces", "bounces", "lhost-postfix-04.eml").read_bytes()
    dsn = dsn.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    ((kind, _),) = deliver(live, "", POSTMASTER, dsn)
    assert kind == "bounce"
    auto = mail(AMINA, OWNER, "<ooo@example.org>", "Out of office").replace(
        b"Subject:", b"Auto-Submitted: auto-replied\r\nSubject:"
    )
    assert deliver(live, AMINA, OWNER, auto)[0][0] == "auto_reply"
    assert forwards(live) == []
    # A forward that comes back (an owner's mailbox sends it on to -owner@): our loop marker.
    deliver(live, AMINA, OWNER, mail(AMINA, OWNER, "<q3@example.org>"))
    (row, _), *_ = outbox(live, "owner-forward")
    assert deliver(live, MARIA, OWNER, row.raw)[0][0] == "loop"
    # Mail that claims to come from one of our own addresses.
    ours = mail("irnet-request@lists.example.org", OWNER, "<q4@example.org>")
    assert deliver(live, "irnet-request@lists.example.org", OWNER, ours) == [
        ("owner", "not forwarded: from one of our own addresses")
    ]
    assert len(forwards(live)) == 2  # only q3, to Maria and Adam


def test_with_nobody_to_read_it_the_mail_waits_in_quarantine(ctx: Context) -> None:
    """No moderator, no admin, no instance.admin_email: quarantined, never dropped."""
    deliver(ctx, AMINA, OWNER, mail(AMINA, OWNER, "<lost@example.org>"))
    with ctx.session() as session:
        row = session.exec(select(InboundMessage).order_by(col(InboundMessage.id))).one()
    assert row.state == "quarantined" and "nobody to forward it to" in (row.error or "")
    assert forwards(ctx) == []


def test_a_reply_to_a_rejection_reaches_the_moderators(live: Context) -> None:
    """Close the loop: a post is rejected by a moderator's reply, the poster replies to the
    notice with a question, and the moderators get it, with the poster to answer."""
    post = mail(AMINA, "irnet@lists.example.org", "<p1@example.org>", "Platform work")
    deliver(live, AMINA, "irnet@lists.example.org", post)
    (_, notification), *_ = outbox(live, "held", MARIA)
    decision = EmailMessage()
    decision["From"], decision["To"] = MARIA, notification["Reply-To"]
    decision["Subject"], decision["Message-ID"] = "Re: held", "<d1@example.org>"
    decision.set_content("reject off topic here\n")
    deliver(live, MARIA, str(notification["Reply-To"]), decision.as_bytes(policy=policy.SMTP))
    ((_, rejection),) = outbox(live, "rejected", AMINA)
    owner = rejection["Reply-To"].addresses[0].addr_spec
    assert owner == OWNER and OWNER in body(rejection)
    question = mail(AMINA, owner, "<p2@example.org>", f"Re: {rejection['Subject']}")
    assert deliver(live, AMINA, owner, question)[0][0] == "owner"
    assert [to for to, _ in forwards(live)] == [MARIA, ADAM]


def test_not_understood_commands_name_the_owner_address(live: Context) -> None:
    question = mail(AMINA, "irnet-request@lists.example.org", "<c1@example.org>", "Hello")
    deliver(live, AMINA, "irnet-request@lists.example.org", question)
    ((_, reply),) = outbox(live, "command-reply", AMINA)
    assert "Not understood" in body(reply) and OWNER in body(reply)


def test_the_list_owner_header_of_a_delivered_post_reaches_the_moderators(live: Context) -> None:
    post = mail(AMINA, "irnet@lists.example.org", "<p3@example.org>", "Platform work")
    deliver(live, AMINA, "irnet@lists.example.org", post)
    with live.session() as session:
        held = session.exec(select(Post)).one()
        actions.decide(live, session, held, "approve", by=None, via="cli")
    ((_, delivered),) = outbox(live, "post", AMINA)
    owner = str(delivered["List-Owner"]).strip("<>").removeprefix("mailto:")
    assert owner == OWNER
    question = mail(AMINA, owner, "<p4@example.org>", "About the list")
    assert deliver(live, AMINA, owner, question)[0][0] == "owner"
    assert [to for to, _ in forwards(live)] == [MARIA, ADAM]


def test_an_answer_goes_where_the_writer_asked_but_never_to_the_list(live: Context) -> None:
    asked = mail(AMINA, OWNER, "<r1@example.org>").replace(
        b"Subject:", b"Reply-To: Amina at work <amina@work.example.org>\r\nSubject:"
    )
    deliver(live, AMINA, OWNER, asked)
    the_list = mail(AMINA, OWNER, "<r2@example.org>").replace(
        b"Subject:", b"Reply-To: irnet@lists.example.org\r\nSubject:"
    )
    deliver(live, AMINA, OWNER, the_list)
    answers = [m["Reply-To"].addresses[0].addr_spec for to, m in forwards(live) if to == MARIA]
    assert answers == ["amina@work.example.org", AMINA]
