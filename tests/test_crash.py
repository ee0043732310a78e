"""Nothing acknowledged is lost: SIGKILL the service while a client sends 1,000 messages."""

from __future__ import annotations

import os
import signal
import smtplib
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from conftest import make_context, write_config
from smtp_sink import free_port
from sqlmodel import select

from mailhub.clock import FrozenClock
from mailhub.models import Post

TOTAL = 1000
KILL_AFTER = 300


def start_service(config: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "mailhub", "serve", "--no-send", "--no-work"],
        env={**os.environ, "MAILHUB_CONFIG": str(config)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), 0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"service did not listen on {port}")


def raw_message(number: int) -> bytes:
    return (
        f"From: member{number % 50}@example.org\r\nTo: irnet@lists.example.org\r\n"
        f"Subject: Contribution {number}\r\nMessage-ID: <crash-{number}@example.org>\r\n\r\n"
        f"Contribution number {number}.\r\n"
    ).encode()


class Client:
    """Sends messages in order; remembers which got a 250. Stops at the first failure."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.acked: set[int] = set()

    def send(self, numbers: list[int]) -> None:
        try:
            with smtplib.SMTP("127.0.0.1", self.port, timeout=10) as smtp:
                for number in numbers:
                    smtp.sendmail(
                        f"member{number % 50}@example.org",
                        ["irnet@lists.example.org"],
                        raw_message(number),
                    )
                    self.acked.add(number)
        except (smtplib.SMTPException, OSError):
            return


def test_every_acknowledged_message_survives_sigkill(tmp_path: Path, clock: FrozenClock) -> None:
    port = free_port()
    config = write_config(
        tmp_path, f"sqlite:///{tmp_path / 'store.db'}", f"\n[smtp]\nport = {port}\n"
    )
    ctx = make_context(config, clock)
    service = start_service(config)
    try:
        wait_for_port(port)
        client = Client(port)
        sender = threading.Thread(target=client.send, args=(list(range(TOTAL)),))
        sender.start()
        while len(client.acked) < KILL_AFTER and sender.is_alive():
            time.sleep(0.005)
        service.send_signal(signal.SIGKILL)
        service.wait(10)
        sender.join(30)
        acked_before_kill = set(client.acked)
        assert KILL_AFTER <= len(acked_before_kill) < TOTAL

        # A real MTA retries what was not acknowledged once the service is back.
        service = start_service(config)
        wait_for_port(port)
        pending = [n for n in range(TOTAL) if n not in client.acked]
        client.send(pending)
        assert len(client.acked) == TOTAL
    finally:
        service.send_signal(signal.SIGTERM)
        assert service.wait(30) == 0  # a clean stop exits 0

    result = subprocess.run(
        [sys.executable, "-m", "mailhub", "inbound", "process"],
        env={**os.environ, "MAILHUB_CONFIG": str(config)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    with ctx.session() as session:
        ids = session.exec(select(Post.message_id)).all()
    assert len(ids) == len(set(ids)) == TOTAL
    assert {f"crash-{n}@example.org" for n in acked_before_kill} <= set(ids)
    ctx.engine.dispose()
