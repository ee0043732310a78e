"""Inbound throughput: N generated ~5 KB messages over SMTP on 127.0.0.1 with 8 connections.

Prints, for each of a few rounds run one after another on this machine (and their medians,
since two runs here can differ by a quarter):
- reference 1: a bare aiosmtpd server whose handler only answers 250;
- reference 2: a bare aiosmtpd server that parses each message with policy.default and
  commits one SQLite row;
- mailhub serve: messages per second accepted (250 received), messages per second fully
  processed into held posts, and peak memory of the service's processes.
Targets: accepted >= 80 % of reference 1; processed >= 100 % of reference 2.

    python bench/ingest.py [--messages 5000] [--connections 8] [--workers 2] [--rounds 3]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/mailhub_bench]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import signal
import smtplib
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from pathlib import Path
from statistics import median
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

LIST = "bench@lists.example.org"
SETTLE_SECONDS = 3.0
PROCESS_TIMEOUT = 300.0
PRIORITY = ["idle"]  # set from --worker-priority
CONFIG = """
[instance]
secret = "bench-secret-0123456789"
data_dir = "{data}"
domain = "lists.example.org"
[database]
url = "{url}"
[inbound]
workers = {workers}
worker_priority = "{priority}"
[smtp]
port = {port}
[[communities]]
slug = "bench"
name = "Bench"
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_message(number: int) -> bytes:
    paragraph = (
        "Social dialogue institutions in the region have adapted to platform work in "
        "different ways; some ministries convened tripartite working groups. "
    )
    body = "\r\n".join(paragraph for _ in range(30))
    return (
        f"From: Member {number % 200} <member{number % 200}@example.org>\r\n"
        f"To: {LIST}\r\nSubject: Contribution {number} on platform work\r\n"
        f"Message-ID: <bench-{number}-{time.time_ns()}@example.org>\r\n"
        f"Date: Mon, 02 Mar 2026 09:00:00 +0000\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    ).encode()


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), 0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port}")


def blast(port: int, messages: list[bytes], connections: int) -> float:
    """Send every message over ``connections`` connections; return seconds until the last 250."""
    slices = [messages[i::connections] for i in range(connections)]
    failures: list[str] = []

    def run(part: list[bytes]) -> None:
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
            for raw in part:
                try:
                    smtp.sendmail("member@example.org", [LIST], raw)
                except smtplib.SMTPException as exc:
                    failures.append(str(exc))

    threads = [threading.Thread(target=run, args=(part,)) for part in slices]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise SystemExit(f"{len(failures)} messages refused, e.g. {failures[0]}")
    return elapsed


# ---- reference servers (run in their own process, like the service) ----


class BareHandler:
    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        return "250 OK"


class ParseCommitHandler:
    def __init__(self, path: str) -> None:
        self.db = sqlite3.connect(path)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS m (id INTEGER PRIMARY KEY, subject TEXT, raw BLOB)"
        )
        self.parser = BytesParser(policy=policy.default)

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        raw = envelope.original_content  # type: ignore[attr-defined]
        message = self.parser.parsebytes(raw)
        with self.db:
            self.db.execute(
                "INSERT INTO m (subject, raw) VALUES (?, ?)", (str(message["subject"]), raw)
            )
        return "250 OK"


def serve_reference(kind: str, port: int, folder: str) -> None:
    from aiosmtpd.smtp import SMTP

    handler = BareHandler() if kind == "bare" else ParseCommitHandler(f"{folder}/ref.db")

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: SMTP(handler, decode_data=False), "127.0.0.1", port
        )
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        server.close()

    asyncio.run(main())


def run_reference(
    kind: str, messages: list[bytes], connections: int, folder: str
) -> tuple[float, float]:
    """Messages per second, and the server's CPU milliseconds per message."""
    port = free_port()
    child = subprocess.Popen([sys.executable, __file__, "--reference", kind, str(port), folder])
    try:
        wait_for_port(port)
        before = cpu_seconds(child.pid)
        rate = len(messages) / blast(port, messages, connections)
        return rate, (cpu_seconds(child.pid) - before) * 1000 / len(messages)
    finally:
        child.send_signal(signal.SIGTERM)
        child.wait(30)


# ---- mailhub ----


def count_processed(url: str) -> int:
    engine = _engines.setdefault(url, create_engine(url, poolclass=NullPool))
    with engine.connect() as connection:
        return connection.execute(text("SELECT COUNT(*) FROM post")).scalar_one()


_engines: dict[str, Any] = {}


def fresh_database(url: str | None, folder: str) -> str:
    """The store for one mailhub run: SQLite in the run's folder, or an emptied PostgreSQL
    database (created, or dropped and created again) at ``url``."""
    if url is None:
        return f"sqlite:///{folder}/data/mailhub.db"
    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()
    return url


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used so far (from /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mib(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                total += int(line.split()[1])
    return total / 1024


def run_mailhub(
    messages: list[bytes], connections: int, folder: str, workers: int, database: str | None
) -> tuple[float, float, float, dict[int, float]]:
    port = free_port()
    config = Path(folder) / "config.toml"
    url = fresh_database(database, folder)
    config.write_text(
        CONFIG.format(
            data=f"{folder}/data", port=port, workers=workers, url=url, priority=PRIORITY[0]
        )
    )
    env = {**os.environ, "MAILHUB_CONFIG": str(config)}
    subprocess.run(
        [sys.executable, "-m", "mailhub", "init"], env=env, check=True, capture_output=True
    )
    service = subprocess.Popen(
        [sys.executable, "-m", "mailhub", "serve", "--no-send"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        # A service runs for days: let the worker processes finish starting (imports, first
        # queries) so the run measures steady work, as the reference servers' runs do.
        time.sleep(SETTLE_SECONDS)
        children = subprocess.run(["pgrep", "-P", str(service.pid)], capture_output=True, text=True)
        pids = [service.pid, *map(int, children.stdout.split())]
        before = {pid: cpu_seconds(pid) for pid in pids}
        started = time.perf_counter()
        accepted = len(messages) / blast(port, messages, connections)
        deadline = time.monotonic() + PROCESS_TIMEOUT
        while (done := count_processed(url)) < len(messages):
            if time.monotonic() > deadline:
                raise SystemExit(f"only {done} of {len(messages)} posts after {PROCESS_TIMEOUT} s")
            time.sleep(0.02)
        processed = len(messages) / (time.perf_counter() - started)
        memory = peak_rss_mib(pids)
        cpu = {pid: (cpu_seconds(pid) - before[pid]) * 1000 / len(messages) for pid in pids}
    finally:
        service.send_signal(signal.SIGTERM)
        service.wait(60)
    return accepted, processed, memory, cpu


@dataclass
class Round:
    bare: float
    bare_cpu: float
    parse_commit: float
    parse_cpu: float
    accepted: float
    processed: float
    memory: float
    cpu: list[float]


def one_round(messages: list[bytes], connections: int, workers: int, database: str | None) -> Round:
    """The three servers one after another, each on fresh temporary storage."""
    with tempfile.TemporaryDirectory() as folder:
        bare, bare_cpu = run_reference("bare", messages, connections, folder)
        parse_commit, parse_cpu = run_reference("parse", messages, connections, folder)
        accepted, processed, memory, cpu = run_mailhub(
            messages, connections, folder, workers, database
        )
    return Round(
        bare, bare_cpu, parse_commit, parse_cpu, accepted, processed, memory, list(cpu.values())
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2, help="mailhub worker processes")
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds of all three; medians are reported"
    )
    parser.add_argument(
        "--database-url",
        help="mailhub's store on PostgreSQL: this database is dropped and created each round "
        "(the references keep SQLite)",
    )
    parser.add_argument(
        "--worker-priority",
        default="idle",
        choices=["mixed", "low", "idle"],
        help="inbound.worker_priority for mailhub's workers",
    )
    parser.add_argument("--reference", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    PRIORITY[0] = args.worker_priority
    if args.reference:
        kind, port, folder = args.reference
        serve_reference(kind, int(port), folder)
        return
    messages = [make_message(i) for i in range(args.messages)]
    size = sum(map(len, messages)) / len(messages)
    print(
        f"{args.messages} messages of {size / 1024:.1f} KB over {args.connections} connections, "
        f"{args.workers} mailhub workers, {args.rounds} rounds, "
        f"mailhub store {'PostgreSQL' if args.database_url else 'SQLite'}"
    )
    rounds = []
    for number in range(1, args.rounds + 1):
        found = one_round(messages, args.connections, args.workers, args.database_url)
        rounds.append(found)
        print(
            f"  round {number}: bare {found.bare:5.0f}  parse+commit {found.parse_commit:5.0f}  "
            f"accepted {found.accepted:5.0f} ({found.accepted / found.bare:.0%})  "
            f"processed {found.processed:5.0f} ({found.processed / found.parse_commit:.0%}) msg/s"
        )
    share_accepted = median(r.accepted / r.bare for r in rounds)
    share_done = median(r.processed / r.parse_commit for r in rounds)
    print("medians:")
    print(
        f"reference, bare aiosmtpd (250 only):          {median(r.bare for r in rounds):8.0f} msg/s"
    )
    print(
        "reference, aiosmtpd + parse + SQLite commit:  "
        f"{median(r.parse_commit for r in rounds):8.0f} msg/s"
    )
    print(
        f"mailhub accepted (250 received):              {median(r.accepted for r in rounds):8.0f}"
        f" msg/s = {share_accepted:.0%} of bare"
    )
    print(
        f"mailhub processed into held posts:            {median(r.processed for r in rounds):8.0f}"
        f" msg/s = {share_done:.0%} of parse+commit"
    )
    memory = max(r.memory for r in rounds)
    print(f"mailhub peak memory (all processes, RSS):     {memory:8.0f} MiB")
    client = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"bench client peak RSS: {client:.0f} MiB")
    count = min(len(r.cpu) for r in rounds)
    shares = "  ".join(f"{median(r.cpu[i] for r in rounds):.2f}" for i in range(count))
    print(
        f"server CPU per message (ms): bare {median(r.bare_cpu for r in rounds):.2f}, "
        f"parse+commit {median(r.parse_cpu for r in rounds):.2f}, "
        f"mailhub processes {shares} (service first, then its children)"
    )


if __name__ == "__main__":
    main()
