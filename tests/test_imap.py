"""The IMAP poller against a real Dovecot: spool once, acknowledge after commit, recover."""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from dovecot import PASSWORD, USER, Dovecot, running_dovecot
from imapclient import IMAPClient
from sqlalchemy import delete, select

from mailhub.config import ImapMailboxSettings
from mailhub.context import Context
from mailhub.inbound import imap
from mailhub.inbound.imap import (
    MailboxError,
    MailboxPoller,
    Watermark,
    WatermarkMoved,
    load_watermark,
    run_pollers,
    save_watermark,
)
from mailhub.models import InboundMessage, MailboxState, table_of

PASSWORD_ENV = "MAILHUB_TEST_IMAP_PASSWORD"
LIST = "irnet@lists.example.org"
SPOOL = table_of(InboundMessage)
STATE = table_of(MailboxState)


@pytest.fixture
def dovecot(monkeypatch: pytest.MonkeyPatch) -> Iterator[Dovecot]:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    with running_dovecot() as server:
        yield server


def mailbox(server: Dovecot, **overrides: Any) -> ImapMailboxSettings:
    values: dict[str, Any] = {
        "name": "irnet-box",
        "host": "127.0.0.1",
        "port": server.port,
        "security": "none",
        "username": USER,
        "password_env": PASSWORD_ENV,
        "poll_seconds": 0.2,
        "timeout_seconds": 5.0,
    }
    return ImapMailboxSettings(**(values | overrides))


def message(number: int, delivered_to: str | None = LIST) -> bytes:
    headers = [
        "Return-Path: <alice@example.org>",
        *([f"Delivered-To: {delivered_to}"] if delivered_to else []),
        "From: Alice <alice@example.org>",
        f"To: {LIST}",
        f"Subject: Post {number}",
        f"Message-ID: <post-{number}@example.org>",
    ]
    return ("\r\n".join(headers) + f"\r\n\r\nBody of post {number}.\r\n").encode()


def deliver(server: Dovecot, *raws: bytes, folder: str = "INBOX") -> None:
    """Append as a mail client would; a just-restarted server on a busy machine may need a
    second try, so connection errors are retried a few times."""
    for attempt in range(3):
        try:
            with server.client() as client:
                if not client.folder_exists(folder):
                    client.create_folder(folder)
                for raw in raws:
                    client.append(folder, raw)
            return
        except OSError:
            if attempt == 2:
                raise
            time.sleep(1)


def server_flags(server: Dovecot, folder: str = "INBOX") -> dict[int, set[bytes]]:
    with server.client() as client:
        client.select_folder(folder, readonly=True)
        found = client.fetch(client.search("ALL"), ["FLAGS"])
        return {uid: set(data[b"FLAGS"]) for uid, data in found.items()}


def uidvalidity(server: Dovecot, folder: str = "INBOX") -> int:
    with server.client() as client:
        return int(client.select_folder(folder, readonly=True)[b"UIDVALIDITY"])


def spooled(ctx: Context) -> list[Any]:
    columns = (SPOOL.c.raw, SPOOL.c.source, SPOOL.c.source_ref, SPOOL.c.rcpt_to, SPOOL.c.mail_from)
    with ctx.engine.connect() as connection:
        return connection.execute(select(*columns).order_by(SPOOL.c.id)).all()


def eventually(check: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


@pytest.fixture
def running() -> Iterator[Callable[[MailboxPoller], threading.Event]]:
    """Start pollers' run() in threads; always stop and join them."""
    started: list[tuple[threading.Event, threading.Thread]] = []

    def start(poller: MailboxPoller) -> threading.Event:
        stop = threading.Event()
        thread = threading.Thread(target=poller.run, args=(stop,), daemon=True)
        thread.start()
        started.append((stop, thread))
        return stop

    yield start
    for stop, thread in started:
        stop.set()
        thread.join(timeout=10)
        assert not thread.is_alive()


def test_poll_spools_each_message_once_then_flags_it_seen(ctx: Context, dovecot: Dovecot) -> None:
    first, second = message(1), message(2, delivered_to=None)
    deliver(dovecot, first, second)
    poller = MailboxPoller(ctx, mailbox(dovecot))
    try:
        assert poller.poll_once() == 2
        assert poller.poll_once() == 0
    finally:
        poller.close()
    validity = uidvalidity(dovecot)
    assert spooled(ctx) == [
        (first, "imap", f"irnet-box:{validity}:1", [LIST], "alice@example.org"),
        (second, "imap", f"irnet-box:{validity}:2", [], "alice@example.org"),
    ]
    assert server_flags(dovecot) == {1: {b"\\Seen"}, 2: {b"\\Seen"}}
    with ctx.engine.connect() as connection:
        state = connection.execute(
            select(STATE.c.mailbox, STATE.c.uidvalidity, STATE.c.last_uid, STATE.c.updated_at)
        ).one()
    assert tuple(state) == ("irnet-box", validity, 2, ctx.now())


def test_configured_recipient_and_keyword_flag(ctx: Context, dovecot: Dovecot) -> None:
    deliver(dovecot, message(1, delivered_to="someone-else@example.org"))
    poller = MailboxPoller(ctx, mailbox(dovecot, recipient=LIST, flag="$Mailhub"))
    try:
        assert poller.poll_once() == 1
        assert poller.poll_once() == 0
    finally:
        poller.close()
    assert [row.rcpt_to for row in spooled(ctx)] == [[LIST]]
    assert server_flags(dovecot) == {1: {b"$Mailhub"}}


@pytest.mark.parametrize("with_move", [True, False], ids=["MOVE", "COPY-EXPUNGE"])
def test_move_mode_empties_the_folder(
    ctx: Context, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch, with_move: bool
) -> None:
    if not with_move:
        has = IMAPClient.has_capability
        monkeypatch.setattr(
            IMAPClient, "has_capability", lambda self, name: name != "MOVE" and has(self, name)
        )
    deliver(dovecot, message(1), message(2))
    poller = MailboxPoller(ctx, mailbox(dovecot, move_to="Processed"))
    try:
        assert poller.poll_once() == 2
        deliver(dovecot, message(3))
        assert poller.poll_once() == 1
    finally:
        poller.close()
    assert server_flags(dovecot) == {}
    assert len(server_flags(dovecot, "Processed")) == 3
    assert [row.raw for row in spooled(ctx)] == [message(1), message(2), message(3)]


def test_crash_between_commit_and_flag_does_not_spool_again(
    ctx: Context, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    deliver(dovecot, message(1))

    def crash(self: MailboxPoller, client: IMAPClient, uids: list[int]) -> None:
        if uids:
            raise OSError("crashed before flagging")

    with monkeypatch.context() as patch:
        patch.setattr(MailboxPoller, "_acknowledge", crash)
        doomed = MailboxPoller(ctx, mailbox(dovecot))
        with pytest.raises(OSError, match="crashed"):
            doomed.poll_once()
        doomed.close()
    # Committed, yet unseen on the server: fetching used BODY.PEEK and no flag was set.
    assert len(spooled(ctx)) == 1
    assert server_flags(dovecot) == {1: set()}

    fetched: list[Any] = []
    fetch = IMAPClient.fetch
    monkeypatch.setattr(
        IMAPClient,
        "fetch",
        lambda self, uids, *rest: fetched.append(uids) or fetch(self, uids, *rest),
    )
    poller = MailboxPoller(ctx, mailbox(dovecot))
    try:
        assert poller.poll_once() == 0
        # Below the watermark: acknowledged without fetching the message again.
        assert fetched == []
        assert server_flags(dovecot) == {1: {b"\\Seen"}}
        # With the watermark lost as well, the source_ref guard still stops a second copy.
        with ctx.engine.begin() as connection:
            connection.execute(delete(STATE))
        with dovecot.client() as client:
            client.select_folder("INBOX")
            client.remove_flags([1], ["\\Seen"])
        assert poller.poll_once() == 0
    finally:
        poller.close()
    assert len(spooled(ctx)) == 1
    assert server_flags(dovecot) == {1: {b"\\Seen"}}


def test_uidvalidity_change_rereads_the_folder_without_duplicates(
    ctx: Context, dovecot: Dovecot, caplog: pytest.LogCaptureFixture
) -> None:
    deliver(dovecot, message(1), message(2), folder="Lists")
    poller = MailboxPoller(ctx, mailbox(dovecot, folder="Lists"))
    try:
        assert poller.poll_once() == 2
        before = uidvalidity(dovecot, "Lists")
        # The folder is recreated: a new message now holds UID 1, below the old watermark,
        # and the two old ones come back without flags.
        with dovecot.client() as client:
            client.delete_folder("Lists")
        time.sleep(1.1)  # Dovecot derives UIDVALIDITY from the clock in seconds
        deliver(dovecot, message(3), message(1), message(2), folder="Lists")
        after = uidvalidity(dovecot, "Lists")
        assert after != before
        assert poller.poll_once() == 1
        assert poller.poll_once() == 0
    finally:
        poller.close()
    rows = spooled(ctx)
    assert [row.raw for row in rows] == [message(1), message(2), message(3)]
    assert rows[-1].source_ref == f"irnet-box:{after}:1"
    assert server_flags(dovecot, "Lists") == {uid: {b"\\Seen"} for uid in (1, 2, 3)}
    with ctx.engine.connect() as connection:
        state = connection.execute(select(STATE.c.uidvalidity, STATE.c.last_uid)).one()
    assert tuple(state) == (after, 3)
    assert any("UIDVALIDITY changed" in r.getMessage() for r in caplog.records)


def test_watermark_moves_only_from_where_it_was(ctx: Context) -> None:
    first, second = Watermark(7, 5, True), Watermark(7, 9, True)
    with ctx.engine.begin() as connection:
        save_watermark(connection, "box", Watermark(), first, ctx.now())
    # Two pollers that read the same watermark: the second one to commit must lose.
    for stale in (Watermark(), Watermark(7, 3, True), Watermark(6, 5, True)):
        with pytest.raises(WatermarkMoved), ctx.engine.begin() as connection:
            save_watermark(connection, "box", stale, second, ctx.now())
    with ctx.engine.begin() as connection:
        save_watermark(connection, "box", first, second, ctx.now())
    with ctx.engine.connect() as connection:
        assert load_watermark(connection, "box") == second


def test_reconnects_after_dovecot_restarts(
    ctx: Context, dovecot: Dovecot, running: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=imap.__name__)
    deliver(dovecot, message(1))
    running(MailboxPoller(ctx, mailbox(dovecot, idle=False)))
    assert eventually(lambda: len(spooled(ctx)) == 1)
    dovecot.restart()
    deliver(dovecot, message(2))
    assert eventually(lambda: len(spooled(ctx)) == 2, seconds=15)
    # The poller says "connected again" once the poll that spooled message 2 has returned,
    # which on a busy machine can be a while after the row is visible: wait for the line.
    assert eventually(
        lambda: any("connected again" in r.getMessage() for r in caplog.records), seconds=15
    )
    assert [row.raw for row in spooled(ctx)] == [message(1), message(2)]
    problems = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert problems
    assert all(r.exc_info is None and "retrying in" in r.getMessage() for r in problems)


def test_idle_wakes_on_new_mail(
    ctx: Context, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    idling = threading.Event()
    idle = IMAPClient.idle

    def idle_and_tell(self: IMAPClient) -> None:
        idle(self)
        idling.set()

    monkeypatch.setattr(IMAPClient, "idle", idle_and_tell)
    # Polling every hour: only IDLE can bring the message in within seconds.
    settings = mailbox(dovecot, poll_seconds=3600.0)
    instance = Context(ctx.settings.model_copy(update={"imap": [settings]}), ctx.engine, ctx.clock)
    stop = threading.Event()
    threads = run_pollers(instance, stop)
    try:
        assert [t.daemon for t in threads] == [True]
        assert idling.wait(10)
        deliver(dovecot, message(1))
        assert eventually(lambda: len(spooled(ctx)) == 1, seconds=5)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
    assert not threads[0].is_alive()
    assert server_flags(dovecot) == {1: {b"\\Seen"}}


def test_wrong_password_is_logged_plainly_and_retried(
    ctx: Context,
    dovecot: Dovecot,
    running: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "not-the-password")
    running(MailboxPoller(ctx, mailbox(dovecot)))
    assert eventually(lambda: any("login refused" in r.getMessage() for r in caplog.records))
    refused = next(r for r in caplog.records if "login refused" in r.getMessage())
    assert refused.levelno == logging.WARNING
    assert refused.exc_info is None
    assert f"${PASSWORD_ENV}" in refused.getMessage()
    assert "retrying in 1 s" in refused.getMessage()


def test_missing_password_variable_is_named(
    ctx: Context, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(PASSWORD_ENV)
    with pytest.raises(MailboxError, match=PASSWORD_ENV):
        MailboxPoller(ctx, mailbox(dovecot)).poll_once()


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_tls_with_a_self_signed_certificate(ctx: Context, dovecot: Dovecot, security: str) -> None:
    port = dovecot.tls_port if security == "tls" else dovecot.port
    deliver(dovecot, message(1))
    strict = MailboxPoller(ctx, mailbox(dovecot, security=security, port=port))
    with pytest.raises(ssl.SSLCertVerificationError):
        strict.poll_once()
    poller = MailboxPoller(ctx, mailbox(dovecot, security=security, port=port, verify_tls=False))
    try:
        assert poller.poll_once() == 1
        assert poller._client is not None
        assert isinstance(poller._client.socket(), ssl.SSLSocket)
    finally:
        poller.close()
    assert [row.raw for row in spooled(ctx)] == [message(1)]


def test_backoff_doubles_up_to_five_minutes() -> None:
    delays = [imap.backoff_delay(n) for n in range(12)]
    assert delays[:4] == [1.0, 2.0, 4.0, 8.0]
    assert delays[-1] == 300.0
    assert max(delays) == 300.0
