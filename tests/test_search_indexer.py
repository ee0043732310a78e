"""`mailhub serve` indexes in a process of its own (search/indexer.py), after a burst of
mail has settled: a post sent over SMTP is found without `run-due`, the scheduler leaves
the index to the indexer, a queue that keeps growing is indexed all the same, and a batch
the store fails is indexed on a later try."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import derive, make_context, write_config
from smtp_sink import free_port
from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from test_crash import wait_for_port
from test_search_index import held_post, moderate, paths
from test_serve import _worker_policies, send_post

from mailhub.clock import FrozenClock
from mailhub.communities import get_community
from mailhub.context import Context
from mailhub.members import MemberFields, add_member
from mailhub.search import indexer as search_indexer
from mailhub.search.indexer import Settling, keep_up, newest_queued


def test_settling_waits_for_the_queue_to_stop_growing_but_not_for_ever() -> None:
    settling = Settling(longest_wait=30.0)
    assert not settling.due(None, 0.0)  # nothing queued
    assert not settling.due(5, 1.0)  # first seen: look again
    assert not settling.due(9, 2.0)  # still growing
    assert settling.due(9, 3.0)  # settled
    assert not settling.due(None, 4.0)
    growing = [settling.due(newest, float(second)) for second, newest in enumerate(range(10, 45))]
    assert growing.index(True) == 30  # indexed after 30 s of steady growth
    assert growing.count(True) == 1


def wait_for(found: Callable[[], bool], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if found():
            return
        time.sleep(0.05)
    raise AssertionError("not found in time")


def test_keep_up_indexes_what_was_approved_and_stops_when_told(ctx: Context) -> None:
    post = held_post(ctx, "Platform work", "Delivery riders organise in Jakarta.")
    stop = threading.Event()
    indexer = threading.Thread(target=keep_up, args=(ctx, stop.is_set, 0.1))
    indexer.start()
    try:
        assert paths(ctx, "riders") == []
        moderate(ctx, post, "approve")
        wait_for(lambda: len(paths(ctx, "riders")) == 1)
        assert newest_queued(ctx) is None  # taken off the queue
    finally:
        stop.set()
        indexer.join(5)
    assert not indexer.is_alive()


def test_keep_up_indexes_everything_after_the_store_fails_a_batch(
    ctx: Context, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Three batches; taking the second off the queue fails (the store unreachable): it
    stays queued, the error is logged, and a later try indexes it."""
    posts = [held_post(ctx, f"Riders {n}", f"Delivery riders meet, round {n}.") for n in range(5)]
    for post in posts:
        moderate(ctx, post, "approve")
    takes: list[str] = []

    def store_fails_once(*args: object) -> None:
        statement = str(args[2])
        if statement.startswith("DELETE FROM search_pending"):
            takes.append(statement)
            if len(takes) == 2:
                raise OperationalError(statement, None, ConnectionError("store unreachable"))

    monkeypatch.setattr(search_indexer, "TROUBLE_SECONDS", 0.1)
    event.listen(ctx.engine, "before_cursor_execute", store_fails_once)
    stop = threading.Event()
    batches_of_two = derive(ctx, search={"batch_size": 2})
    indexer = threading.Thread(target=keep_up, args=(batches_of_two, stop.is_set, 0.1))
    try:
        with caplog.at_level(logging.ERROR, logger="mailhub.search"):
            indexer.start()
            wait_for(lambda: len(paths(ctx, "riders")) == 5)
    finally:
        stop.set()
        indexer.join(5)
        event.remove(ctx.engine, "before_cursor_execute", store_fails_once)
    assert len(takes) == 4  # the failed batch was taken again
    assert newest_queued(ctx) is None
    assert "search indexing stopped by an error; trying again" in caplog.text
    assert "store unreachable" in caplog.text


def test_serve_indexes_in_its_own_idle_process_without_the_scheduler(
    tmp_path: Path, clock: FrozenClock
) -> None:
    """The scheduler wakes once an hour here, so only the indexer can find the post."""
    port = free_port()
    config = write_config(
        tmp_path,
        f"sqlite:///{tmp_path / 'store.db'}",
        f"\n[smtp]\nport = {port}\n[web]\nenabled = false\n[inbound]\nworkers = 1\n"
        "[scheduler]\ninterval_seconds = 3600\n",
    )
    ctx = make_context(config, clock)
    with ctx.session() as session:
        irnet = get_community(session, "irnet")
        irnet.moderation = "none"
        add_member(session, irnet, MemberFields(email="amina@example.org"), clock.now())
    service = subprocess.Popen(
        [sys.executable, "-m", "mailhub", "serve", "--no-send", "--no-imap"],
        env={**os.environ, "MAILHUB_CONFIG": str(config)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for_port(port)
        # The spool worker and the indexer, both on spare CPU only once they have started.
        wait_for(lambda: sorted(_worker_policies(service.pid)) == [(os.SCHED_IDLE, 10)] * 2)
        send_post(port, "riders@example.org", "Riders organise")
        wait_for(lambda: len(paths(ctx, "riders")) == 1, 30)
    finally:
        os.killpg(service.pid, signal.SIGTERM)
        assert service.wait(30) == 0
        ctx.engine.dispose()
