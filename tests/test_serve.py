"""`mailhub serve` as one service: mail in over SMTP and from a real Dovecot mailbox becomes
held posts without any other command; SIGTERM stops it cleanly with exit 0."""

from __future__ import annotations

import os
import signal
import smtplib
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import make_context, write_config
from dovecot import PASSWORD, USER, running_dovecot
from smtp_sink import free_port
from sqlmodel import select
from test_crash import wait_for_port

from mailhub.clock import FrozenClock
from mailhub.models import Post

PASSWORD_ENV = "MAILHUB_TEST_IMAP_PASSWORD"


def post_bytes(msgid: str, subject: str) -> bytes:
    return (
        f"From: Amina <amina@example.org>\r\nTo: irnet@lists.example.org\r\n"
        f"Subject: {subject}\r\nMessage-ID: <{msgid}>\r\n\r\nBody of {subject}.\r\n"
    ).encode()


def send_post(port: int, msgid: str, subject: str) -> None:
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        smtp.sendmail("amina@example.org", ["irnet@lists.example.org"], post_bytes(msgid, subject))


def wait_for_posts(ctx, count: int, timeout: float = 30.0) -> list[Post]:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        with ctx.session() as session:
            posts = list(session.exec(select(Post).order_by(Post.message_id)))
        if len(posts) >= count or time.monotonic() > deadline:
            return posts
        time.sleep(0.2)


def test_serve_takes_mail_from_smtp_and_imap_into_held_posts(
    tmp_path: Path, clock: FrozenClock
) -> None:
    with running_dovecot() as dovecot:
        port = free_port()
        extra = (
            f'\n[smtp]\nport = {port}\n\n[[imap]]\nname = "irnet-box"\nhost = "127.0.0.1"\n'
            f'port = {dovecot.port}\nsecurity = "none"\nusername = "{USER}"\n'
            f'password_env = "{PASSWORD_ENV}"\npoll_seconds = 1.0\n'
        )
        config = write_config(tmp_path, f"sqlite:///{tmp_path / 'store.db'}", extra)
        ctx = make_context(config, clock)
        with dovecot.client() as client:
            client.append("INBOX", post_bytes("imap-1@example.org", "From the mailbox"))
        service = subprocess.Popen(
            [sys.executable, "-m", "mailhub", "serve", "--no-send"],
            env={**os.environ, "MAILHUB_CONFIG": str(config), PASSWORD_ENV: PASSWORD},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for_port(port)
            send_post(port, "smtp-1@example.org", "Over SMTP")
            posts = wait_for_posts(ctx, 2)
        finally:
            service.send_signal(signal.SIGTERM)
            output = service.communicate(timeout=60)[0].decode()
        assert service.returncode == 0, output
        assert "Traceback" not in output
        assert [(p.message_id, p.status, p.subject) for p in posts] == [
            ("imap-1@example.org", "held", "From the mailbox"),
            ("smtp-1@example.org", "held", "Over SMTP"),
        ]
        with dovecot.client() as client:
            client.select_folder("INBOX")
            assert client.search(["UNSEEN"]) == []  # acknowledged once committed
        ctx.engine.dispose()


def test_sigterm_to_the_whole_process_group_stops_every_part(
    tmp_path: Path, clock: FrozenClock
) -> None:
    """Service managers signal every process of the service at once; none may hang."""
    port = free_port()
    config = write_config(
        tmp_path,
        f"sqlite:///{tmp_path / 'store.db'}",
        f"\n[smtp]\nport = {port}\n[web]\nenabled = false\n",
    )
    make_context(config, clock).engine.dispose()
    for _ in range(3):
        service = subprocess.Popen(
            [sys.executable, "-m", "mailhub", "serve", "--no-send"],
            env={**os.environ, "MAILHUB_CONFIG": str(config)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for_port(port)
        time.sleep(0.3)  # the worker is up and idling
        os.killpg(service.pid, signal.SIGTERM)
        assert service.wait(30) == 0
        assert not lingering(service.pid)


def lingering(group: int, seconds: float = 10.0) -> str:
    """Processes still in the group after a grace period (helpers exit just after the main)."""
    deadline = time.monotonic() + seconds
    while True:
        found = subprocess.run(["pgrep", "-a", "-g", str(group)], capture_output=True, text=True)
        if not found.stdout.strip() or time.monotonic() > deadline:
            return found.stdout.strip()
        time.sleep(0.1)


@pytest.mark.parametrize(
    ("priority", "expected"),
    [
        # Three workers, then the search indexer, always at idle priority.
        ("idle", [(os.SCHED_IDLE, 10)] * 4),
        ("mixed", [(os.SCHED_OTHER, 10), *[(os.SCHED_IDLE, 10)] * 3]),
    ],
)
def test_workers_run_below_the_listener(
    tmp_path: Path, clock: FrozenClock, priority: str, expected: list[tuple[int, int]]
) -> None:
    """By default workers run only on spare CPU (SCHED_IDLE), so accepting mail never waits
    for parsing; with "mixed" worker 1 runs at nice 10 and moves on on a busy machine."""
    port = free_port()
    config = write_config(
        tmp_path,
        f"sqlite:///{tmp_path / 'store.db'}",
        f"\n[smtp]\nport = {port}\n[web]\nenabled = false\n[inbound]\nworkers = 3\n"
        + ("" if priority == "idle" else f'worker_priority = "{priority}"\n'),
    )
    make_context(config, clock).engine.dispose()
    service = subprocess.Popen(
        [sys.executable, "-m", "mailhub", "serve", "--no-send"],
        env={**os.environ, "MAILHUB_CONFIG": str(config)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for_port(port)
        policies: list[tuple[int, int]] = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            policies = sorted(_worker_policies(service.pid))
            if policies == sorted(expected):
                break
            time.sleep(0.1)
        assert os.getpriority(os.PRIO_PROCESS, service.pid) == 0
        assert policies == sorted(expected)
    finally:
        os.killpg(service.pid, signal.SIGTERM)
        assert service.wait(30) == 0


def _worker_policies(parent: int) -> list[tuple[int, int]]:
    """(scheduling policy, nice) of each worker process of the service."""
    policies = []
    for pid in worker_pids(parent):
        try:
            policies.append((os.sched_getscheduler(pid), os.getpriority(os.PRIO_PROCESS, pid)))
        except (OSError, ProcessLookupError):
            continue
    return policies


def worker_pids(parent: int) -> list[int]:
    """The service's worker processes (not multiprocessing's resource tracker)."""
    found = subprocess.run(["pgrep", "-P", str(parent)], capture_output=True, text=True)
    pids = []
    for pid in map(int, found.stdout.split()):
        try:
            if b"resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_bytes():
                pids.append(pid)
        except OSError:
            continue
    return pids


def test_a_killed_worker_is_started_again_and_mail_goes_on(
    tmp_path: Path, clock: FrozenClock
) -> None:
    """SIGKILL the only worker: the service logs it with the exit code, starts another, and
    mail sent afterwards still becomes a post."""
    port = free_port()
    config = write_config(
        tmp_path,
        f"sqlite:///{tmp_path / 'store.db'}",
        # Search off: no indexer process beside the one worker this test kills.
        f"\n[smtp]\nport = {port}\n[web]\nenabled = false\n[inbound]\nworkers = 1\n"
        "[search]\nenabled = false\n",
    )
    ctx = make_context(config, clock)
    log = tmp_path / "serve.log"
    with log.open("wb") as output:
        service = subprocess.Popen(
            [sys.executable, "-m", "mailhub", "serve", "--no-send", "--no-imap"],
            env={**os.environ, "MAILHUB_CONFIG": str(config)},
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for_port(port)
        first = wait_for_workers(service.pid, lambda pids: len(pids) == 1)
        os.kill(first[0], signal.SIGKILL)
        second = wait_for_workers(service.pid, lambda pids: len(pids) == 1 and pids != first)
        send_post(port, "after-kill@example.org", "After the kill")
        posts = wait_for_posts(ctx, 1)
        assert worker_pids(service.pid) == second
    finally:
        service.send_signal(signal.SIGTERM)
        assert service.wait(30) == 0, log.read_text()
        ctx.engine.dispose()
    assert [p.message_id for p in posts] == ["after-kill@example.org"]
    text = log.read_text()
    assert f"worker mailhub-worker-1 (pid {first[0]}) exited with code -9" in text
    assert f"worker mailhub-worker-1 started again (pid {second[0]})" in text
    assert not lingering(service.pid)


def wait_for_workers(parent: int, wanted: Callable[[list[int]], bool]) -> list[int]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        pids = worker_pids(parent)
        if wanted(pids):
            return pids
        time.sleep(0.05)
    raise AssertionError(f"workers of {parent}: {worker_pids(parent)}")


def test_a_busy_smtp_port_is_one_line_and_exit_1(tmp_path: Path, clock: FrozenClock) -> None:
    """Another program on the SMTP port: the admin reads why and what to change, no
    traceback, and the service does not half-start."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = write_config(
            tmp_path, f"sqlite:///{tmp_path / 'store.db'}", f"\n[smtp]\nport = {port}\n"
        )
        make_context(config, clock)
        service = subprocess.run(
            [sys.executable, "-m", "mailhub", "serve", "--no-send", "--no-imap", "--no-web"],
            env={**os.environ, "MAILHUB_CONFIG": str(config)},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert service.returncode == 1, service.stderr
    assert service.stderr.strip().splitlines() == [
        f"error: cannot listen for SMTP on 127.0.0.1:{port}: Address already in use; stop what "
        "listens there or set another port under [smtp] in the config"
    ]
