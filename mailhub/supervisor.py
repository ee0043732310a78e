"""Keeps `mailhub serve`'s worker processes running: one that dies is started again.

A worker can die of a crash, the kernel's out-of-memory killer or a stray SIGKILL; without
a replacement the spool would wait (its rows come back to the other workers only after the
lease, and with one worker, never). The supervisor looks at its processes a few times a
second, logs a death once, naming the worker and its exit code, and starts the worker again
after a pause: half a second at first, doubling (up to half a minute) while the workers it
replaces keep dying within ten seconds of their start, so a worker that cannot start
(a broken configuration, a missing file) does not spin.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.process import BaseProcess

log = logging.getLogger("mailhub.service")
LOOK_SECONDS = 0.2
FIRST_PAUSE = 0.5
LONGEST_PAUSE = 30.0
YOUNG_SECONDS = 10.0


@dataclass
class _Place:
    """One worker's place: its current process, and when to start the next one."""

    number: int
    process: BaseProcess
    started: float
    pause: float = 0.0
    restart_at: float | None = None


class Supervisor:
    """Starts ``count`` workers with ``start(number)`` and keeps them running until stopped."""

    def __init__(
        self, start: Callable[[int], BaseProcess], count: int, first_pause: float = FIRST_PAUSE
    ) -> None:
        self._start = start
        self.first_pause = first_pause
        now = time.monotonic()
        self.places = [_Place(n, start(n), now) for n in range(1, count + 1)]

    @property
    def processes(self) -> list[BaseProcess]:
        return [place.process for place in self.places]

    async def watch(self, stop: asyncio.Event) -> None:
        """Replace dead workers until ``stop`` is set."""
        while not stop.is_set():
            for place in self.places:
                if not stop.is_set():
                    self._look(place)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), LOOK_SECONDS)

    def _look(self, place: _Place) -> None:
        now = time.monotonic()
        if place.restart_at is None:
            if place.process.is_alive():
                return
            young = now - place.started < YOUNG_SECONDS
            place.pause = (
                min(place.pause * 2, LONGEST_PAUSE) if young and place.pause else self.first_pause
            )
            place.restart_at = now + place.pause
            log.error(
                "worker %s (pid %s) exited with code %s; starting it again in %.1f s",
                place.process.name,
                place.process.pid,
                place.process.exitcode,
                place.pause,
            )
        elif now >= place.restart_at:
            place.process = self._start(place.number)
            place.started, place.restart_at = now, None
            log.info("worker %s started again (pid %s)", place.process.name, place.process.pid)

    def stop(self, timeout: float = 60.0) -> None:
        """Ask every worker to finish its batch and exit; wait for them."""
        for process in self.processes:
            if process.is_alive():
                process.terminate()
        for process in self.processes:
            process.join(timeout)
