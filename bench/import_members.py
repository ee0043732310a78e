"""Import N generated members from CSV into a fresh SQLite store; print members per second
and peak memory. Target: 10,000 members in under 5 seconds.

    python bench/import_members.py [--members 10000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import csv
import random
import resource
import tempfile
import time
import tracemalloc
from pathlib import Path

from mailhub import db
from mailhub.clock import Clock
from mailhub.communities import add_theme, create_community
from mailhub.member_import import import_members

AFFILIATIONS = ["government", "workers", "employers", "staff", "academic", "other"]
COUNTRIES = ["KE", "UG", "TZ", "RW", "ET", "ZA", "NG", "GH", "SN", "CI", "FR", "CH", "DE"]
THEMES = ["skills", "green-jobs", "youth-employment", "labour-migration"]


def write_csv(path: Path, members: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["email", "name", "affiliation", "country", "organisation", "themes", "delivery"]
        )
        for i in range(members):
            writer.writerow(
                [
                    f"Member.{i}@Org{i % 97}.Example.ORG",
                    f"Member {i}",
                    rng.choice(AFFILIATIONS),
                    rng.choice(COUNTRIES),
                    f"Organisation {i % 301}",
                    ";".join(rng.sample(THEMES, rng.randint(0, 2))),
                    rng.choice(["each", "each", "digest", "none"]),
                ]
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        path = base / "members.csv"
        write_csv(path, args.members)
        engine = db.make_engine(args.database_url or f"sqlite:///{base / 'bench.db'}")
        db.upgrade(engine)
        now = Clock().now()
        with db.session_scope(engine) as session:
            community = create_community(session, slug="bench", name="Bench", now=now)
            for theme in THEMES:
                add_theme(session, theme, theme)
        for label in ("first import", "re-import (no changes)"):
            started = time.perf_counter()
            with db.session_scope(engine) as session:
                report = import_members(session, community, path, now)
            elapsed = time.perf_counter() - started
            print(
                f"{label}: {args.members} members in {elapsed:.2f} s "
                f"= {args.members / elapsed:,.0f} members/s; added {report.created}, "
                f"unchanged {report.unchanged}, bad {len(report.bad)}"
            )
        # Memory is measured on a separate pass, since tracing slows the code it traces.
        tracemalloc.start()
        with db.session_scope(engine) as session:
            import_members(session, community, path, now)
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"peak traced Python memory during an import: {peak / 2**20:.1f} MiB")
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"process peak RSS {rss:.0f} MiB")


if __name__ == "__main__":
    main()
