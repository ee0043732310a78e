"""Moderation throughput through the real service: N member posts over SMTP into a community
where every post is held, then every one approved by a moderator's reply over SMTP.

Prints held posts per second until every moderator notification is in the outbox, CPU
milliseconds per held post (all service processes), and the same for approvals decided by
email. Target: 100 held posts per second or more.

    python bench/moderation.py [--posts 1000] [--members 50]
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import smtplib
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from ingest import free_port, wait_for_port

CONFIG = """
[instance]
secret = "bench-secret-0123456789"
data_dir = "{data}"
domain = "lists.example.org"
[smtp]
port = {port}
[[communities]]
slug = "bench"
name = "Bench"
moderation = "all"
"""
LIST = "bench@lists.example.org"
MODERATORS = ["mod1@example.org", "mod2@example.org"]


def cpu_seconds(pids: list[int]) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def service_pids(service: subprocess.Popen[bytes]) -> list[int]:
    children = subprocess.run(["pgrep", "-P", str(service.pid)], capture_output=True, text=True)
    return [service.pid, *map(int, children.stdout.split())]


def send_all(port: int, mails: list[tuple[str, str, bytes]], connections: int = 4) -> None:
    slices = [mails[i::connections] for i in range(connections)]

    def run(part: list[tuple[str, str, bytes]]) -> None:
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
            for sender, rcpt, raw in part:
                smtp.sendmail(sender, [rcpt], raw)

    threads = [threading.Thread(target=run, args=(p,)) for p in slices]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def post(number: int, members: int) -> tuple[str, str, bytes]:
    sender = f"member{number % members}@example.org"
    raw = (
        f"From: Member {number % members} <{sender}>\r\nTo: {LIST}\r\n"
        f"Subject: Contribution {number}\r\nMessage-ID: <mod-bench-{number}@example.org>\r\n\r\n"
        f"Our ministry convened the social partners on platform work; see the note.\r\n"
    ).encode()
    return sender, LIST, raw


def count(db: Path, sql: str) -> int:
    with sqlite3.connect(db) as connection:
        return connection.execute(sql).fetchone()[0]


def wait_until(db: Path, sql: str, target: int, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while count(db, sql) < target:
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {sql} to reach {target}")
        time.sleep(0.02)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=1000)
    parser.add_argument("--members", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        config = Path(folder) / "config.toml"
        config.write_text(CONFIG.format(data=f"{folder}/data", port=port))
        env = {**os.environ, "MAILHUB_CONFIG": str(config)}
        run = [sys.executable, "-m", "mailhub"]
        subprocess.run([*run, "init"], env=env, check=True, capture_output=True)
        members = Path(folder) / "members.csv"
        rows = [f"{m},Moderator,government,KE,,,moderator,each," for m in MODERATORS]
        rows += [
            f"member{i}@example.org,Member {i},workers,UG,,,member,each,"
            for i in range(args.members)
        ]
        members.write_text(
            "email,name,affiliation,country,organisation,themes,role,delivery,moderated\n"
            + "\n".join(rows)
            + "\n"
        )
        subprocess.run(
            [*run, "member", "import", str(members), "-c", "bench"],
            env=env,
            check=True,
            capture_output=True,
        )
        db = Path(folder) / "data" / "mailhub.db"
        service = subprocess.Popen(
            [*run, "serve", "--no-send", "--no-imap"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for_port(port)
            time.sleep(1.0)
            pids = service_pids(service)
            posts = [post(i, args.members) for i in range(args.posts)]
            cpu0, t0 = cpu_seconds(pids), time.perf_counter()
            send_all(port, posts)
            wait_until(
                db,
                "SELECT COUNT(*) FROM outbound_message WHERE kind='held'",
                args.posts * len(MODERATORS),
            )
            held_s, held_cpu = time.perf_counter() - t0, cpu_seconds(pids) - cpu0
            print(
                f"{args.posts} posts held, {args.posts * len(MODERATORS)} notifications queued "
                f"in {held_s:.2f} s"
            )
            print(f"held posts per second:          {args.posts / held_s:8.0f}")
            print(f"CPU per held post:              {held_cpu / args.posts * 1000:8.1f} ms")

            with sqlite3.connect(db) as connection:
                notes = connection.execute(
                    "SELECT recipient, raw FROM outbound_message WHERE kind='held' AND recipient=?",
                    (MODERATORS[0],),
                ).fetchall()
            replies = []
            for recipient, raw in notes:
                address = re.search(rb"bench\+m-[a-z0-9.]+@lists\.example\.org", raw)
                assert address, "no decision address in a notification"
                to = address.group(0).decode()
                text = f"From: {recipient}\r\nTo: {to}\r\nSubject: Re: held\r\n\r\napprove\r\n"
                replies.append((recipient, to, text.encode()))
            cpu0, t0 = cpu_seconds(pids), time.perf_counter()
            send_all(port, replies)
            wait_until(db, "SELECT COUNT(*) FROM post WHERE status='approved'", args.posts)
            approve_s, approve_cpu = time.perf_counter() - t0, cpu_seconds(pids) - cpu0
            deliveries = count(db, "SELECT COUNT(*) FROM outbound_message WHERE kind='post'")
            print(
                f"{args.posts} approvals by email in {approve_s:.2f} s "
                f"({deliveries} deliveries queued)"
            )
            print(f"approvals per second:           {args.posts / approve_s:8.0f}")
            print(f"CPU per approval:               {approve_cpu / args.posts * 1000:8.1f} ms")
        finally:
            service.send_signal(signal.SIGTERM)
            service.wait(60)


if __name__ == "__main__":
    main()
