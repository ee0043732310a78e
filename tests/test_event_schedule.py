"""The event digest on `[events] digest_cron`: sent by `run_due` at each due time in the
community's time zone, once however often and however many processes run it, whole or not
at all, and not when no event is coming."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import START, derive
from mailtools import outbox
from sqlmodel import select
from test_event_digest import FORUM, events

from mailhub.config import ConfigError, from_mapping
from mailhub.context import Context
from mailhub.models import EventDigestRun
from mailhub.outbound import outbox as outbox_module
from mailhub.scheduler import run_due

CRON = "0 8 * * mon"
# Mondays 08:00 in Nairobi (irnet's zone) are 05:00 UTC; START is Monday 2 March, 09:00 UTC.
DUE = datetime(2026, 3, 2, 5, 0, tzinfo=UTC)
NEXT = DUE + timedelta(weeks=1)


def scheduled(ctx: Context, **events: Any) -> Context:
    return derive(ctx, events={"digest_cron": CRON, **events})


def runs(ctx: Context) -> list[tuple[datetime, int, int]]:
    with ctx.session() as session:
        found = session.exec(select(EventDigestRun).order_by(EventDigestRun.due_at)).all()
    return [(r.due_at, r.events, r.recipients) for r in found]


def digest_keys(ctx: Context) -> list[str]:
    return sorted(row.dedup_key for row, _ in outbox(ctx, kind="event-digest"))


def test_sent_at_each_due_time_once_in_the_community_time_zone(ctx: Context) -> None:
    events(ctx)  # the forum on 12 March and the webinar on 20 March; members amina and dee
    timed = scheduled(ctx)
    report = run_due(timed, START)
    assert report.failed == []
    assert [line for line in report.done if line.startswith("event digest")] == [
        "event digest of community 1 due 2026-03-02 05:00 UTC: 2 queued over 2 event(s)"
    ]
    mails = outbox(ctx, kind="event-digest")
    assert sorted(row.recipient for row, _ in mails) == ["amina@example.org", "dee@example.org"]
    _row, message = mails[0]
    assert message["Subject"] == "[IRNet] Events, next 4 weeks"
    assert len(list(message.iter_attachments())) == 2  # each event's .ics

    # Run again, later the same week: that due time is done.
    assert run_due(timed, START + timedelta(minutes=1)).done == []
    assert run_due(timed, NEXT - timedelta(minutes=1)).done == []  # 07:59 in Nairobi
    assert len(digest_keys(ctx)) == 2 and runs(ctx) == [(DUE, 2, 2)]

    # The next Monday 08:00 in Nairobi: the webinar is still ahead, the forum too.
    nxt = run_due(timed, NEXT)
    assert any("due 2026-03-09 05:00 UTC: 2 queued" in line for line in nxt.done), nxt
    assert [k.split(":")[2] for k in digest_keys(ctx)] == ["2026-03-02"] * 2 + ["2026-03-09"] * 2
    # Without the cron line, the scheduler sends none.
    assert not [line for line in run_due(ctx, NEXT + timedelta(weeks=1)).done if "event" in line]


def test_nothing_is_sent_when_no_event_is_coming(ctx: Context) -> None:
    events(ctx)
    timed = scheduled(ctx, digest_weeks=1)  # the forum is ten days away
    report = run_due(timed, START)
    assert report.failed == [] and not [line for line in report.done if "event" in line]
    assert outbox(ctx, kind="event-digest") == []
    assert runs(ctx) == [(DUE, 0, 0)]  # that due time is done: nothing comes of it later
    run_due(timed, START + timedelta(hours=1))
    assert outbox(ctx, kind="event-digest") == [] and len(runs(ctx)) == 1
    # The forum falls in the week after the next Monday.
    run_due(timed, NEXT)
    assert len(outbox(ctx, kind="event-digest")) == 2


def test_a_run_that_fails_is_done_whole_by_the_next_one(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    events(ctx)
    timed = scheduled(ctx)
    queue_for_real = outbox_module.enqueue_many

    def power_cut(session, mails, now):  # type: ignore[no-untyped-def]
        queue_for_real(session, list(mails)[:1], now)
        raise RuntimeError("power cut")

    monkeypatch.setattr(outbox_module, "enqueue_many", power_cut)
    report = run_due(timed, START)
    assert any("power cut" in line for line in report.failed), report
    assert outbox(ctx, kind="event-digest") == [] and runs(ctx) == []
    monkeypatch.setattr(outbox_module, "enqueue_many", queue_for_real)
    again = run_due(timed, START + timedelta(minutes=1))
    assert again.failed == [] and runs(ctx) == [(DUE, 2, 2)]
    assert len(digest_keys(ctx)) == 2


def test_two_processes_send_each_due_time_once(
    ctx: Context, config_path: Path, tmp_path: Path
) -> None:
    events(ctx)
    config = tmp_path / "scheduled.toml"
    config.write_text(config_path.read_text() + f'\n[events]\ndigest_cron = "{CRON}"\n')
    command = [sys.executable, "-m", "mailhub", "run-due", "--now", START.isoformat()]
    env = {**os.environ, "MAILHUB_CONFIG": str(config)}
    processes = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    said = [
        line
        for stdout, _ in outputs
        for line in stdout.decode().splitlines()
        if line.startswith("event digest")
    ]
    assert len(said) == 1, outputs  # one process sent it, the other found it done
    assert runs(ctx) == [(DUE, 2, 2)]
    keys = digest_keys(ctx)
    assert len(keys) == len(set(keys)) == 2


def test_the_schedule_settings_are_checked_and_the_cli_uses_the_weeks(
    ctx: Context, run_cli: Any, config_path: Path
) -> None:
    with pytest.raises(ConfigError, match=r"events\.digest_cron: Wrong number of fields"):
        from_mapping({"events": {"digest_cron": "every monday"}})
    with pytest.raises(ConfigError, match=r"events\.digest_weeks: .*greater than or equal to 1"):
        from_mapping({"events": {"digest_weeks": 0}})
    events(ctx)
    config_path.write_text(config_path.read_text() + "\n[events]\ndigest_weeks = 1\n")
    one_week = run_cli("event", "digest", "-c", "irnet", "--now", START.isoformat(), "--allow-past")
    assert "no events in the next 1 week(s)" in one_week.output
    sent = run_cli(
        "event", "digest", "-c", "irnet", "--now", (FORUM - timedelta(days=2)).isoformat(),
        "--allow-past",
    )  # fmt: skip
    assert "1 event(s): 2 queued" in sent.output
