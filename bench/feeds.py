"""Feeds and mbox downloads under load, on the store of bench/portal.py (100,000 posts in
10,000 conversations, SQLite), served by the real web app on uvicorn in a child process,
against a bare Starlette endpoint answering a fixed page of the community feed's size in
the same run. Prints requests per second and p50/p95 latency for the community feed, a
theme's feed, a 50-post conversation's feed, its mbox and a month's mbox; then the time to
write a 50-entry Atom document in-process, against the feedgen library when it is
installed (the choice of writing Atom with ElementTree rests on this figure).

    python bench/feeds.py [--threads 10000] [--posts 100000] [--seconds 5] [--clients 4]
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from portal import NOW, free_port, get, load, seed, serve_bare, serve_portal, wait_for

from mailhub.portal.atom import Entry, Feed, document

ROUNDS = 2000


def sample_feed() -> Feed:
    text = "<p>Our federation met the labour ministry on the reform of wage councils.</p>" * 3
    entries = [
        Entry(
            id=f"tag:lists.example.org,2026-03-01:post/{n}",
            title=f"Re: conversation {n} on wage councils",
            link=f"https://lists.example.org/c/irnet/t/{n}#p{n}",
            updated=NOW - timedelta(minutes=n),
            published=NOW - timedelta(minutes=n),
            author=f"Member {n}",
            html=text,
            categories=("skills",),
        )
        for n in range(50)
    ]
    return Feed(
        id="https://lists.example.org/c/irnet/feed.atom",
        title="IRNet",
        link="https://lists.example.org/c/irnet/",
        self_link="https://lists.example.org/c/irnet/feed.atom",
        updated=NOW,
        author="mailhub",
        entries=entries,
    )


def with_feedgen(feed: Feed) -> bytes:
    from feedgen.feed import FeedGenerator

    generator = FeedGenerator()
    generator.id(feed.id)
    generator.title(feed.title)
    generator.link(href=feed.link, rel="alternate")
    generator.link(href=feed.self_link, rel="self")
    generator.updated(feed.updated)
    generator.author(name=feed.author)
    for item in feed.entries:
        entry = generator.add_entry(order="append")
        entry.id(item.id)
        entry.title(item.title)
        entry.link(href=item.link, rel="alternate")
        entry.updated(item.updated)
        entry.published(item.published)
        entry.author(name=item.author)
        entry.content(item.html, type="html")
        for term in item.categories:
            entry.category(term=term)
    return bytes(generator.atom_str())


def writers() -> None:
    feed = sample_feed()
    candidates = {"mailhub (strings)": lambda: document(feed, "mailhub")}
    try:
        import feedgen  # noqa: F401
    except ImportError:
        print("feedgen is not installed: only mailhub's writer is measured")
    else:
        candidates["feedgen (lxml)"] = lambda: with_feedgen(feed)
    for name, write in candidates.items():
        write()
        started = time.perf_counter()
        for _ in range(ROUNDS):
            size = len(write())
        each = (time.perf_counter() - started) / ROUNDS * 1e6
        print(f"50-entry Atom document, {name:22} {each:8.0f} µs  ({size:,} bytes)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=10_000)
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        thread_id = seed(base, args.threads, args.posts)
        spawn = multiprocessing.get_context("spawn")
        portal_port, bare_port = free_port(), free_port()
        portal = spawn.Process(target=serve_portal, args=(base, portal_port), daemon=True)
        portal.start()
        wait_for(portal_port)
        warm = http.client.HTTPConnection("127.0.0.1", portal_port, timeout=30)
        size = len(get(warm, "/c/irnet/feed.atom"))
        bare = spawn.Process(target=serve_bare, args=(size, bare_port), daemon=True)
        bare.start()
        wait_for(bare_port)
        month = f"/c/irnet/{NOW - timedelta(days=40):%Y/%m}.mbox"
        month_size = len(get(warm, month))
        targets = [
            ("bare Starlette (fixed page)", bare_port, "/"),
            ("community feed (50 posts)", portal_port, "/c/irnet/feed.atom"),
            ("theme feed", portal_port, "/themes/skills/feed.atom"),
            ("conversation feed (50)", portal_port, f"/c/irnet/t/{thread_id}/feed.atom"),
            ("conversation mbox (50)", portal_port, f"/c/irnet/t/{thread_id}.mbox"),
            (f"month mbox ({month_size // 1024} KB)", portal_port, month),
        ]
        for name, port, path in targets:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            for _ in range(5):
                get(connection, path)
            rate, p50, p95 = load(port, path, args.seconds, args.clients)
            print(f"{name:30} {rate:8.1f} req/s  p50 {p50:7.1f} ms  p95 {p95:7.1f} ms")
        for process in (portal, bare):
            process.terminate()
            process.join()
    writers()


if __name__ == "__main__":
    main()
