"""Runs mailhub's real SMTP/LMTP listener on 127.0.0.1 in a background event loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from smtp_sink import free_port

from mailhub.context import Context
from mailhub.inbound.committers import Committer, make_committer
from mailhub.inbound.smtp import start_listener


@contextmanager
def running_listener(
    ctx: Context, port: int | None = None, committer: Committer | None = None
) -> Iterator[int]:
    """Start the listener for ``ctx`` on ``port`` (default: a free one), committing with
    ``committer`` (default: the instance's own); yield the port; always stop it."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    committer = committer or make_committer(ctx)
    port = port or free_port()
    server = asyncio.run_coroutine_threadsafe(
        start_listener(ctx, committer, host="127.0.0.1", port=port), loop
    ).result(10)
    try:
        yield port
    finally:

        async def close() -> None:
            server.close()
            await server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), loop).result(10)
        committer.close()
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
