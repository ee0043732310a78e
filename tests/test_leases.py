"""Leases are settings: the rows of a dead sender or worker come back after the configured
lease and not before; a live sender whose batch outlasts its lease keeps it; a holder that
lost its rows writes nothing over the new holder's work."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import timedelta

from conftest import derive
from smtp_sink import smtp_sink
from test_outbox import mail
from test_pipeline import post_bytes, rows, spool_raw
from test_sender import smtp_context, states

from mailhub import config
from mailhub.clock import Clock, FrozenClock
from mailhub.context import Context
from mailhub.inbound import pipeline, spool
from mailhub.outbound import outbox
from mailhub.outbound.sender import Sender


def test_defaults_bring_a_dead_holders_rows_back_within_a_minute() -> None:
    settings = config.from_mapping({})
    assert settings.outbound.lease_seconds <= 60
    assert settings.inbound.lease_seconds <= 60


def test_a_dead_senders_rows_are_sent_after_the_configured_lease_not_before(
    ctx: Context, clock: FrozenClock
) -> None:
    with ctx.session() as session:
        outbox.enqueue_many(
            session, [mail(f"d{i}", f"d{i}@example.org") for i in range(3)], ctx.now()
        )
    with smtp_sink() as (handler, port):
        live = smtp_context(ctx, port, lease_seconds=20)
        # A sender claims the rows with its lease, then dies before sending anything.
        with ctx.engine.begin() as connection:
            outbox.claim_due(connection, ctx.now(), timedelta(seconds=20), 10)
        sender = Sender(live)
        try:
            clock.advance(timedelta(seconds=19))
            assert sender.drain().handled == 0
            clock.advance(timedelta(seconds=2))
            assert sender.drain().sent == 3
        finally:
            sender.close()
    assert sorted(r for m in handler.received for r in m.rcpt_tos) == [
        "d0@example.org",
        "d1@example.org",
        "d2@example.org",
    ]
    assert {state for state, _, _ in states(ctx).values()} == {"sent"}


def test_a_dead_workers_rows_are_processed_after_the_configured_lease_not_before(
    ctx: Context, clock: FrozenClock
) -> None:
    worker = derive(ctx, inbound={"lease_seconds": 10})
    spool_raw(worker, post_bytes("<lease@example.org>"))
    with worker.engine.begin() as connection:
        assert len(spool.claim(connection, worker.now(), pipeline.lease_of(worker), 10)) == 1
    clock.advance(timedelta(seconds=9))
    assert pipeline.drain(worker).outcomes == {}
    clock.advance(timedelta(seconds=2))
    assert pipeline.drain(worker).count("post") == 1


def test_a_live_sender_keeps_a_batch_that_outlasts_its_lease(ctx: Context) -> None:
    """A relay taking 0.3 s per message and a 0.6 s lease: the first sender's batch of four
    lasts twice its lease, and a second sender polling all along never gets a row of it."""
    with ctx.session() as session:
        outbox.enqueue_many(
            session, [mail(f"s{i}", f"s{i}@example.org") for i in range(4)], ctx.now()
        )
    with smtp_sink(delay=0.3) as (handler, port):
        relay = {"host": "127.0.0.1", "port": port, "connections": 1, "timeout_seconds": 5}
        outbound = {"mode": "smtp", "relay": relay, "lease_seconds": 0.6}
        settings = derive(ctx, outbound=outbound).settings
        first = Sender(Context(settings, ctx.engine, Clock()))
        second = Sender(Context(settings, ctx.engine, Clock()))
        sending = threading.Thread(target=first.drain)
        try:
            sending.start()
            while "sending" not in {state for state, _, _ in states(ctx).values()}:
                time.sleep(0.01)
            taken = 0
            while sending.is_alive():
                taken += second.send_batch().handled
                time.sleep(0.05)
            sending.join()
        finally:
            first.close()
            second.close()
    assert taken == 0
    counts = Counter(r for m in handler.received for r in m.rcpt_tos)
    assert counts == {f"s{i}@example.org": 1 for i in range(4)}


def test_a_holder_that_lost_its_rows_writes_nothing_over_the_new_holder(
    ctx: Context, clock: FrozenClock
) -> None:
    with ctx.session() as session:
        outbox.enqueue(session, mail("lost", "lost@example.org"), ctx.now())
    lease = timedelta(seconds=60)
    with ctx.engine.begin() as connection:
        (stalled,) = outbox.claim_due(connection, ctx.now(), lease, 10)
    clock.advance(lease + timedelta(seconds=1))
    with ctx.engine.begin() as connection:
        (taken,) = outbox.claim_due(connection, ctx.now(), lease, 10)
        # The stalled sender wakes up: its renewal finds nothing, its outcome changes nothing.
        assert outbox.renew(connection, [stalled], ctx.now() + lease) == set()
        outbox.mark_retry(connection, stalled, "451 later", ctx.now())
        assert outbox.renew(connection, [taken], ctx.now() + lease) == {taken.id}
        outbox.mark_sent(connection, [taken], ctx.now())
    assert states(ctx)["lost@example.org"][:2] == ("sent", 2)

    spool_raw(ctx, post_bytes("<taken@example.org>"))
    with ctx.engine.begin() as connection:
        (stalled_row,) = spool.claim(connection, ctx.now(), lease, 10)
    clock.advance(lease + timedelta(seconds=1))
    assert pipeline.drain(ctx).count("post") == 1
    with ctx.engine.begin() as connection:
        assert spool.renew(connection, [stalled_row], ctx.now() + lease) == set()
    assert rows(ctx)[0].state == "done"
