"""The sender against a real SMTP server: 250 sends, 451 retries with backoff, 550 fails,
an unreachable relay retries; Maildir mode writes readable files once."""

from __future__ import annotations

import mailbox
import smtplib
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import derive
from smtp_sink import free_port, smtp_sink
from sqlmodel import select
from test_outbox import mail

from mailhub.clock import FrozenClock
from mailhub.context import Context
from mailhub.models import OutboundMessage
from mailhub.outbound import outbox
from mailhub.outbound.outbox import Outgoing
from mailhub.outbound.sender import Sender
from mailhub.outbound.smtpclient import GatedSMTP


def smtp_context(ctx: Context, port: int, **outbound: object) -> Context:
    relay = {"host": "127.0.0.1", "port": port, "connections": 2, "timeout_seconds": 5}
    return derive(ctx, outbound={"mode": "smtp", "relay": relay, **outbound})


def states(ctx: Context) -> dict[str, tuple[str, int, str | None]]:
    with ctx.session() as session:
        rows = session.exec(select(OutboundMessage)).all()
        return {r.recipient: (r.state, r.attempts, r.last_error) for r in rows}


def test_250_451_550(ctx: Context, clock: FrozenClock) -> None:
    answers = {
        "later@example.org": "451 4.3.0 try again later",
        "gone@example.org": "550 5.1.1 no such user",
    }
    with ctx.session() as session:
        outbox.enqueue_many(
            session,
            [
                mail(f"m{i}", to)
                for i, to in enumerate(
                    ["ok1@example.org", "later@example.org", "gone@example.org", "ok2@example.org"]
                )
            ],
            ctx.now(),
        )
    with smtp_sink(answers) as (handler, port):
        sender = Sender(smtp_context(ctx, port, max_attempts=3))
        try:
            report = sender.drain()
            assert (report.sent, report.retried, report.failed) == (2, 1, 1)
            result = states(ctx)
            assert result["ok1@example.org"][0] == "sent"
            assert result["gone@example.org"][0] == "failed"
            assert "550 5.1.1 no such user" in (result["gone@example.org"][2] or "")
            assert result["later@example.org"][:2] == ("queued", 1)
            assert sorted(r for m in handler.received for r in m.rcpt_tos) == [
                "ok1@example.org",
                "ok2@example.org",
            ]
            assert all(b"Subject: m" in m.content for m in handler.received)

            # Not due yet; due after the first backoff (60 s); the next waits twice as long.
            assert sender.drain().handled == 0
            clock.advance(timedelta(seconds=60))
            assert sender.drain().retried == 1
            clock.advance(timedelta(seconds=119))
            assert sender.drain().handled == 0
            clock.advance(timedelta(seconds=1))
            # Third attempt is the last allowed: the row fails with the server's answer.
            assert sender.drain().failed == 1
            state, attempts, error = states(ctx)["later@example.org"]
            assert (state, attempts) == ("failed", 3) and "451 4.3.0" in (error or "")
        finally:
            sender.close()


def test_unreachable_relay_retries(ctx: Context, clock: FrozenClock) -> None:
    with ctx.session() as session:
        outbox.enqueue(session, mail("x", "someone@example.org"), ctx.now())
    sender = Sender(smtp_context(ctx, free_port(), max_attempts=5))
    try:
        report = sender.drain()
    finally:
        sender.close()
    assert report.retried == 1 and report.sent == 0
    state, attempts, error = states(ctx)["someone@example.org"]
    assert (state, attempts) == ("queued", 1)
    assert "unreachable" in (error or "")
    # Once a server listens there, the retry gets through.
    with smtp_sink() as (_handler, port):
        clock.advance(timedelta(minutes=1))
        sender = Sender(smtp_context(ctx, port))
        try:
            assert sender.drain().sent == 1
        finally:
            sender.close()
    assert states(ctx)["someone@example.org"][0] == "sent"


def test_connections_are_reused(ctx: Context) -> None:
    with ctx.session() as session:
        outbox.enqueue_many(
            session, [mail(f"r{i}", f"r{i}@example.org") for i in range(40)], ctx.now()
        )
    with smtp_sink() as (handler, port):
        sender = Sender(smtp_context(ctx, port))
        sessions: set[int] = set()
        try:
            assert sender.drain().sent == 40
            sessions = {id(t._smtp) for t in sender._transports if t._smtp is not None}  # type: ignore[attr-defined]
        finally:
            sender.close()
    assert len(handler.received) == 40
    assert len(sessions) == 2


def test_maildir_mode_writes_each_message_once(ctx: Context, clock: FrozenClock) -> None:
    with ctx.session() as session:
        outbox.enqueue_many(
            session, [mail("d1", "a@example.org"), mail("d2", "b@example.org")], ctx.now()
        )
    sender = Sender(ctx)
    try:
        assert sender.drain().sent == 2
        # A sender that crashed after writing re-delivers the same row: still one file.
        with ctx.engine.begin() as connection:
            connection.exec_driver_sql("UPDATE outbound_message SET state='queued'")
        assert sender.drain().sent == 2
    finally:
        sender.close()
    box = mailbox.Maildir(Path(ctx.settings.outbox_maildir), create=False)
    messages = list(box)
    assert len(messages) == 2
    assert sorted(m["Delivered-To"] for m in messages) == ["a@example.org", "b@example.org"]
    assert {m["Subject"] for m in messages} == {"d1", "d2"}


LONG_SUBJECT = (
    "minimum wage review in Thailand, Viet Nam and Cambodia: what the tripartite boards decided"
)


def test_outbox_cli(run_cli, ctx: Context) -> None:
    with ctx.session() as session:
        outbox.enqueue(
            session,
            Outgoing(
                "k",
                "post",
                "a@example.org",
                "irnet@lists.example.org",
                b"Subject: hi " + LONG_SUBJECT.encode() + b"\r\n\r\nx\r\n",
            ),
            ctx.now(),
        )
    listed = run_cli("outbox", "list")
    assert (
        listed.exit_code == 0 and "a@example.org" in listed.output and "queued: 1" in listed.output
    )
    # Piped, the table is tab-separated lines on stdout, the counts on stderr.
    assert listed.stdout.splitlines()[1].split("\t")[:3] == ["1", "post", "a@example.org"]
    assert "queued: 1" in listed.stderr
    # ... every cell in full, however long: a script reads the whole subject.
    assert f"hi {LONG_SUBJECT}" in listed.stdout
    sent = run_cli("outbox", "send")
    assert sent.exit_code == 0 and "1 sent" in sent.output
    shown = run_cli("outbox", "show", "1", "--raw")
    assert "state" in shown.output and "sent" in shown.output and "Subject: hi" in shown.output
    missing = run_cli("outbox", "show", "99")
    assert missing.exit_code == 1 and "no outbox row 99" in missing.output
    # A sent message is never sent again by retry, and the admin is told why.
    again = run_cli("outbox", "retry", "1")
    assert "requeued 0" in again.stdout and "row 1 is sent: left as it is" in again.stderr
    # An id that is no row: one line, exit 1, nothing changed.
    unknown = run_cli("outbox", "retry", "1", "99")
    assert unknown.exit_code == 1 and unknown.stderr.strip() == "error: no outbox row 99"


def test_the_senders_smtp_client_puts_on_the_wire_what_smtplib_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """GatedSMTP skips smtplib's address parsing and dot doubling where they change nothing
    (smtpclient.py): what a relay receives is the same as from smtplib itself, for plain
    and awkward addresses, and for messages with lines that start with a dot."""
    body = b"Subject: x\r\n\r\nHello\r\n"
    cases = [
        ("irnet+b-12.3.0.abcdefghijklm@lists.example.org", "member.7@org7.example.org", body),
        ("a@example.org", "b@example.org", b"Subject: x\r\n\r\n.starts\r\n..two\r\n"),
        ("a@example.org", "b@example.org", b".\r\nSubject: x\r\n\r\nno final line end"),
        ("Ann <a@example.org>", '"b c"@example.org', body),
    ]
    parsed: list[str] = []
    real_quoteaddr = smtplib.quoteaddr

    def counting(address: str) -> str:
        parsed.append(address)
        return real_quoteaddr(address)

    monkeypatch.setattr(smtplib, "quoteaddr", counting)
    received = {}
    for client in (smtplib.SMTP, GatedSMTP):
        with smtp_sink() as (handler, port), client("127.0.0.1", port) as smtp:
            for sender, recipient, raw in cases:
                smtp.sendmail(sender, [recipient], raw)
            received[client] = [(r.mail_from, r.rcpt_tos, r.content) for r in handler.received]
    assert received[GatedSMTP] == received[smtplib.SMTP]
    assert len(received[GatedSMTP]) == len(cases)
    # smtplib parsed 8 addresses; GatedSMTP only the two that are not plain.
    assert parsed[8:] == ["Ann <a@example.org>", '"b c"@example.org']
    with smtp_sink() as (handler, port), GatedSMTP("127.0.0.1", port) as smtp:
        smtp.ehlo()
        assert smtp.has_extn("size")  # so MAIL FROM carried SIZE= above, on both paths
