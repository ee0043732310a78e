"""Search over a large store, on SQLite and on PostgreSQL in the same run.

1. Index: a store of N posts (default 100,000, in conversations of 10) and M resource
   files (default 2,000: PDF, DOCX, ODT and HTML in turn, each with its own words) is
   indexed from scratch with `search.index.reindex` (what `mailhub search reindex` runs);
   prints seconds and documents per second.
2. Queries: p50 and p95 of `search.results.search` (ranking, filters, the page of hits
   and their snippets) for a word, a phrase and a filtered query (word + theme + country +
   in:post), each drawn at random from words the posts really use, 200 times each, against
   a bare `SELECT ... LIMIT 20` of the same store in the same run. Target: p95 <= 50 ms on
   SQLite.
3. Ingest: `mailhub serve` (moderation "none", so each post is approved and queued for the
   index on intake; serve's indexer process catches up once the burst settles) takes K
   messages over SMTP with
   [search] enabled = false, then = true, alternately for R rounds; prints the processed
   rate of each and the time the index needed to catch up. Target: with indexing >= 90 %
   of without.

    python bench/search.py [--posts 100000] [--files 2000] [--messages 2000] [--rounds 2]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/mailhub_search_bench]
        [--no-postgres] [--no-ingest]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import itertools
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ingest import blast, free_port, fresh_database, wait_for_port
from sqlalchemy import create_engine, insert, text
from sqlalchemy.pool import NullPool

from mailhub import config, db
from mailhub.clock import FrozenClock
from mailhub.communities import get_community, seed_from_settings
from mailhub.context import Context
from mailhub.inbound.attachments import save
from mailhub.models import Person, Post, Resource, Thread
from mailhub.search import index
from mailhub.search.query import parse
from mailhub.search.results import search

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
THEMES = ["skills", "green-jobs", "wage-policy", "social-dialogue", "labour-migration"]
COUNTRIES = ["TH", "VN", "ID", "PH", "MY", "KH", "LA", "MM", "IN", "BD"]
CHUNK = 5000
QUERIES = 200
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/mailhub_search_bench"


def vocabulary(rng: random.Random, size: int = 20_000) -> list[str]:
    """Made-up words with a Zipf-like use: a few common, most rare, as in real mail."""
    syllables = ["ka", "lo", "mi", "ne", "ra", "tu", "sa", "vi", "do", "pe", "zu", "ha", "ti"]
    words = {"".join(rng.choices(syllables, k=rng.randint(2, 4))) for _ in range(size * 2)}
    return sorted(words)[:size]


def sentence(rng: random.Random, words: list[str], cumulative: list[float], n: int) -> str:
    return " ".join(rng.choices(words, cum_weights=cumulative, k=n)) + "."


def settings_for(base: Path, url: str) -> dict[str, Any]:
    return {
        "instance": {"secret": "bench-secret-0123456789abcdef", "data_dir": str(base / "data")},
        "database": {"url": url},
        "themes": [{"slug": s, "name": s} for s in THEMES],
        "communities": [{"slug": "irnet", "name": "IRNet", "archive": "public"}],
    }


def pdf_bytes(words: str) -> bytes:
    """A one-page PDF whose text is ``words`` (Helvetica, latin-1)."""
    lines = [words[i : i + 80] for i in range(0, len(words), 80)][:40]
    stream = "BT /F1 10 Tf 40 800 Td 12 TL " + " ".join(f"({line}) '" for line in lines) + " ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        "/Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = io.BytesIO(), []
    out.write(b"%PDF-1.4\n")
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1"))
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(
        f"trailer << /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return out.getvalue()


def zipped(member: str, xml: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(member, xml)
    return out.getvalue()


def file_of(kind: int, words: str) -> tuple[str, str, bytes]:
    if kind == 0:
        return "doc.pdf", "application/pdf", pdf_bytes(words)
    if kind == 1:
        w = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
        paragraph = f"<w:p><w:r><w:t>{words}</w:t></w:r></w:p>"
        xml = f'<w:document xmlns:w="{w}"><w:body>{paragraph}</w:body></w:document>'
        mime = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        return "doc.docx", mime, zipped("word/document.xml", xml)
    if kind == 2:
        t = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
        body = f"<text:p>{words}</text:p>"
        o = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
        root = f'office:document-content xmlns:office="{o}" xmlns:text="{t}"'
        xml = f"<{root}>{body}</office:document-content>"
        return "doc.odt", "application/vnd.oasis.opendocument.text", zipped("content.xml", xml)
    return "doc.html", "text/html", f"<html><body><p>{words}</p></body></html>".encode()


def seed(ctx: Context, posts: int, files: int, rng: random.Random) -> list[str]:
    """The store, bulk-inserted; returns the vocabulary, commonest first."""
    words = vocabulary(rng)
    weights = list(itertools.accumulate(1 / (rank + 1) for rank in range(len(words))))
    naive = NOW.replace(tzinfo=None)
    root = ctx.settings.data_dir / "attachments"
    with ctx.session() as session:
        seed_from_settings(session, ctx.settings, NOW)
        cid = get_community(session, "irnet").id
        connection = session.connection()
        connection.execute(insert(Person.__table__), [
            {"email": f"m{n}@example.org", "name": f"Member {words[n]}", "affiliation": "workers",
             "country": COUNTRIES[n % 10], "organisation": "", "bounce_score": 0.0,
             "created_at": naive}
            for n in range(1000)
        ])  # fmt: skip
        threads = max(posts // 10, 1)
        connection.execute(insert(Thread.__table__), [
            {"community_id": cid, "subject": sentence(rng, words, weights, 5),
             "normalised_subject": "", "themes": [THEMES[n % 5]], "post_count": 10,
             "created_at": naive - timedelta(hours=n), "last_activity_at": naive}
            for n in range(threads)
        ])  # fmt: skip
        rows: list[dict[str, Any]] = []
        for n in range(posts):
            body = " ".join(sentence(rng, words, weights, rng.randint(8, 20)) for _ in range(8))
            rows.append(
                {"community_id": cid, "thread_id": 1 + n // 10, "person_id": 1 + n % 1000,
                 "message_id": f"p{n}@example.org", "references": [], "kind": "post",
                 "author_email": f"m{n % 1000}@example.org", "author_name": f"Member {n % 1000}",
                 "subject": f"Re: {words[n % 500]}", "status": "approved", "body_text": body,
                 "full_text": body, "received_at": naive - timedelta(minutes=n)}
            )  # fmt: skip
            if len(rows) == CHUNK:
                connection.execute(insert(Post.__table__), rows)
                rows = []
        if rows:
            connection.execute(insert(Post.__table__), rows)
        resources = []
        for n in range(files):
            text_ = " ".join(sentence(rng, words, weights, 15) for _ in range(20))
            name, mime, data = file_of(n % 4, text_)
            digest = hashlib.sha256(data).hexdigest()
            save(root, digest, data)
            resources.append(
                {"community_id": cid, "title": f"Study {n}", "sha256": digest, "filename": name,
                 "content_type": mime, "size": len(data), "kind": "research", "description": "",
                 "themes": [THEMES[n % 5]], "country": COUNTRIES[n % 10], "added_via": "cli",
                 "created_at": naive - timedelta(days=n)}
            )  # fmt: skip
        connection.execute(insert(Resource.__table__), resources)
    return words


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.95) - 1]


def measure_queries(
    ctx: Context, words: list[str], rng: random.Random
) -> dict[str, tuple[float, float]]:
    """p50/p95 in ms of each kind of query, and of a bare LIMIT 20 as the reference."""
    with ctx.session() as session:
        community = get_community(session, "irnet")
        sample = (
            session.connection()
            .execute(text("SELECT body_text FROM post ORDER BY id LIMIT 2000"))
            .scalars()
            .all()
        )
    common = words[:2000]
    kinds = {
        "word": lambda: rng.choice(common),
        "phrase": lambda: '"' + " ".join(rng.choice(sample).split()[3:5]).strip(".") + '"',
        "filtered": lambda: (
            f"{rng.choice(common)} theme:{rng.choice(THEMES)} "
            f"country:{rng.choice(COUNTRIES)} in:post"
        ),
    }
    figures: dict[str, tuple[float, float]] = {}
    with ctx.session() as session:
        times = []
        for _ in range(QUERIES):
            started = time.perf_counter()
            session.connection().execute(text("SELECT id, title FROM search_doc LIMIT 20")).all()
            times.append((time.perf_counter() - started) * 1000)
        figures["bare LIMIT 20"] = percentiles(times)
        for name, make in kinds.items():
            times, hits = [], 0
            for _ in range(QUERIES):
                query = parse(make())
                started = time.perf_counter()
                hits += len(search(session, query, [community]).hits)
                times.append((time.perf_counter() - started) * 1000)
            figures[name] = percentiles(times)
            print(f"    {name:9s} p50 {figures[name][0]:6.1f} ms  p95 {figures[name][1]:6.1f} ms"
                  f"  ({hits / QUERIES:.1f} hits a query)")  # fmt: skip
    bare = figures["bare LIMIT 20"]
    print(f"    bare      p50 {bare[0]:6.1f} ms  p95 {bare[1]:6.1f} ms")
    return figures


def index_and_query(url: str, label: str, posts: int, files: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        ctx = Context.from_settings(
            config.from_mapping(settings_for(base, url)), clock=FrozenClock(NOW)
        )
        db.upgrade(ctx.engine)
        rng = random.Random(17)
        started = time.perf_counter()
        words = seed(ctx, posts, files, rng)
        took = time.perf_counter() - started
        print(f"  {label}: seeded {posts:,} posts and {files:,} files in {took:.0f} s")
        started = time.perf_counter()
        documents = index.reindex(ctx)
        took = time.perf_counter() - started
        rate = documents / took
        print(f"  {label}: index built in {took:.1f} s ({documents:,} documents, {rate:,.0f}/s)")
        measure_queries(ctx, words, rng)
        ctx.engine.dispose()


INGEST_CONFIG = """
[instance]
secret = "bench-secret-0123456789"
data_dir = "{data}"
domain = "lists.example.org"
[database]
url = "{url}"
[smtp]
port = {port}
[scheduler]
interval_seconds = 1.0
[search]
enabled = {enabled}
[[communities]]
slug = "bench"
name = "Bench"
moderation = "none"
"""


def message(number: int, rng: random.Random, words: list[str]) -> bytes:
    body = "\r\n".join(" ".join(rng.choices(words, k=14)) + "." for _ in range(30))
    return (
        f"From: Member {number % 200} <member{number % 200}@example.org>\r\n"
        f"To: bench@lists.example.org\r\nSubject: Contribution {number}\r\n"
        f"Message-ID: <search-{number}-{time.time_ns()}@example.org>\r\n"
        "Date: Mon, 02 Mar 2026 09:00:00 +0000\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    ).encode()


def count(url: str, sql: str) -> int:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text(sql)).scalar_one())
    finally:
        engine.dispose()


def ingest_once(messages: list[bytes], enabled: bool, database: str | None) -> tuple[float, float]:
    """Processed messages per second, and seconds after the last post until all is indexed."""
    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        url = fresh_database(database, folder)
        path = Path(folder) / "config.toml"
        path.write_text(INGEST_CONFIG.format(
            data=f"{folder}/data", url=url, port=port, enabled=str(enabled).lower()
        ))  # fmt: skip
        env = {**os.environ, "MAILHUB_CONFIG": str(path)}
        subprocess.run(
            [sys.executable, "-m", "mailhub", "init"], env=env, check=True, capture_output=True
        )
        members = Path(folder) / "members.csv"
        members.write_text("email,delivery\n" + "".join(
            f"member{n}@example.org,none\n" for n in range(200)
        ))  # fmt: skip
        subprocess.run(
            [sys.executable, "-m", "mailhub", "member", "import", str(members), "-c", "bench"],
            env=env, check=True, capture_output=True,
        )  # fmt: skip
        service = subprocess.Popen(
            [sys.executable, "-m", "mailhub", "serve", "--no-send"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            wait_for_port(port)
            time.sleep(3.0)
            started = time.perf_counter()
            blast(port, messages, 8)
            approved = "SELECT count(*) FROM post WHERE status = 'approved'"
            while count(url, approved) < len(messages):
                time.sleep(0.05)
            processed_at = time.perf_counter()
            rate = len(messages) / (processed_at - started)
            lag = 0.0
            if enabled:
                while count(url, "SELECT count(*) FROM search_doc") < len(messages):
                    time.sleep(0.05)
                lag = time.perf_counter() - processed_at
        finally:
            service.send_signal(signal.SIGTERM)
            service.wait(60)
        return rate, lag


def ingest(messages: int, rounds: int, database: str | None) -> None:
    rng = random.Random(5)
    words = vocabulary(rng, 5000)
    batch = [message(n, rng, words) for n in range(messages)]
    off, on, ratios = [], [], []
    for n in range(rounds):
        # Alternate which goes first: the machine's load drifts within a round.
        order = (False, True) if n % 2 == 0 else (True, False)
        rates = {enabled: ingest_once(batch, enabled, database) for enabled in order}
        off.append(rates[False][0])
        on.append(rates[True][0])
        ratios.append(on[-1] / off[-1])
        lag = rates[True][1]
        print(f"    round {n + 1}: without indexing {off[-1]:6.1f}/s, with {on[-1]:6.1f}/s "
              f"= {ratios[-1]:.0%} (index caught up {lag:.1f} s after the last post)")  # fmt: skip
    print(f"    median: without {statistics.median(off):.1f}/s, with {statistics.median(on):.1f}/s;"
          f" median ratio {statistics.median(ratios):.0%} (target >= 90 %)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--files", type=int, default=2_000)
    parser.add_argument("--messages", type=int, default=2_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--database-url", default=PG_DEFAULT)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-ingest", action="store_true")
    parser.add_argument("--no-index", action="store_true")
    args = parser.parse_args()
    if not args.no_index:
        print("index and queries")
        with tempfile.TemporaryDirectory() as folder:
            index_and_query(f"sqlite:///{folder}/search.db", "SQLite", args.posts, args.files)
        if not args.no_postgres:
            index_and_query(
                fresh_database(args.database_url, ""), "PostgreSQL", args.posts, args.files
            )
    if not args.no_ingest:
        print(f"ingest of {args.messages:,} messages, SQLite")
        ingest(args.messages, args.rounds, None)


if __name__ == "__main__":
    main()
