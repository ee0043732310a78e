"""Serving the web app with uvicorn inside `mailhub serve`'s event loop.

The socket is bound before serving so a busy port is an ordinary OSError for the caller,
not uvicorn's process exit; signals stay with `mailhub serve`, which sets ``stop``.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator

import uvicorn

from mailhub.context import Context
from mailhub.web.app import create_app


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signal handling to its host process."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def bind(host: str, port: int) -> socket.socket:
    """A listening socket for the web endpoint (port 0: any free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


async def run_web(ctx: Context, stop: asyncio.Event, sock: socket.socket | None = None) -> None:
    """Serve the web app until ``stop`` is set; requests in flight are finished first."""
    web = ctx.settings.web
    sock = sock or bind(web.host, web.port)
    config = uvicorn.Config(
        create_app(ctx),
        log_config=None,
        log_level="warning",
        access_log=False,
        lifespan="off",
        server_header=False,
        timeout_graceful_shutdown=10,
    )
    server = _Server(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]), name="web")
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        server.should_exit = True
        stopping.cancel()
        await serving
        sock.close()
