"""One approved post to N each-message members: time to enqueue, then delivery by our Sender
over SMTP into a local sink, against a bare smtplib client pushing the same messages into the
same sink over as many connections. Targets: enqueue under 3 s for 10,000 members; Sender
delivery at least 70 % of the bare client's rate, and with --dkim (every copy signed with
RSA-2048 and Ed25519, as `mailhub dkim keygen` sets up) at least 60 % of the bare unsigned
client's rate; the signing cost per message is printed.

    python bench/fanout.py [--members 10000] [--connections 8] [--database-url URL] [--dkim]
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import smtplib
import socket
import tempfile
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from mailhub import config, db
from mailhub.clock import Clock
from mailhub.communities import get_community, seed_from_settings
from mailhub.context import Context
from mailhub.models import Membership, OutboundMessage, Person, Post, PostStatus, table_of
from mailhub.outbound.dkim_keys import generate
from mailhub.outbound.fanout import fan_out
from mailhub.outbound.sender import Sender
from mailhub.outbound.signing import signer_from_settings

BODY = "Dear colleagues,\n\n" + "A paragraph about wage councils and sector agreements. " * 40


class BareHandler:
    """Accepts everything and keeps nothing."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_sink(port: int, ready: Any) -> None:
    from aiosmtpd.controller import Controller

    controller = Controller(BareHandler(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


def make_context(
    base: Path, url: str | None, port: int, connections: int, dkim: bool = False
) -> Context:
    keys = {}
    if dkim:
        made = generate(base / "dkim", {"rsa": "bench", "ed25519": "bench-ed25519"})
        keys = {"private_key": str(made[0].path), "ed25519_key": str(made[1].path)}
    settings = config.from_mapping(
        {
            "dkim": {"selector": "bench", "ed25519_selector": "bench-ed25519", **keys},
            "instance": {
                "secret": "bench-secret-0123456789abcdef",
                "data_dir": str(base / "data"),
                "public_url": "https://lists.example.org",
            },
            "database": {"url": url or f"sqlite:///{base / 'bench.db'}"},
            "outbound": {
                "mode": "smtp",
                "batch_size": 500,
                "relay": {"host": "127.0.0.1", "port": port, "connections": connections},
            },
            "communities": [{"slug": "irnet", "name": "IRNet"}],
        }
    )
    ctx = Context.from_settings(settings, clock=Clock())
    db.upgrade(ctx.engine)
    with ctx.session() as session:
        seed_from_settings(session, settings, ctx.now())
    return ctx


def add_members(ctx: Context, members: int) -> Post:
    now = ctx.now().replace(tzinfo=None)
    with ctx.session() as session:
        community = get_community(session, "irnet")
        connection = session.connection()
        people = [
            {"email": f"member.{i}@org{i % 97}.example.org", "name": f"Member {i}"}
            for i in range(members)
        ]
        connection.execute(
            insert(table_of(Person)),
            [
                {
                    **p,
                    "affiliation": "other",
                    "organisation": "",
                    "bounce_score": 0.0,
                    "created_at": now,
                }
                for p in people
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
                    "delivery": "each",
                    "digest_format": "mime",
                    "moderated": False,
                    "status": "active",
                    "themes": [],
                    "only_my_themes": False,
                    "event_reminders": True,
                    "joined_at": now,
                    "updated_at": now,
                }
                for pid in ids
            ],
        )
        post = Post(
            community_id=community.id,  # type: ignore[arg-type]
            message_id="bench-1@mail.example.org",
            author_email="amina@example.org",
            author_name="Amina Person",
            subject="Wage councils after the reform",
            status=PostStatus.APPROVED.value,
            body_text=BODY,
            received_at=ctx.now(),
        )
        session.add(post)
        session.flush()
        session.expunge(post)
        return post


def bare_client(port: int, mails: list[tuple[str, str, bytes]], connections: int) -> float:
    """Seconds a plain smtplib client takes for ``mails`` over ``connections`` connections."""

    def push(part: list[tuple[str, str, bytes]]) -> None:
        with smtplib.SMTP("127.0.0.1", port) as client:
            for sender, recipient, raw in part:
                client.sendmail(sender, [recipient], raw)

    slices = [mails[i::connections] for i in range(connections)]
    started = time.perf_counter()
    with ThreadPoolExecutor(connections) as pool:
        list(pool.map(push, slices))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--dkim", action="store_true", help="sign every copy (RSA + Ed25519)")
    args = parser.parse_args()
    port = free_port()
    ready = multiprocessing.Event()
    sink = multiprocessing.Process(target=run_sink, args=(port, ready), daemon=True)
    sink.start()
    ready.wait(10)
    try:
        with tempfile.TemporaryDirectory() as folder:
            ctx = make_context(
                Path(folder), args.database_url, port, args.connections, dkim=args.dkim
            )
            post = add_members(ctx, args.members)
            measure(ctx, post, args, port)
    finally:
        sink.terminate()
        sink.join(5)


def measure(ctx: Context, post: Post, args: argparse.Namespace, port: int) -> None:
    started = time.perf_counter()
    with ctx.session() as session:
        added = fan_out(ctx, session, post)
    enqueue = time.perf_counter() - started
    print(f"enqueue: {added} copies in {enqueue:.2f} s (target < 3 s)")

    with ctx.session() as session:
        rows = session.exec(
            select(OutboundMessage.envelope_from, OutboundMessage.recipient, OutboundMessage.raw)
        ).all()  # type: ignore[call-overload]
    mails = [(sender, recipient, raw) for sender, recipient, raw in rows]

    sender = Sender(ctx)
    started = time.perf_counter()
    try:
        report = sender.drain()
    finally:
        sender.close()
    ours = time.perf_counter() - started
    ours_rate = report.sent / ours
    print(
        f"Sender: {report.sent} sent, {report.failed} failed in {ours:.2f} s"
        f" = {ours_rate:,.0f} msg/s over {args.connections} connections"
    )

    bare = bare_client(port, mails, args.connections)
    bare_rate = len(mails) / bare
    print(f"bare smtplib: {len(mails)} in {bare:.2f} s = {bare_rate:,.0f} msg/s, same connections")
    target = "60 %, signed against unsigned" if args.dkim else "70 %"
    print(f"Sender / bare client: {ours_rate / bare_rate:.0%} (target >= {target})")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"process peak RSS {rss:.0f} MiB")
    peak_of_fan_out(ctx, post)
    if args.dkim:
        dkim_cost(ctx, [raw for _sender, _recipient, raw in mails])


def peak_of_fan_out(ctx: Context, post: Post) -> None:
    """Memory on a separate run (the rows exist, so nothing new is queued): tracing slows
    the code it traces."""
    tracemalloc.start()
    with ctx.session() as session:
        fan_out(ctx, session, post)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"peak traced Python memory during fan-out: {peak / 2**20:.0f} MiB")


def dkim_cost(ctx: Context, copies: list[bytes], samples: int = 500) -> None:
    """CPU time a fresh signer spends per personalised copy (both signatures)."""
    signer = signer_from_settings(ctx.settings)
    assert signer is not None
    sample = copies[:samples]
    started = time.process_time()
    for raw in sample:
        signer.sign(raw)
    each = (time.process_time() - started) / len(sample)
    print(
        f"DKIM signing (RSA-2048 + Ed25519): {each * 1000:.2f} ms CPU per message, "
        f"at most {1 / each:,.0f} msg/s on one core; bodies hashed from scratch: "
        f"{signer.bodies.full_hashes} of {len(sample)}"
    )


if __name__ == "__main__":
    main()
