"""The supervisor of worker processes: a worker that dies at once is started again after a
pause that doubles each time, so it never spins; stopping ends every worker."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import re
from multiprocessing.process import BaseProcess

import pytest

from mailhub.supervisor import Supervisor


def dying_worker(number: int) -> BaseProcess:
    """A real process that exits with code 3 as soon as it starts."""
    process = multiprocessing.get_context("spawn").Process(
        target=os._exit, args=(3,), name=f"mailhub-worker-{number}"
    )
    process.start()
    return process


async def watch_for(supervisor: Supervisor, seconds: float) -> None:
    stop = asyncio.Event()
    watching = asyncio.create_task(supervisor.watch(stop))
    await asyncio.sleep(seconds)
    stop.set()
    await watching


def test_a_worker_that_dies_at_start_is_restarted_ever_more_slowly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="mailhub.service")
    started: list[BaseProcess] = []

    def start(number: int) -> BaseProcess:
        started.append(dying_worker(number))
        return started[-1]

    supervisor = Supervisor(start, 1, first_pause=0.1)
    asyncio.run(watch_for(supervisor, 2.5))
    supervisor.stop()
    pauses = [
        float(found.group(1))
        for record in caplog.records
        if (
            found := re.search(
                r"exited with code 3; starting it again in ([\d.]+) s", record.getMessage()
            )
        )
    ]
    # Without the doubling, a start every few tenths of a second: ten or more in 2.5 s.
    assert pauses[:3] == [0.1, 0.2, 0.4]
    assert len(started) <= 6
    assert all(not process.is_alive() for process in started)
