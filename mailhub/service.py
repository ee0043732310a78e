"""`mailhub serve`: one asyncio process running the parts of the service.

SIGTERM and SIGINT stop intake, let work in flight finish, and exit 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from mailhub.context import Context
from mailhub.outbound.sender import Sender

log = logging.getLogger("mailhub.service")
IDLE_SECONDS = 1.0


async def sender_loop(ctx: Context, stop: asyncio.Event) -> None:
    """Deliver due outbox rows; sleep a little when nothing is due."""
    sender = Sender(ctx)
    try:
        while not stop.is_set():
            report = await asyncio.to_thread(sender.send_batch)
            if report.handled:
                log.info("sent=%s retry=%s failed=%s", report.sent, report.retried, report.failed)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), IDLE_SECONDS)
    finally:
        sender.close()


async def serve(ctx: Context, *, smtp: bool = True, send: bool = True, work: bool = True) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    tasks = []
    if send:
        tasks.append(asyncio.create_task(sender_loop(ctx, stop), name="sender"))
    log.info("mailhub serving (send=%s)", send)
    print(f"mailhub serving; outbox: {ctx.settings.outbound.mode}; stop with Ctrl-C", flush=True)
    await stop.wait()
    log.info("stopping")
    await asyncio.gather(*tasks)
    return 0


def run_service(ctx: Context, *, smtp: bool = True, send: bool = True, work: bool = True) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    return asyncio.run(serve(ctx, smtp=smtp, send=send, work=work))
