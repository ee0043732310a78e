"""The next batch claimed and DKIM-signed while the current one is sent (outbound/batches.py),
against a real SMTP server: every copy arrives once and verifies; a copy of a batch signed
ahead that cannot be signed fails alone; a batch claimed ahead is given back when the
sender closes, and left alone once another sender has taken its rows; with the store down
when it is checked or given back, its rows go out once after their lease."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import dkim
import pytest
from conftest import derive
from smtp_sink import SinkHandler, smtp_sink
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlmodel import select
from test_outbox import mail

from mailhub.clock import FrozenClock
from mailhub.context import Context
from mailhub.models import OutboundMessage
from mailhub.outbound import outbox
from mailhub.outbound.dkim_keys import generate
from mailhub.outbound.outbox import Outgoing
from mailhub.outbound.sender import Sender

BATCH = 10
LEASE = 60.0


@pytest.fixture(scope="module")
def rsa_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    """An RSA key as `mailhub dkim keygen` makes it, and its DNS TXT record."""
    made = generate(tmp_path_factory.mktemp("dkim"), {"rsa": "ahead"})[0]
    return made.path, made.txt.encode()


def signing_context(ctx: Context, port: int, key: Path) -> Context:
    """Sends through the sink in batches of BATCH, signing in one worker process."""
    relay = {"host": "127.0.0.1", "port": port, "connections": 2, "timeout_seconds": 5}
    return derive(
        ctx,
        outbound={"mode": "smtp", "relay": relay, "batch_size": BATCH, "lease_seconds": LEASE},
        dkim={"private_key": str(key), "selector": "ahead", "sign_processes": 1},
        instance={"domain": "lists.example.org"},
    )


def queue(ctx: Context, count: int, extra: list[Outgoing] | None = None) -> None:
    with ctx.session() as session:
        mails = [mail(f"k{n:03}", f"m{n:03}@example.org") for n in range(count)]
        outbox.enqueue_many(session, [*mails, *(extra or [])], ctx.now())


def rows(ctx: Context) -> dict[str, tuple[str, int, str | None]]:
    with ctx.session() as session:
        found = session.exec(select(OutboundMessage)).all()
        return {r.recipient: (r.state, r.attempts, r.last_error) for r in found}


def states(ctx: Context) -> Counter[str]:
    return Counter(state for state, _attempts, _error in rows(ctx).values())


def dns(record: bytes) -> Callable[..., bytes | None]:
    def lookup(name: bytes, timeout: int = 5) -> bytes | None:
        return record if name == b"ahead._domainkey.lists.example.org." else None

    return lookup


@contextmanager
def store_down(monkeypatch: pytest.MonkeyPatch, engine: Engine) -> Iterator[None]:
    """Every new connection to the store is refused, as when the database is unreachable."""

    def refuse() -> None:
        raise OperationalError("connect", {}, ConnectionRefusedError("the store is down"))

    with monkeypatch.context() as patch:
        patch.setattr(engine, "connect", refuse)
        yield


def arrivals(handler: SinkHandler) -> Counter[str]:
    return Counter(to for received in list(handler.received) for to in received.rcpt_tos)


def test_the_next_batch_is_claimed_while_one_is_sent_and_every_copy_verifies(
    ctx: Context, rsa_key: tuple[Path, bytes]
) -> None:
    key, record = rsa_key
    queue(ctx, 3 * BATCH + 5)
    with smtp_sink() as (handler, port):
        sender = Sender(signing_context(ctx, port, key))
        try:
            assert sender.send_batch().sent == BATCH
            # The second batch is held (and being signed) before anything of it is sent.
            assert states(ctx) == {"sent": BATCH, "sending": BATCH, "queued": BATCH + 5}
            assert len(handler.received) == BATCH
            assert sender.drain().sent == 2 * BATCH + 5
        finally:
            sender.close()
    assert states(ctx) == {"sent": 3 * BATCH + 5}
    assert set(arrivals(handler).values()) == {1} and len(arrivals(handler)) == 3 * BATCH + 5
    # Each row was claimed once: a batch claimed ahead is not claimed again.
    assert {attempts for _state, attempts, _error in rows(ctx).values()} == {1}
    lookup = dns(record)
    assert all(dkim.verify(received.content, dnsfunc=lookup) for received in handler.received)


def test_a_copy_that_cannot_be_signed_in_a_batch_signed_ahead_fails_alone(
    ctx: Context, rsa_key: tuple[Path, bytes]
) -> None:
    key, record = rsa_key
    broken = Outgoing(
        dedup_key="broken",
        kind="post",
        recipient="broken@example.org",
        envelope_from="irnet@lists.example.org",
        raw=b"To: broken@example.org\r\nSubject: no From\r\n\r\nHello\r\n",
    )
    # The broken copy comes after the first batch: it is in a batch signed ahead.
    queue(ctx, BATCH + 4, [broken])
    with smtp_sink() as (handler, port):
        sender = Sender(signing_context(ctx, port, key))
        try:
            report = sender.drain()
        finally:
            sender.close()
    assert (report.sent, report.failed) == (BATCH + 4, 1)
    state, _attempts, error = rows(ctx)["broken@example.org"]
    assert state == "failed" and "no From" in (error or "")
    assert "broken@example.org" not in arrivals(handler)
    lookup = dns(record)
    assert len(handler.received) == BATCH + 4
    assert all(dkim.verify(received.content, dnsfunc=lookup) for received in handler.received)


def test_closing_gives_back_the_batch_claimed_ahead(
    ctx: Context, rsa_key: tuple[Path, bytes]
) -> None:
    key, _record = rsa_key
    queue(ctx, 2 * BATCH + 3)
    with smtp_sink() as (handler, port):
        live = signing_context(ctx, port, key)
        sender = Sender(live)
        try:
            assert sender.send_batch().sent == BATCH
        finally:
            sender.close()
        # Queued again, due at once, and the attempt that never happened not counted.
        left = [(state, attempts) for state, attempts, _ in rows(ctx).values() if state != "sent"]
        assert sorted(left) == [("queued", 0)] * (BATCH + 3)
        again = Sender(live)
        try:
            assert again.drain().sent == BATCH + 3
        finally:
            again.close()
    assert len(arrivals(handler)) == 2 * BATCH + 3
    assert set(arrivals(handler).values()) == {1}


def test_a_batch_claimed_ahead_and_taken_by_another_sender_is_not_sent_again(
    ctx: Context, clock: FrozenClock, rsa_key: tuple[Path, bytes]
) -> None:
    key, _record = rsa_key
    queue(ctx, 2 * BATCH)
    with smtp_sink() as (handler, port):
        live = signing_context(ctx, port, key)
        stalled = Sender(live)
        try:
            assert stalled.send_batch().sent == BATCH
            # This sender stalls past its lease; another takes the rows it claimed ahead.
            clock.advance(timedelta(seconds=LEASE + 1))
            other = Sender(live)
            try:
                assert other.drain().sent == BATCH
            finally:
                other.close()
            assert stalled.send_batch().handled == 0
        finally:
            stalled.close()
    assert states(ctx) == {"sent": 2 * BATCH}
    assert len(arrivals(handler)) == 2 * BATCH
    assert set(arrivals(handler).values()) == {1}


def test_a_batch_claimed_ahead_that_the_store_fails_to_check_is_kept_and_goes_out_once(
    ctx: Context, clock: FrozenClock, rsa_key: tuple[Path, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    key, _record = rsa_key
    queue(ctx, 2 * BATCH)
    with smtp_sink() as (handler, port):
        sender = Sender(signing_context(ctx, port, key))
        try:
            assert sender.send_batch().sent == BATCH
            # The store fails as the batch claimed ahead is checked (`still_held`): nothing
            # of it is sent, and the sender keeps it to check again once the store is back,
            # rather than leaving its rows to wait out their lease.
            with store_down(monkeypatch, ctx.engine), pytest.raises(SQLAlchemyError):
                sender.send_batch()
            assert len(handler.received) == BATCH
            assert states(ctx) == {"sent": BATCH, "sending": BATCH}
            assert sender.send_batch().sent == BATCH
        finally:
            sender.close()
    assert states(ctx) == {"sent": 2 * BATCH}
    assert len(arrivals(handler)) == 2 * BATCH
    assert set(arrivals(handler).values()) == {1}


def test_closing_with_the_store_down_leaves_the_batch_claimed_ahead_to_its_lease(
    ctx: Context,
    clock: FrozenClock,
    rsa_key: tuple[Path, bytes],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    key, _record = rsa_key
    queue(ctx, 2 * BATCH + 3)
    with smtp_sink() as (handler, port):
        live = signing_context(ctx, port, key)
        sender = Sender(live)
        try:
            assert sender.send_batch().sent == BATCH
        finally:
            with store_down(monkeypatch, ctx.engine), caplog.at_level(logging.WARNING):
                sender.close()
        # One line in the log, no traceback; the rows stay leased, their attempt counted.
        (warning,) = [r for r in caplog.records if r.name == "mailhub.sender"]
        assert warning.exc_info is None
        assert warning.getMessage().startswith(f"{BATCH} claimed rows not given back")
        left = [(state, attempts) for state, attempts, _ in rows(ctx).values() if state != "sent"]
        assert sorted(left) == [("queued", 0)] * 3 + [("sending", 1)] * BATCH
        again = Sender(live)
        try:
            assert again.drain().sent == 3
            clock.advance(timedelta(seconds=LEASE + 1))
            assert again.drain().sent == BATCH
        finally:
            again.close()
    assert states(ctx) == {"sent": 2 * BATCH + 3}
    assert len(arrivals(handler)) == 2 * BATCH + 3
    assert set(arrivals(handler).values()) == {1}
