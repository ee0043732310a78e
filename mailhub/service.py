"""`mailhub serve`: one process running the parts of the service.

The SMTP listener and the sender share an asyncio loop; the spool workers (`inbound.workers`)
run in their own processes, at a lower priority, so parsing never holds up accepting mail and
several messages are parsed at once; their writes take turns. A worker that dies is
started again (supervisor.py). SIGTERM and SIGINT stop intake, let work in flight finish,
and exit 0; a restart picks up the spool and the outbox where they were.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from multiprocessing.process import BaseProcess
from typing import Any

import uvloop

from mailhub.config import Settings
from mailhub.context import Context
from mailhub.errors import MailhubError
from mailhub.inbound import pipeline
from mailhub.inbound.committers import make_committer
from mailhub.inbound.imap import run_pollers
from mailhub.inbound.smtp import start_listener
from mailhub.outbound.outcomes import SendReport
from mailhub.outbound.sender import Sender
from mailhub.supervisor import Supervisor

log = logging.getLogger("mailhub.service")
IDLE_SECONDS = 1.0
WORKER_IDLE_SECONDS = 0.05
WORKER_NICENESS = 10
WORKER_GC_THRESHOLDS = (20_000, 50, 100)


def configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(process)d %(name)s %(levelname)s %(message)s"
    )
    # aiosmtpd logs every protocol line at INFO; one line per message is ours to write.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    # APScheduler logs every wake-up; run_due logs what it does.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


class StopFlag:
    """Set from a signal handler: a plain attribute, since a handler that takes a lock can
    deadlock against the code it interrupted."""

    def __init__(self, parent: int | None = None) -> None:
        self.raised = False
        self.parent = parent

    def raise_(self, *_: object) -> None:
        self.raised = True

    @property
    def stop(self) -> bool:
        # A worker whose service died (SIGKILL) stops too rather than run on orphaned.
        return self.raised or (self.parent is not None and os.getppid() != self.parent)


def worker_loop(ctx: Context, flag: StopFlag) -> None:
    """Process the spool until told to stop; finish the batch in hand first."""
    while not flag.stop:
        batch = pipeline.process_batch(ctx)
        if not batch.outcomes:
            time.sleep(WORKER_IDLE_SECONDS)


def lower_priority(priority: str) -> None:
    """Accepting mail is what senders wait for; parsing may wait a little behind it.

    "idle" runs the worker only on CPU time nothing else wants (Linux SCHED_IDLE): a burst
    of mail is acknowledged at full speed and processed right after, but on a machine that
    other programs keep busy such a worker may wait a long time; "low" (nice 10) only weighs
    it down. An unprivileged process cannot leave SCHED_IDLE again, hence "mixed".
    """
    os.nice(WORKER_NICENESS)
    if priority == "idle" and hasattr(os, "SCHED_IDLE"):
        try:
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        except OSError as exc:
            log.warning("worker stays at nice %d: %s", WORKER_NICENESS, exc)


def priority_of(number: int, setting: str) -> str:
    """A worker's priority: with "mixed", the first is "low" so that processing always moves
    on however busy the machine is, and the others "idle", taking only spare CPU time."""
    if setting == "mixed":
        return "low" if number == 1 else "idle"
    return setting


def worker_process(settings: Settings, parent: int, number: int = 1) -> None:
    """Entry point of the worker process; SIGTERM ends it after the batch in hand."""
    configure_logging()
    lower_priority(priority_of(number, settings.inbound.worker_priority))
    flag = StopFlag(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, flag.raise_)
    ctx = Context.from_settings(settings)
    # Parsing allocates many short-lived objects: leave what start-up made out of the
    # collector's way and collect less often (about 5 % of the worker's time otherwise).
    gc.freeze()
    gc.set_threshold(*WORKER_GC_THRESHOLDS)
    try:
        worker_loop(ctx, flag)
    finally:
        ctx.engine.dispose()


def indexer_process(settings: Settings, parent: int, number: int = 1) -> None:
    """Entry point of the search indexer's process (search/indexer.py): it runs only on CPU
    time that nothing else wants, below the workers' share; SIGTERM ends it after its batch."""
    from mailhub.search.indexer import keep_up

    configure_logging()
    lower_priority("idle")
    flag = StopFlag(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, flag.raise_)
    ctx = Context.from_settings(settings)
    try:
        keep_up(ctx, lambda: flag.stop)
    finally:
        ctx.engine.dispose()


def worker_starter(
    settings: Settings, target: Callable[..., None] = worker_process, name: str = "worker"
) -> Callable[[int], BaseProcess]:
    """Starts worker number N in a new process (spawned: no state shared with the service)."""
    parent = os.getpid()

    def start(number: int) -> BaseProcess:
        worker = multiprocessing.get_context("spawn").Process(
            target=target, args=(settings, parent, number), name=f"mailhub-{name}-{number}"
        )
        worker.start()
        return worker

    return start


async def sender_loop(ctx: Context, stop: asyncio.Event) -> None:
    """Deliver due outbox rows; sleep a little when nothing is due. A batch that breaks (the
    store unreachable) is logged and the loop goes on: its rows come back after their lease."""
    sender = Sender(ctx)
    try:
        while not stop.is_set():
            try:
                report = await asyncio.to_thread(sender.send_batch)
            except Exception:
                log.exception("sending stopped by an error; trying again")
                report = SendReport()
            if report.handled:
                log.info("sent=%s retry=%s failed=%s", report.sent, report.retried, report.failed)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), IDLE_SECONDS)
    finally:
        sender.close()


def start_scheduler(ctx: Context, indexing: bool = True) -> Any:
    """Wake `run_due` on the configured interval in a background thread; one run at a time,
    and runs missed while one was busy fold into the next. ``indexing`` False: the search
    index is the indexer process's job, not the scheduler's."""
    from apscheduler.schedulers.background import BackgroundScheduler

    from mailhub.scheduler import DUE_JOBS, run_due, search_index_due

    jobs = DUE_JOBS if indexing else [job for job in DUE_JOBS if job is not search_index_due]

    def tick() -> None:
        report = run_due(ctx, jobs=jobs)
        for line in report.failed:
            log.error("due work failed: %s", line)

    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.add_job(
        tick,
        "interval",
        seconds=ctx.settings.scheduler.interval_seconds,
        max_instances=1,
        coalesce=True,
        # The alarm runs on the real time at once; what is due is read from the store.
        next_run_time=datetime.now(UTC),
    )
    scheduler.start()
    return scheduler


def start_web(ctx: Context, stop: asyncio.Event, tasks: list[asyncio.Task[None]]) -> str:
    """Start the web pages; a busy port is logged and mail goes on without them."""
    from mailhub.web.server import bind, run_web

    host, port = ctx.settings.web.host, ctx.settings.web.port
    try:
        sock = bind(host, port)
    except OSError as exc:
        log.error("web endpoint not started: cannot listen on %s:%s: %s", host, port, exc)
        return "unavailable"
    tasks.append(asyncio.create_task(run_web(ctx, stop, sock), name="web"))
    return f"{host}:{port}"


async def serve(
    ctx: Context,
    *,
    smtp: bool = True,
    send: bool = True,
    work: bool = True,
    imap: bool = True,
    web: bool = True,
    schedule: bool = True,
) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    committer = make_committer(ctx)
    try:
        server = await start_listener(ctx, committer) if smtp else None
    except OSError as exc:
        await asyncio.to_thread(committer.close)
        host, port = ctx.settings.smtp.host, ctx.settings.smtp.port
        why = os.strerror(exc.errno) if exc.errno else str(exc)
        raise MailhubError(
            f"cannot listen for SMTP on {host}:{port}: {why}; stop what listens there "
            "or set another port under [smtp] in the config"
        ) from None
    tasks = [asyncio.create_task(sender_loop(ctx, stop), name="sender")] if send else []
    workers = (
        Supervisor(worker_starter(ctx.settings), ctx.settings.inbound.workers) if work else None
    )
    watching = asyncio.create_task(workers.watch(stop), name="workers") if workers else None
    imap_stop = threading.Event()
    pollers = run_pollers(ctx, imap_stop) if imap else []
    web_where = start_web(ctx, stop, tasks) if web and ctx.settings.web.enabled else "off"
    scheduling = schedule and ctx.settings.scheduler.enabled
    indexer = (
        Supervisor(worker_starter(ctx.settings, indexer_process, "indexer"), 1)
        if scheduling and ctx.settings.search.enabled
        else None
    )
    indexing = asyncio.create_task(indexer.watch(stop), name="indexer") if indexer else None
    scheduler = start_scheduler(ctx, indexing=indexer is None) if scheduling else None
    every = f"every {ctx.settings.scheduler.interval_seconds:g} s" if scheduling else "off"
    where = f"{ctx.settings.smtp.host}:{ctx.settings.smtp.port}" if smtp else "off"
    print(
        f"mailhub serving: smtp {where}, web {web_where}, imap mailboxes {len(pollers)}, "
        f"workers {len(workers.places) if workers else 'off'}, "
        f"outbox {ctx.settings.outbound.mode if send else 'off'}, "
        f"scheduler {every}, search indexer {'on' if indexer else 'off'}; stop with Ctrl-C",
        flush=True,
    )
    await stop.wait()
    log.info("stopping: closing intake")
    if server is not None:
        server.close()
        await server.wait_closed()
    imap_stop.set()
    if scheduler is not None:
        await asyncio.to_thread(scheduler.shutdown, True)
    for poller in pollers:
        await asyncio.to_thread(poller.join, 30)
    await asyncio.to_thread(committer.close)
    for supervisor, watch in ((workers, watching), (indexer, indexing)):
        if supervisor is not None and watch is not None:
            await watch
            await asyncio.to_thread(supervisor.stop)
    await asyncio.gather(*tasks)
    log.info("stopped")
    return 0


def run_service(
    ctx: Context,
    *,
    smtp: bool = True,
    send: bool = True,
    work: bool = True,
    imap: bool = True,
    web: bool = True,
    schedule: bool = True,
) -> int:
    configure_logging()
    main = serve(ctx, smtp=smtp, send=send, work=work, imap=imap, web=web, schedule=schedule)
    # uvloop's event loop spends about a tenth less CPU per SMTP message than asyncio's own
    # (measured with bench/ingest.py's client), which is what the listener is bound by.
    return uvloop.run(main)
