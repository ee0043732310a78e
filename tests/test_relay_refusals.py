"""The sender against a relay that refuses or hangs up: a 5xx at RCPT or DATA is a hard
bounce of that member (the relay sends no bounce of its own), a 5xx to our MAIL FROM is not,
and a connection the relay closed while idle is noticed before a message is lost in it."""

from __future__ import annotations

import time

from conftest import derive
from smtp_sink import smtp_sink
from sqlmodel import select

from mailhub.communities import get_community
from mailhub.context import Context
from mailhub.members import MemberFields, add_member
from mailhub.models import OutboundMessage, Person
from mailhub.outbound import outbox
from mailhub.outbound.outbox import Outgoing
from mailhub.outbound.sender import Sender

MEMBERS = ["ok@example.org", "gone@example.org", "spam@example.org"]


def smtp_context(ctx: Context, port: int) -> Context:
    relay = {"host": "127.0.0.1", "port": port, "connections": 1, "timeout_seconds": 5}
    return derive(ctx, outbound={"mode": "smtp", "relay": relay})


def queue_to_members(ctx: Context, key: str) -> None:
    """One copy to each member, as a post's fan-out queues it (community and person set)."""
    with ctx.session() as session:
        community = get_community(session, "irnet")
        copies = []
        for address in MEMBERS:
            person = session.exec(select(Person).where(Person.email == address)).first()
            if person is None:
                person, _ = add_member(session, community, MemberFields(email=address), ctx.now())
            raw = f"From: irnet@lists.example.org\r\nTo: {address}\r\nSubject: {key}\r\n\r\nHi\r\n"
            copies.append(
                Outgoing(
                    dedup_key=f"{key}:{address}",
                    kind="post",
                    recipient=address,
                    envelope_from="irnet@lists.example.org",
                    raw=raw.encode(),
                    community_id=community.id,
                    person_id=person.id,
                )
            )
        outbox.enqueue_many(session, copies, ctx.now())


def scores(ctx: Context) -> dict[str, float]:
    with ctx.session() as session:
        return dict(session.exec(select(Person.email, Person.bounce_score)).all())  # type: ignore[arg-type]


def test_5xx_at_rcpt_or_data_is_a_hard_bounce_of_that_member(ctx: Context) -> None:
    queue_to_members(ctx, "m1")
    with smtp_sink(
        answers={"gone@example.org": "550 5.1.1 no such user"},
        data_answers={"spam@example.org": "554 5.7.1 message refused"},
    ) as (handler, port):
        sender = Sender(smtp_context(ctx, port))
        try:
            report = sender.drain()
        finally:
            sender.close()
    assert (report.sent, report.failed) == (1, 2)
    hard = ctx.settings.delivery.hard_bounce_score
    assert scores(ctx) == {
        "ok@example.org": 0.0,
        "gone@example.org": hard,
        "spam@example.org": hard,
    }
    assert [r.rcpt_tos for r in handler.received] == [["ok@example.org"]]
    with ctx.session() as session:
        failed = session.exec(
            select(OutboundMessage.recipient, OutboundMessage.last_error).where(
                OutboundMessage.state == "failed"
            )
        ).all()
    assert dict(failed) == {
        "gone@example.org": "550 5.1.1 no such user",
        "spam@example.org": "554 5.7.1 message refused",
    }


def test_a_refused_sender_is_nobodys_bounce(ctx: Context) -> None:
    """A relay that refuses our MAIL FROM refuses us, not the member."""
    queue_to_members(ctx, "m2")
    refuse = {"irnet@lists.example.org": "553 5.7.1 sender not allowed"}
    with smtp_sink(mail_answers=refuse) as (_handler, port):
        sender = Sender(smtp_context(ctx, port))
        try:
            report = sender.drain()
        finally:
            sender.close()
    assert report.failed == 3
    assert set(scores(ctx).values()) == {0.0}


def test_connection_the_relay_closed_while_idle_costs_no_retry(ctx: Context) -> None:
    with smtp_sink(idle_timeout=0.3) as (handler, port):
        sender = Sender(smtp_context(ctx, port))
        try:
            with ctx.session() as session:
                outbox.enqueue(session, mail_to("first@example.org"), ctx.now())
            assert sender.drain().sent == 1
            # The relay hangs up on the idle connection; the next message must not notice.
            time.sleep(0.8)
            with ctx.session() as session:
                outbox.enqueue(session, mail_to("second@example.org"), ctx.now())
            report = sender.drain()
        finally:
            sender.close()
    assert (report.sent, report.retried, report.errors) == (1, 0, [])
    assert [r.rcpt_tos for r in handler.received] == [["first@example.org"], ["second@example.org"]]


def mail_to(address: str) -> Outgoing:
    raw = f"From: irnet@lists.example.org\r\nTo: {address}\r\nSubject: idle\r\n\r\nHi\r\n"
    return Outgoing(
        dedup_key=address,
        kind="post",
        recipient=address,
        envelope_from="irnet@lists.example.org",
        raw=raw.encode(),
    )
