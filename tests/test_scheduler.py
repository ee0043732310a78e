"""`run_due` does each transition once: when run twice, after a crash in the middle of an
opening, and from two processes at once on one store."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import START
from sqlalchemy import func
from sqlmodel import col, select

from mailhub.communities import get_community
from mailhub.context import Context
from mailhub.discussions import lifecycle
from mailhub.members import MemberFields, add_member
from mailhub.models import Discussion, OutboundMessage, Person, Post, Thread
from mailhub.outbound import outbox
from mailhub.scheduler import run_due

MOD = "mod@ministry.example.org"
OPENS = START + timedelta(hours=1)


def populate(ctx: Context, members: int, discussions: int = 1) -> list[int]:
    """A moderator, ``members`` members, and discussions that open at OPENS."""
    with ctx.session() as session:
        irnet = get_community(session, "irnet")
        add_member(session, irnet, MemberFields(email=MOD, role="moderator"), ctx.now())
        for number in range(members):
            fields = MemberFields(email=f"m{number}@example.org", affiliation="workers")
            add_member(session, irnet, fields, ctx.now())
        made = [
            lifecycle.create(
                session,
                ctx.settings.discussions,
                irnet,
                lifecycle.Plan(f"Topic {n}", "A question?", MOD, opens_at=OPENS, days=7),
                ctx.now(),
            )
            for n in range(discussions)
        ]
        return [d.id for d in made if d.id is not None]


def announcement_keys(ctx: Context) -> list[str]:
    with ctx.session() as session:
        query = select(OutboundMessage.dedup_key).where(OutboundMessage.kind == "discussion")
        return list(session.exec(query))


def roots(ctx: Context, discussion_id: int) -> tuple[int, int]:
    """How many announcement posts and threads the discussion has (one each when opened)."""
    with ctx.session() as session:
        threads = session.exec(
            select(func.count()).select_from(Thread).where(Thread.discussion_id == discussion_id)
        ).one()
        posts = session.exec(
            select(func.count()).select_from(Post).where(Post.kind == "discussion")
        ).one()
    return posts, threads


def expected_keys(ctx: Context, discussion_ids: Iterable[int]) -> list[str]:
    with ctx.session() as session:
        ids = sorted(p for p in session.exec(select(Person.id)).all() if p is not None)
    return sorted(f"discussion:{d}:open:person:{p}" for d in discussion_ids for p in ids)


def test_run_due_twice_does_nothing_the_second_time(ctx: Context) -> None:
    (discussion_id,) = populate(ctx, 5)
    assert run_due(ctx, OPENS).done == [
        f"opened discussion {discussion_id}: 6 announcement(s) queued"
    ]
    assert run_due(ctx, OPENS).done == []
    assert run_due(ctx, OPENS + timedelta(minutes=5)).done == []
    assert sorted(announcement_keys(ctx)) == expected_keys(ctx, [discussion_id])
    assert roots(ctx, discussion_id) == (1, 1)


def test_a_crash_in_the_middle_of_an_opening_sends_each_announcement_once(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    (discussion_id,) = populate(ctx, 40)
    queue_for_real = outbox.enqueue_many

    def power_cut(session, mails, now):  # type: ignore[no-untyped-def]
        mails = list(mails)
        queue_for_real(session, mails[: len(mails) // 2], now)
        raise RuntimeError("power cut")

    monkeypatch.setattr(outbox, "enqueue_many", power_cut)
    report = run_due(ctx, OPENS)
    assert report.done == [] and "power cut" in report.failed[0]
    with ctx.session() as session:
        stored = session.get(Discussion, discussion_id)
        assert stored is not None and stored.state == "scheduled"
    assert announcement_keys(ctx) == [] and roots(ctx, discussion_id) == (0, 0)

    monkeypatch.setattr(outbox, "enqueue_many", queue_for_real)
    report = run_due(ctx, OPENS + timedelta(seconds=30))
    assert report.failed == [] and "41 announcement(s)" in report.done[0]
    keys = announcement_keys(ctx)
    assert sorted(keys) == expected_keys(ctx, [discussion_id]) and len(set(keys)) == len(keys)
    assert roots(ctx, discussion_id) == (1, 1)


def test_two_processes_open_each_discussion_once(ctx: Context, config_path: Path) -> None:
    discussion_ids = populate(ctx, 300, discussions=4)
    command = [sys.executable, "-m", "mailhub", "run-due", "--now", OPENS.isoformat()]
    env = {**os.environ, "MAILHUB_CONFIG": str(config_path)}
    runs = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    opened = [
        line
        for stdout, _ in outputs
        for line in stdout.decode().splitlines()
        if line.startswith("opened discussion")
    ]
    # Each discussion was opened by exactly one of the two processes.
    assert sorted(line.split(":")[0] for line in opened) == [
        f"opened discussion {d}" for d in discussion_ids
    ]
    keys = announcement_keys(ctx)
    assert len(keys) == len(set(keys)) == 4 * 301
    assert sorted(keys) == expected_keys(ctx, discussion_ids)
    with ctx.session() as session:
        states = session.exec(
            select(Discussion.state).where(col(Discussion.id).in_(discussion_ids))
        )
        assert set(states) == {"open"}
        threads = session.exec(
            select(func.count()).select_from(Thread).where(col(Thread.discussion_id).isnot(None))
        ).one()
    assert threads == 4


def test_serve_wakes_run_due_on_its_interval(sqlite_ctx: Context) -> None:
    from conftest import derive

    from mailhub.service import start_scheduler

    ctx = derive(sqlite_ctx, scheduler={"interval_seconds": 0.2})
    (discussion_id,) = populate(ctx, 3)
    ctx.clock.set(OPENS)  # type: ignore[attr-defined]
    scheduler = start_scheduler(ctx)
    try:
        deadline = time.monotonic() + 10
        state = "scheduled"
        while state != "open" and time.monotonic() < deadline:
            time.sleep(0.1)
            with ctx.session() as session:
                found = session.get(Discussion, discussion_id)
                state = found.state if found else "missing"
    finally:
        scheduler.shutdown(wait=True)
    assert state == "open"
    assert sorted(announcement_keys(ctx)) == expected_keys(ctx, [discussion_id])
