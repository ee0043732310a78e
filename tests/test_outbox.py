"""The outbox: idempotent enqueue, leases, reclaiming after a crash, on both databases."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from mailhub.context import Context
from mailhub.models import OutboundMessage
from mailhub.outbound import outbox
from mailhub.outbound.outbox import Outgoing

LEASE = timedelta(minutes=5)


def mail(key: str, to: str = "a@example.org") -> Outgoing:
    raw = f"From: irnet@lists.example.org\r\nTo: {to}\r\nSubject: {key}\r\n\r\nHello\r\n".encode()
    return Outgoing(
        dedup_key=key, kind="post", recipient=to, envelope_from="irnet@lists.example.org", raw=raw
    )


def test_enqueue_is_idempotent(ctx: Context) -> None:
    with ctx.session() as session:
        assert outbox.enqueue(session, mail("post:1:member:1"), ctx.now()) is True
        assert outbox.enqueue(session, mail("post:1:member:1"), ctx.now()) is False
    with ctx.session() as session:
        added = outbox.enqueue_many(
            session,
            [mail("post:1:member:1"), mail("post:1:member:2"), mail("post:1:member:3")],
            ctx.now(),
        )
        assert added == 2
        keys = session.exec(select(OutboundMessage.dedup_key).order_by(OutboundMessage.id)).all()
    assert keys == ["post:1:member:1", "post:1:member:2", "post:1:member:3"]


def test_claimed_rows_are_not_claimed_twice_until_the_lease_expires(ctx: Context) -> None:
    with ctx.session() as session:
        outbox.enqueue_many(session, [mail(f"k{i}") for i in range(5)], ctx.now())
    now = ctx.now()
    with ctx.engine.begin() as connection:
        first = outbox.claim_due(connection, now, LEASE, limit=3)
    with ctx.engine.begin() as connection:
        second = outbox.claim_due(connection, now, LEASE, limit=10)
    assert len(first) == 3 and len(second) == 2
    assert not {c.id for c in first} & {c.id for c in second}
    with ctx.engine.begin() as connection:
        assert outbox.claim_due(connection, now + timedelta(minutes=4), LEASE, limit=10) == []
    # The sender that held `first` died without recording anything: after the lease they return.
    with ctx.engine.begin() as connection:
        outbox.mark_sent(connection, second, now)
        again = outbox.claim_due(connection, now + LEASE + timedelta(seconds=1), LEASE, limit=10)
    assert sorted(c.id for c in again) == sorted(c.id for c in first)
    assert all(c.attempts == 2 for c in again)


def test_retry_waits_until_due_and_requeue_brings_failed_back(ctx: Context) -> None:
    with ctx.session() as session:
        outbox.enqueue_many(session, [mail("a"), mail("b")], ctx.now())
    now = ctx.now()
    with ctx.engine.begin() as connection:
        a, b = outbox.claim_due(connection, now, LEASE, limit=10)
        outbox.mark_retry(connection, a, "451 later", now + timedelta(minutes=10))
        outbox.mark_failed(connection, b, "550 no such user")
    with ctx.engine.begin() as connection:
        assert outbox.claim_due(connection, now + timedelta(minutes=9), LEASE, 10) == []
        assert [
            c.id for c in outbox.claim_due(connection, now + timedelta(minutes=10), LEASE, 10)
        ] == [a.id]
    with ctx.session() as session:
        assert outbox.counts(session) == {"sending": 1, "failed": 1}
        # Named by id, the row a sender holds keeps its lease: freed, a second sender
        # could claim and send it while the first one still does.
        assert outbox.requeue(session, [a.id], now) == 0
        held = session.get(OutboundMessage, a.id)
        assert held is not None and held.state == "sending" and held.lease_until is not None
        assert outbox.requeue(session, None, now) == 1
        row = session.get(OutboundMessage, b.id)
        assert row is not None and row.state == "queued"
