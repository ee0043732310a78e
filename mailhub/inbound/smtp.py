"""The SMTP/LMTP front end: refuse what is not ours at RCPT, answer 250 only after commit.

One handler with two hooks (RCPT and DATA). Status lines are named constants. The raw bytes
and envelope are made safe by a committer (committers.py: the spool log on SQLite, a group
commit on PostgreSQL); a store that cannot commit answers 451 so the sending server retries.
"""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
import time
from typing import Any

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session

from mailhub.addresses import AddressBook
from mailhub.context import Context
from mailhub.inbound.committers import Committer
from mailhub.inbound.spool import Arrival

log = logging.getLogger("mailhub.smtp")

S250_OK = "250 2.1.5 OK"
S250_ACCEPTED = "250 2.0.0 Message accepted for delivery"
S550_NO_SUCH_ADDRESS = "550 5.1.1 {address}: no such list address here"
S550_RELAY_DENIED = "550 5.7.1 {address}: relay access denied"
S452_TOO_MANY = "452 4.5.3 Too many recipients"
S451_TRY_LATER = "451 4.3.0 Temporary failure storing the message; try again later"
S552_TOO_BIG = "552 5.3.4 Message too big for this system"
S554_NO_RECIPIENTS = "554 5.5.1 No valid recipients"
ADDRESS_BOOK_TTL = 10.0
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
SIMPLE_PATH = re.compile(
    rf"<(?P<address>(?P<local>{_ATOM}(?:\.{_ATOM})*)@{_LABEL}(?:\.{_LABEL})*)>(?P<rest>.*)\Z",
    re.DOTALL,
)


class AddressCache:
    """The address book, reloaded from the store every few seconds and after any miss (a
    community created a moment ago must be reachable; a reload is one small query)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._book: AddressBook | None = None
        self._loaded = 0.0

    def _load(self) -> AddressBook:
        with self.ctx.session() as session:
            return self.ctx.address_book(session)

    async def book(self, *, fresh: bool = False) -> AddressBook:
        age = time.monotonic() - self._loaded
        if self._book is None or age > ADDRESS_BOOK_TTL or fresh:
            self._book = await asyncio.to_thread(self._load)
            self._loaded = time.monotonic()
        return self._book


class InboundHandler:
    """RCPT: only this instance's addresses. DATA: commit to the spool, then answer."""

    def __init__(self, ctx: Context, committer: Committer, source: str = "smtp") -> None:
        self.ctx = ctx
        self.committer = committer
        self.source = source
        self.addresses = AddressCache(ctx)
        self.max_recipients = ctx.settings.smtp.max_recipients

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if len(envelope.rcpt_tos) >= self.max_recipients:
            return S452_TOO_MANY
        book = await self.addresses.book()
        if book.resolve(address) is None:
            book = await self.addresses.book(fresh=True)
        if book.resolve(address) is None:
            domain = address.rpartition("@")[2].lower()
            template = S550_NO_SUCH_ADDRESS if domain == book.domain else S550_RELAY_DENIED
            log.info("refused rcpt %s from %s", address, envelope.mail_from)
            return template.format(address=address)
        envelope.rcpt_tos.append(address)
        return S250_OK

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if not envelope.rcpt_tos:
            return S554_NO_RECIPIENTS
        raw = envelope.original_content or b""
        arrival = Arrival(
            source=self.source,
            raw=raw,
            mail_from=envelope.mail_from or "",
            rcpt_to=list(envelope.rcpt_tos),
        )
        try:
            reference = await self.committer.commit(arrival)
        except Exception as exc:
            log.error("spool commit failed: %s", exc)
            return self._per_recipient(server, envelope, S451_TRY_LATER)
        log.debug(
            "spooled %s from %s to %s (%d bytes)",
            reference,
            arrival.mail_from,
            ",".join(arrival.rcpt_to),
            len(raw),
        )
        return self._per_recipient(server, envelope, f"{S250_ACCEPTED} ({reference})")

    @staticmethod
    def _per_recipient(server: SMTP, envelope: Envelope, status: str) -> str:
        """LMTP answers DATA once per accepted recipient; SMTP once."""
        if isinstance(server, LMTP):
            return "\r\n".join(status for _ in envelope.rcpt_tos)
        return status


class _Tuned(SMTP):
    """What mailhub changes in aiosmtpd's protocol: enhanced codes on its own size refusals,
    and a fast path for the usual MAIL FROM / RCPT TO path. It subclasses SMTP so that its
    super() calls are typed; in MailhubLMTP the method order still puts LMTP before SMTP."""

    local_part_limit: int

    async def push(self, status: Any) -> None:
        """aiosmtpd's size refusals, with the enhanced status code RFC 3463 asks for."""
        text = status.decode() if isinstance(status, bytes) else status
        if text.startswith("552 Error"):
            text = S552_TOO_BIG
        await super().push(text)

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        """``<dot-atom@domain>`` and its parameters without the full RFC 5322 parser.

        aiosmtpd parses every path with the email package's header parser (and builds a class
        each time), about 45 µs, twice a message: a fifth of a bare server's CPU. A plain
        path, which is nearly every path, gives the same answer from one regular expression;
        anything else (quoted local parts, comments, source routes, ``<>``) goes to aiosmtpd.
        """
        match = SIMPLE_PATH.match(arg) if arg else None
        if match is not None:
            local, address, rest = match.group("local", "address", "rest")
            if not self.local_part_limit or len(local) <= self.local_part_limit:
                return address, rest.lstrip()
        return super()._getaddr(arg)


class MailhubSMTP(_Tuned, SMTP):
    pass


class MailhubLMTP(_Tuned, LMTP):
    pass


def tls_context(ctx: Context) -> ssl.SSLContext | None:
    smtp = ctx.settings.smtp
    if not smtp.tls_cert:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(smtp.tls_cert), str(smtp.tls_key) if smtp.tls_key else None)
    return context


async def start_listener(
    ctx: Context, committer: Committer, *, host: str | None = None, port: int | None = None
) -> asyncio.Server:
    """Listen on the configured address; returns the server (close it to stop intake)."""
    settings = ctx.settings.smtp
    handler = InboundHandler(ctx, committer, "lmtp" if settings.lmtp else "smtp")
    protocol = MailhubLMTP if settings.lmtp else MailhubSMTP
    tls = tls_context(ctx)
    loop = asyncio.get_running_loop()

    def factory() -> SMTP:
        return protocol(
            handler,
            data_size_limit=ctx.settings.inbound.max_message_bytes,
            enable_SMTPUTF8=True,
            decode_data=False,
            hostname=ctx.settings.instance.domain,
            ident="mailhub ESMTP",
            timeout=settings.timeout_seconds,
            tls_context=tls,
            require_starttls=False,
        )

    return await loop.create_server(
        factory, host=host or settings.host, port=settings.port if port is None else port
    )
