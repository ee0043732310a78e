"""`mailhub serve` indexes in a process of its own (search/indexer.py), after a burst of
mail has settled: a post sent over SMTP is found without `run-due`, the scheduler leaves
the index to the indexer, and a queue that keeps growing is indexed all the same."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from conftest import make_context, write_config
from smtp_sink import free_port
from test_crash import wait_for_port
from test_search_index import held_post, moderate, paths
from test_serve import _worker_policies, send_post

from mailhub.clock import FrozenClock
from mailhub.communities import get_community
from mailhub.context import Context
from mailhub.members import MemberFields, add_member
from mailhub.search import index
from mailhub.search.indexer import Settling, keep_up


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
        assert index.pending(ctx) == 0
    finally:
        stop.set()
        indexer.join(5)
    assert not indexer.is_alive()


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
