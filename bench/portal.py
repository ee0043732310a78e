"""The portal under load: a SQLite store seeded with 100,000 posts in 10,000 conversations
(bulk inserts), served by the real web app on uvicorn in a child process, against a bare
Starlette endpoint answering a fixed page of the same size in the same run (also in a child
process, behind the same security headers). Prints requests per second and p50/p95
latency for the community home, a 50-post conversation, a theme page and the resource
library. Targets: p95 <= 50 ms for every page; the conversation >= 25 % of the bare rate.

    python bench/portal.py [--threads 10000] [--posts 100000] [--seconds 5] [--clients 1 4]

Visitors (no session) are served pages kept under the store's change count
(mailhub/portal/cache.py); the last lines measure the same pages built for every request,
as a signed-in reader gets them.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import random
import socket
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from mailhub import config, db
from mailhub.clock import FrozenClock
from mailhub.communities import get_community, seed_from_settings
from mailhub.context import Context
from mailhub.models import Discussion, Event, Membership, NewsItem, Person, Post, Resource, Thread

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
THEMES = ["skills", "green-jobs", "wage-policy", "social-dialogue", "labour-migration"]
COUNTRIES = ["TH", "VN", "ID", "PH", "MY", "KH", "LA", "MM", "IN", "BD"]
TEXT = (
    "Our federation met the labour ministry on the reform of wage councils; the employers "
    "asked for a longer transition and the unions for a review clause. "
)
CHUNK = 5000


def settings_for(base: Path) -> dict[str, Any]:
    return {
        "instance": {
            "secret": "bench-secret-0123456789abcdef",
            "data_dir": str(base / "data"),
            "public_url": "http://127.0.0.1",
        },
        "database": {"url": f"sqlite:///{base / 'bench.db'}"},
        "themes": [{"slug": s, "name": s.replace("-", " ").capitalize()} for s in THEMES],
        "communities": [{"slug": "irnet", "name": "IRNet", "archive": "public"}],
    }


def context(base: Path) -> Context:
    return Context.from_settings(config.from_mapping(settings_for(base)), clock=FrozenClock(NOW))


def bulk(connection: Any, model: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), CHUNK):
        connection.execute(insert(model.__table__), rows[start : start + CHUNK])


def seed(base: Path, threads: int, posts: int) -> int:
    """The store; returns the id of the 50-post conversation."""
    ctx = context(base)
    db.upgrade(ctx.engine)
    rng = random.Random(16)
    naive = NOW.replace(tzinfo=None)
    with ctx.session() as session:
        seed_from_settings(session, ctx.settings, NOW)
        community = get_community(session, "irnet")
        cid = community.id
        connection = session.connection()
        people = [
            {"email": f"m{n}@example.org", "name": f"Member {n}", "affiliation": "workers",
             "country": COUNTRIES[n % 10], "organisation": f"Org {n % 50}",
             "bounce_score": 0.0, "created_at": naive}
            for n in range(1000)
        ]  # fmt: skip
        bulk(connection, Person, people)
        bulk(connection, Membership, [
            {"community_id": cid, "person_id": n + 1, "role": "member", "delivery": "each",
             "digest_format": "mime", "moderated": False, "status": "active", "themes": [],
             "only_my_themes": False, "event_reminders": True, "joined_at": naive,
             "updated_at": naive}
            for n in range(1000)
        ])  # fmt: skip
        first = naive - timedelta(days=threads // 10)
        thread_rows = [
            {"community_id": cid, "subject": f"Conversation {n} on wage councils",
             "normalised_subject": f"conversation {n}", "themes": [rng.choice(THEMES)],
             "post_count": 0, "created_at": first + timedelta(minutes=144 * n),
             "last_activity_at": first + timedelta(minutes=144 * n + 600)}
            for n in range(threads)
        ]  # fmt: skip
        bulk(connection, Thread, thread_rows)
        per_thread = [50] + [(posts - 50) // (threads - 1)] * (threads - 1)
        post_rows, number = [], 0
        for thread_index, count in enumerate(per_thread):
            created = thread_rows[thread_index]["created_at"]
            for k in range(count):
                number += 1
                body = TEXT * (1 + number % 3)
                post_rows.append(
                    {"community_id": cid, "thread_id": thread_index + 1,
                     "person_id": 1 + number % 1000, "message_id": f"p{number}@example.org",
                     "references": [], "kind": "post", "author_email": "", "author_name": "",
                     "subject": "Re: conversation", "status": "approved", "body_text": body,
                     "full_text": body + "\n\nOn Monday someone wrote:\n> " + TEXT,
                     "received_at": created + timedelta(minutes=k)}
                )  # fmt: skip
            if len(post_rows) >= CHUNK:
                bulk(connection, Post, post_rows)
                post_rows = []
        bulk(connection, Post, post_rows)
        bulk(connection, Resource, [
            {"community_id": cid, "title": f"Resource {n}", "url": "https://example.org/r",
             "kind": "research", "description": TEXT, "themes": [rng.choice(THEMES)],
             "country": COUNTRIES[n % 10], "added_via": "cli",
             "created_at": naive - timedelta(days=n)}
            for n in range(500)
        ])  # fmt: skip
        bulk(connection, Event, [
            {"community_id": cid, "uid": f"e{n}@example.org", "title": f"Event {n}",
             "description": TEXT, "starts_at": naive + timedelta(days=n - 100),
             "timezone": "Asia/Bangkok", "location": "Bangkok", "themes": [THEMES[n % 5]],
             "status": "approved", "created_at": naive}
            for n in range(200)
        ])  # fmt: skip
        bulk(connection, NewsItem, [
            {"community_id": cid, "title": f"News {n}", "body": TEXT, "themes": [THEMES[n % 5]],
             "status": "approved", "created_at": naive, "published_at": naive - timedelta(days=n)}
            for n in range(100)
        ])  # fmt: skip
        bulk(connection, Discussion, [
            {"community_id": cid, "title": f"Discussion {n}", "question": TEXT,
             "themes": [THEMES[n % 5]], "state": "summarised", "synopsis": TEXT * 5,
             "synopsis_at": naive - timedelta(days=n), "synopsis_version": 1,
             "opens_at": naive - timedelta(days=n + 14), "closes_at": naive - timedelta(days=n),
             "created_at": naive}
            for n in range(20)
        ])  # fmt: skip
    ctx.engine.dispose()
    return 1


def serve_portal(base: Path, port: int) -> None:
    import uvicorn

    from mailhub.web.app import create_app

    uvicorn.run(create_app(context(base)), port=port, log_level="warning", access_log=False)


def serve_bare(size: int, port: int) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    from mailhub.web.app import SecurityHeaders

    page = "<!doctype html><title>x</title>" + "x" * max(size - 30, 0)

    async def fixed(request: Any) -> HTMLResponse:
        return HTMLResponse(page)

    app = SecurityHeaders(Starlette(routes=[Route("/", fixed)]))
    uvicorn.run(app, port=port, log_level="warning", access_log=False)


def get(connection: http.client.HTTPConnection, path: str, headers: dict[str, str]) -> bytes:
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    body = response.read()
    assert response.status == 200, (path, response.status)
    return body


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/")
            connection.getresponse().read()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"server on {port} did not start")


def load(
    port: int, path: str, seconds: float, clients: int, headers: dict[str, str]
) -> tuple[float, float, float]:
    """Requests per second, p50 and p95 in ms, with ``clients`` keep-alive connections."""
    latencies: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine = []
        while time.monotonic() < stop:
            started = time.perf_counter()
            get(connection, path, headers)
            mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)

    workers = [threading.Thread(target=client) for _ in range(clients)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    ordered = sorted(latencies)
    p95 = ordered[int(len(ordered) * 0.95)] * 1000
    return len(ordered) / seconds, statistics.median(ordered) * 1000, p95


def measure(
    name: str, port: int, path: str, headers: dict[str, str], args: Any, clients: int
) -> float:
    """Warm up, load, print one line (targets apply to the portal's pages); the rate."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for _ in range(30):
        get(connection, path, headers)
    rate, p50, p95 = load(port, path, args.seconds, clients, headers)
    verdict = "" if name.startswith("bare") else ("  ok" if p95 <= 50 else "  OVER 50 ms")
    print(f"{name:30} {rate:8.1f} req/s  p50 {p50:6.1f} ms  p95 {p95:6.1f} ms{verdict}")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=10_000)
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        started = time.perf_counter()
        thread_id = seed(base, args.threads, args.posts)
        print(f"seeded {args.posts:,} posts in {args.threads:,} conversations "
              f"in {time.perf_counter() - started:.1f} s")  # fmt: skip
        spawn = multiprocessing.get_context("spawn")
        portal_port, bare_port = free_port(), free_port()
        portal = spawn.Process(target=serve_portal, args=(base, portal_port), daemon=True)
        portal.start()
        wait_for(portal_port)
        warm = http.client.HTTPConnection("127.0.0.1", portal_port, timeout=30)
        conversation = f"/c/irnet/t/{thread_id}"
        size = len(get(warm, conversation, {}))
        bare = spawn.Process(target=serve_bare, args=(size, bare_port), daemon=True)
        bare.start()
        wait_for(bare_port)
        pages = [
            ("community home", "/c/irnet/"),
            ("conversation (50 posts)", conversation),
            ("theme page", "/themes/skills/"),
            ("resource library", "/c/irnet/resources/?theme=skills"),
        ]
        # Visitors are served kept pages; a reader with a session gets each page built.
        built = {"cookie": "mailhub_session=bench-reader-without-a-live-session"}
        for clients in args.clients:
            print(f"-- {clients} client(s)")
            bare_rate = measure("bare Starlette (fixed page)", bare_port, "/", {}, args, clients)
            for name, path in pages:
                rate = measure(name, portal_port, path, {}, args, clients)
                if path == conversation:
                    print(f"conversation rate / bare rate: {rate / bare_rate:.0%} (target >= 25 %)")
        print("-- built for each request (a reader with a session), 1 client")
        for name, path in pages:
            measure(name, portal_port, path, built, args, 1)
        for process in (portal, bare):
            process.terminate()
            process.join()


if __name__ == "__main__":
    main()
