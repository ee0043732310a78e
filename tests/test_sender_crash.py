"""Each mail once towards the relay: SIGKILL `mailhub serve` while it delivers a post to 500
members through a real SMTP relay, start it again, and count what the relay received.

Only the messages on the wire when the service died (at most one per relay connection) may
reach the relay twice; every member gets the post. The same with DKIM signed in a worker
process and small batches, so that the kill finds a batch claimed and signed ahead but not
sent (outbound/batches.py): its rows come back after their lease and go out once.
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import make_context, write_config
from smtp_sink import SinkHandler, smtp_sink
from test_delivery import approved_post

from mailhub.clock import FrozenClock
from mailhub.communities import get_community
from mailhub.context import Context
from mailhub.member_import import import_members
from mailhub.outbound import outbox
from mailhub.outbound.dkim_keys import generate
from mailhub.outbound.fanout import fan_out

MEMBERS = 500
CONNECTIONS = 4
KILL_AFTER = 150
LEASE_SECONDS = 2.0
SIGNED_BATCH = 50


def sending_config(tmp_path: Path, url: str, port: int, signed: bool = False) -> Path:
    """A service that only sends, through the sink, with a short lease so the test is quick;
    ``signed``: DKIM-signed in a worker process, in batches of SIGNED_BATCH."""
    extra = "\n[web]\nenabled = false\n"
    batch = ""
    if signed:
        key = generate(tmp_path / "dkim", {"rsa": "crash"})[0].path
        extra += f'\n[dkim]\nprivate_key = "{key}"\nselector = "crash"\nsign_processes = 1\n'
        batch = f"batch_size = {SIGNED_BATCH}\n"
    path = write_config(tmp_path, url, extra)
    outbound = (
        f'[outbound]\nmode = "smtp"\nlease_seconds = {LEASE_SECONDS}\n{batch}'
        f'relay = {{ host = "127.0.0.1", port = {port}, connections = {CONNECTIONS} }}\n'
    )
    path.write_text(path.read_text().replace("[outbound]\n", outbound))
    return path


def queue_post_to_members(ctx: Context, tmp_path: Path) -> list[str]:
    """MEMBERS each-message members (imported from CSV) and one approved post fanned out to
    them; returns their addresses."""
    addresses = [f"member{n}@org{n % 7}.example.org" for n in range(MEMBERS)]
    members_csv = tmp_path / "members.csv"
    with members_csv.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email", "name"])
        writer.writerows([address, f"Member {n}"] for n, address in enumerate(addresses))
    with ctx.session() as session:
        community = get_community(session, "irnet")
        import_members(session, community, members_csv, ctx.now())
        post = approved_post(ctx, session, community)
        assert fan_out(ctx, session, post) == MEMBERS
    return addresses


def start_sender(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as output:
        return subprocess.Popen(
            [
                *(sys.executable, "-m", "mailhub", "serve"),
                *("--no-smtp", "--no-work", "--no-imap", "--no-web", "--no-schedule"),
            ],
            env={**os.environ, "MAILHUB_CONFIG": str(config)},
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def wait_until(done: object, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not done():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {timeout} s; service log:\n{log.read_text()}")
        time.sleep(0.02)


def received(handler: SinkHandler) -> Counter[str]:
    return Counter(address for mail in list(handler.received) for address in mail.rcpt_tos)


@pytest.mark.parametrize("signed", [False, True], ids=["unsigned", "signed ahead"])
def test_sigkill_mid_delivery_resends_at_most_one_message_per_connection(
    tmp_path: Path, database_url: str, signed: bool
) -> None:
    # A relay that takes 10 ms per message: 500 messages over 4 connections take over a
    # second, so the kill lands in the middle of a batch.
    with smtp_sink(delay=0.01) as (handler, port):
        config = sending_config(tmp_path, database_url, port, signed)
        ctx = make_context(config, FrozenClock(datetime.now(UTC)))
        log = tmp_path / "serve.log"
        try:
            members = queue_post_to_members(ctx, tmp_path)
            service = start_sender(config, log)
            try:
                wait_until(lambda: len(handler.received) >= KILL_AFTER, 30, "no delivery", log)
            finally:
                service.send_signal(signal.SIGKILL)
                service.wait(10)
            at_kill = len(handler.received)
            assert KILL_AFTER <= at_kill < MEMBERS, "the kill must land mid-delivery"

            service = start_sender(config, log)
            try:
                wait_until(lambda: drained(ctx), 30, "outbox not drained", log)
            finally:
                service.send_signal(signal.SIGTERM)
                assert service.wait(30) == 0, log.read_text()
            with ctx.session() as session:
                assert outbox.counts(session) == {"sent": MEMBERS}
        finally:
            ctx.engine.dispose()
        counts = received(handler)
    assert sorted(counts) == sorted(members)
    duplicates = sum(counts.values()) - len(counts)
    assert duplicates <= CONNECTIONS, f"{duplicates} duplicates after a kill at {at_kill}"
    if signed:
        assert all(mail.content.startswith(b"DKIM-Signature:") for mail in handler.received)


def drained(ctx: Context) -> bool:
    with ctx.session() as session:
        counts = outbox.counts(session)
    return not counts.get("queued") and not counts.get("sending")
