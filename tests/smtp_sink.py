"""A real aiosmtpd server on 127.0.0.1 that records what it receives, for sender tests.

Recipients can be told to answer temporarily (451) or permanently (550) at RCPT time, or
to have their message refused at DATA; senders can be refused at MAIL FROM; the server can
close connections left idle, and take a while over each message (``delay``), as a busy
relay does.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes


@dataclass
class SinkHandler:
    answers: dict[str, str] = field(default_factory=dict)
    data_answers: dict[str, str] = field(default_factory=dict)
    mail_answers: dict[str, str] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    rcpt_attempts: list[str] = field(default_factory=list)
    delay: float = 0.0

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        answer = self.mail_answers.get(address.lower())
        if answer:
            return answer
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        self.rcpt_attempts.append(address)
        answer = self.answers.get(address.lower())
        if answer:
            return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        for address in envelope.rcpt_tos:
            if address.lower() in self.data_answers:
                return self.data_answers[address.lower()]
        self.received.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content)
        )
        return "250 Message accepted"


@contextmanager
def smtp_sink(
    answers: dict[str, str] | None = None,
    data_answers: dict[str, str] | None = None,
    mail_answers: dict[str, str] | None = None,
    idle_timeout: float | None = None,
    delay: float = 0.0,
) -> Iterator[tuple[SinkHandler, int]]:
    """Start a recording SMTP server; yields its handler and port, and always stops it.
    ``idle_timeout``: close a connection silent that long, as many relays do."""
    handler = SinkHandler(
        answers=answers or {},
        data_answers=data_answers or {},
        mail_answers=mail_answers or {},
        delay=delay,
    )
    port = free_port()
    extra: dict[str, Any] = {"timeout": idle_timeout} if idle_timeout else {}
    controller = Controller(handler, hostname="127.0.0.1", port=port, **extra)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()
