"""What a run of due work reports, and the shape of one job: apart from the scheduler that
runs the jobs (scheduler.py), so the jobs (digests, newsletters, events) import this and the
scheduler imports them, with no circle."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from mailhub.context import Context

log = logging.getLogger("mailhub.scheduler")


@dataclass
class DueReport:
    """What one run did, one line per thing done, and what failed (to be tried next run)."""

    done: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def attempt(self, label: str, action: Callable[[], str | None]) -> None:
        """Run one item; its failure is recorded and leaves the other items to run."""
        try:
            line = action()
        except Exception as exc:
            log.exception("%s failed", label)
            self.failed.append(f"{label}: {type(exc).__name__}: {exc}")
            return
        if line:
            log.info("%s", line)
            self.done.append(line)


DueJob = Callable[[Context, datetime, DueReport], None]
