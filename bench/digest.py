"""Digests for N digest-mode members over P new posts, rendered and queued in the outbox.
Prints seconds and peak memory. Target: 10,000 members and 200 posts in under 20 s, memory
flat in the number of members (compare the traced peaks of --members 1000 and 10000).

    python bench/digest.py [--members 10000] [--posts 200] [--database-url URL] [--trace]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select

from mailhub import config, db
from mailhub.clock import FrozenClock
from mailhub.communities import get_community, seed_from_settings
from mailhub.context import Context
from mailhub.digest.digests import send_issue
from mailhub.models import Membership, OutboundMessage, Person, Post, PostStatus, Thread, table_of

DUE = datetime(2026, 3, 2, 5, 0, tzinfo=UTC)
JOINED = DUE - timedelta(days=7)
PARAGRAPH = (
    "Our federation met the labour ministry on the reform of wage councils; the employers "
    "asked for a longer transition and the unions for a review clause. "
)


def make_context(base: Path, url: str | None) -> Context:
    settings = config.from_mapping(
        {
            "instance": {
                "secret": "bench-secret-0123456789abcdef",
                "data_dir": str(base / "data"),
                "public_url": "https://lists.example.org",
            },
            "database": {"url": url or f"sqlite:///{base / 'bench.db'}"},
            "communities": [{"slug": "irnet", "name": "IRNet", "timezone": "Africa/Nairobi"}],
        }
    )
    ctx = Context.from_settings(settings, clock=FrozenClock(DUE))
    db.upgrade(ctx.engine)
    with ctx.session() as session:
        seed_from_settings(session, settings, ctx.now())
    return ctx


def populate(ctx: Context, members: int, posts: int) -> int:
    naive = JOINED.replace(tzinfo=None)
    with ctx.session() as session:
        community = get_community(session, "irnet")
        connection = session.connection()
        connection.execute(
            insert(table_of(Person)),
            [
                {
                    "email": f"member.{i}@org{i % 97}.example.org",
                    "name": f"Member {i}",
                    "affiliation": "workers",
                    "country": "KE",
                    "organisation": "",
                    "bounce_score": 0.0,
                    "created_at": naive,
                }
                for i in range(members)
            ],
        )
        ids = connection.execute(select(table_of(Person).c.id)).scalars().all()
        connection.execute(
            insert(table_of(Membership)),
            [
                {
                    "community_id": community.id,
                    "person_id": pid,
                    "role": "member",
                    "delivery": "digest",
                    "digest_format": "rfc1153" if pid % 10 == 0 else "mime",
                    "moderated": False,
                    "status": "active",
                    "themes": [],
                    "only_my_themes": False,
                    "event_reminders": True,
                    "joined_at": naive,
                    "updated_at": naive,
                }
                for pid in ids
            ],
        )
        threads = [
            Thread(
                community_id=community.id,  # type: ignore[arg-type]
                subject=f"Wage councils after the reform, part {t}",
                created_at=JOINED,
                last_activity_at=JOINED,
            )
            for t in range(posts // 5 or 1)
        ]
        session.add_all(threads)
        session.flush()
        for n in range(posts):
            at = JOINED + timedelta(minutes=n + 1)
            session.add(
                Post(
                    community_id=community.id,  # type: ignore[arg-type]
                    thread_id=threads[n % len(threads)].id,
                    person_id=ids[n % len(ids)],
                    message_id=f"bench-{n}@mail.example.org",
                    author_email=f"member.{n}@example.org",
                    author_name=f"Amélie Member {n}",
                    subject=f"Re: Wage councils after the reform, part {n % len(threads)}",
                    status=PostStatus.APPROVED.value,
                    body_text=PARAGRAPH * (3 + n % 6),
                    received_at=at,
                    decided_at=at,
                )
            )
        assert community.id is not None
        return community.id


def run(url: str | None, members: int, posts: int, trace: bool) -> None:
    with tempfile.TemporaryDirectory() as folder:
        ctx = make_context(Path(folder), url)
        community_id = populate(ctx, members, posts)
        if trace:
            tracemalloc.start()
        started = time.perf_counter()
        report = send_issue(ctx, community_id, DUE)
        seconds = time.perf_counter() - started
        line = f"{members:>6} members, {posts} posts: {report.queued} digests in {seconds:.2f} s"
        if trace:
            _current, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            line += f"; peak traced Python memory {peak / 2**20:.0f} MiB"
        with ctx.session() as session:
            size = (
                session.connection()
                .execute(select(func.avg(func.length(OutboundMessage.raw))))
                .scalar_one()
            )  # type: ignore[arg-type]
        print(f"{line}; average digest {float(size) / 1000:.0f} kB")
        ctx.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--posts", type=int, default=200)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument(
        "--trace", action="store_true", help="also trace memory at a tenth and all the members"
    )
    args = parser.parse_args()
    run(args.database_url, args.members, args.posts, trace=False)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"process peak RSS {rss:.0f} MiB (target: under 20 s for 10,000 members, 200 posts)")
    if args.trace:
        for members in (args.members // 10, args.members):
            run(args.database_url, members, args.posts, trace=True)


if __name__ == "__main__":
    main()
