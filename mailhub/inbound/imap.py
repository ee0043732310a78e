"""The IMAP poller: moves mail from a mailbox we were given into the spool, losing none.

Order of work for each poll, per mailbox:

1. SELECT the folder and compare its UIDVALIDITY with the watermark in `mailbox_state`.
2. SEARCH for what is not yet acknowledged (no flag in flag mode; anything not deleted in
   move mode). UIDs at or below the watermark were committed by an earlier poll that died
   before acknowledging them: they are only acknowledged now, never fetched again.
3. For the UIDs above the watermark, in batches: FETCH ``BODY.PEEK[]`` (so fetching does not
   set \\Seen), then in ONE transaction store the messages in the spool and raise the
   watermark, and only after that commit flag or move them on the server.

The watermark is raised with a compare-and-set, so two nodes polling one mailbox cannot
both spool a batch: the slower one rolls back and leaves the batch to the other.

A second guard skips a message whose `source_ref` is already in the spool, or whose raw
bytes (sha256) were already spooled from this mailbox. The second part matters after a
UIDVALIDITY change, when the folder is re-read from UID 1: byte-identical mail from the same
mailbox is the same delivery (its Received headers would differ otherwise), so it is
acknowledged without a second spool row. Identical bytes arriving through another mailbox
are kept: that is another delivery, and the pipeline dedups posts per Message-ID anyway.

In flag mode, mail that already carries the flag counts as handled. Where people read the
mailbox too, configure a keyword of our own (``flag = "$Mailhub"``) rather than \\Seen.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import ssl
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.parser import BytesHeaderParser
from email.utils import getaddresses, parseaddr

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError
from sqlalchemy import insert, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from mailhub.config import ImapMailboxSettings
from mailhub.context import Context
from mailhub.inbound import spool
from mailhub.models import InboundMessage, MailboxState, table_of

log = logging.getLogger(__name__)

STATE = table_of(MailboxState)
SPOOL = table_of(InboundMessage)
SOURCE = "imap"
BODY_PEEK = b"BODY.PEEK[]"
BODY = b"BODY[]"
FETCH_BATCH = 20
IDLE_RENEW_SECONDS = 25 * 60.0
IDLE_CHECK_SECONDS = 1.0
BACKOFF_FIRST_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 300.0
SYSTEM_FLAGS = {"\\SEEN", "\\ANSWERED", "\\FLAGGED", "\\DELETED", "\\DRAFT"}


class MailboxError(Exception):
    """The mailbox cannot be used as configured (no password, server said goodbye)."""


class WatermarkMoved(Exception):
    """Another poller advanced this mailbox meanwhile; our batch was rolled back."""


# Failures of the network or the server: logged as one line, then retried with backoff.
EXPECTED_ERRORS = (OSError, IMAPClientError, MailboxError)


@dataclass(frozen=True)
class Watermark:
    """What `mailbox_state` says about one mailbox; ``stored`` is False before the first row."""

    uidvalidity: int | None = None
    last_uid: int = 0
    stored: bool = False


def load_watermark(connection: Connection, mailbox: str) -> Watermark:
    row = connection.execute(
        select(STATE.c.uidvalidity, STATE.c.last_uid).where(STATE.c.mailbox == mailbox)
    ).first()
    return Watermark(row[0], row[1], True) if row else Watermark()


def save_watermark(
    connection: Connection, mailbox: str, old: Watermark, new: Watermark, now: datetime
) -> None:
    """Move the watermark from ``old`` to ``new``, or raise WatermarkMoved if it moved."""
    values = {"uidvalidity": new.uidvalidity, "last_uid": new.last_uid, "updated_at": now}
    if not old.stored:
        # A duplicate key means another poller stored the first row; the caller's
        # transaction is rolled back as a whole, batch included.
        try:
            connection.execute(insert(STATE).values(mailbox=mailbox, **values))
        except IntegrityError:
            raise WatermarkMoved(mailbox) from None
        return
    statement = (
        update(STATE)
        .where(STATE.c.mailbox == mailbox)
        .where(STATE.c.uidvalidity.is_not_distinct_from(old.uidvalidity))
        .where(STATE.c.last_uid == old.last_uid)
        .values(**values)
    )
    if connection.execute(statement).rowcount != 1:
        raise WatermarkMoved(mailbox)


def unseen_arrivals(
    connection: Connection, mailbox: str, arrivals: Sequence[spool.Arrival]
) -> list[spool.Arrival]:
    """The arrivals not yet in the spool, by source_ref or by bytes from this mailbox."""
    digests = [hashlib.sha256(a.raw).hexdigest() for a in arrivals]
    refs = [a.source_ref for a in arrivals]
    known = connection.execute(
        select(SPOOL.c.source_ref, SPOOL.c.sha256).where(
            or_(
                SPOOL.c.source_ref.in_(refs),
                SPOOL.c.sha256.in_(set(digests))
                & (SPOOL.c.source == SOURCE)
                & SPOOL.c.source_ref.startswith(f"{mailbox}:", autoescape=True),
            )
        )
    ).all()
    seen_refs = {row[0] for row in known}
    seen_digests = {row[1] for row in known}
    fresh = []
    for arrival, digest in zip(arrivals, digests, strict=True):
        if arrival.source_ref in seen_refs or digest in seen_digests:
            continue
        seen_digests.add(digest)
        fresh.append(arrival)
    return fresh


def _first_address(values: Iterable[str] | None) -> str | None:
    for _name, address in getaddresses(list(values or [])):
        if address:
            return address
    return None


def envelope_of(raw: bytes, recipient: str | None) -> tuple[str, list[str]]:
    """Sender and recipients as the delivering server recorded them in the headers.

    IMAP has no envelope; the MDA leaves Return-Path, and usually Delivered-To or
    X-Original-To. The configured recipient wins; with none, rcpt_to stays empty and the
    pipeline reads To/Cc instead.
    """
    headers = BytesHeaderParser().parsebytes(raw)
    mail_from = parseaddr(str(headers.get("Return-Path", "")))[1]
    if recipient:
        return mail_from, [recipient]
    for name in ("Delivered-To", "X-Original-To"):
        address = _first_address(str(v) for v in headers.get_all(name, []))
        if address:
            return mail_from, [address]
    return mail_from, []


def unacknowledged_criteria(settings: ImapMailboxSettings) -> list[str]:
    """SEARCH keys for mail not yet flagged or moved by us."""
    if settings.move_to:
        return ["NOT", "DELETED"]
    flag = settings.flag
    if flag.upper() in SYSTEM_FLAGS:
        return ["NOT", "DELETED", "NOT", flag[1:].upper()]
    return ["NOT", "DELETED", "NOT", "KEYWORD", flag]


def backoff_delay(failures: int) -> float:
    """1 s, 2 s, 4 s ... after consecutive failures, never more than five minutes."""
    return min(BACKOFF_FIRST_SECONDS * 2 ** min(failures, 16), BACKOFF_MAX_SECONDS)


def describe_problem(exc: BaseException, settings: ImapMailboxSettings) -> str:
    """One readable line for a connection problem, without a traceback."""
    if isinstance(exc, LoginError):
        return (
            f"login refused for user {settings.username!r} "
            f"(check the password in ${settings.password_env}): {exc}"
        )
    if isinstance(exc, TimeoutError):
        return f"no answer within {settings.timeout_seconds:g} s"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed: {exc}"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    return str(exc) or type(exc).__name__


def _chunks(items: Sequence[int], size: int) -> Iterable[Sequence[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class MailboxPoller:
    """Polls one configured mailbox; one instance per thread."""

    def __init__(self, ctx: Context, settings: ImapMailboxSettings) -> None:
        self.ctx = ctx
        self.settings = settings
        self.criteria = unacknowledged_criteria(settings)
        self._client: IMAPClient | None = None

    @property
    def where(self) -> str:
        s = self.settings
        return f"imap mailbox {s.name} ({s.username}@{s.host}:{s.port}/{s.folder})"

    def poll_once(self) -> int:
        """Connect if needed, spool every new message, then acknowledge it; count spooled."""
        client = self._client or self._connect()
        try:
            return self._poll(client)
        except BaseException:
            # A half-finished exchange leaves the session in an unknown state: start afresh.
            self._drop()
            raise

    def run(self, stop: threading.Event) -> None:
        """Poll until ``stop`` is set; wait by IDLE or sleep; reconnect with backoff."""
        failures = 0
        try:
            while not stop.is_set():
                try:
                    spooled = self.poll_once()
                    if failures:
                        log.info("%s: connected again", self.where)
                    failures = 0
                    # After spooling, poll again at once: new mail may have been announced
                    # in a response we did not wait for, and IDLE would not repeat it.
                    if not spooled:
                        self._wait_for_mail(stop)
                except Exception as exc:
                    self._drop()
                    delay = backoff_delay(failures)
                    failures += 1
                    self._report(exc, delay)
                    stop.wait(delay)
        finally:
            self.close()

    def close(self) -> None:
        """Log out politely if we can; always release the socket."""
        client, self._client = self._client, None
        if client is None:
            return
        try:
            client.logout()
        except Exception:
            self._shutdown(client)

    def _report(self, exc: Exception, delay: float) -> None:
        if isinstance(exc, EXPECTED_ERRORS):
            problem = describe_problem(exc, self.settings)
            log.warning("%s: %s; retrying in %g s", self.where, problem, delay)
        else:
            log.exception("%s: poll failed; retrying in %g s", self.where, delay)

    def _password(self) -> str:
        password = os.environ.get(self.settings.password_env)
        if password is None:
            raise MailboxError(f"environment variable ${self.settings.password_env} is not set")
        return password

    def _tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if not self.settings.verify_tls:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def _connect(self) -> IMAPClient:
        s = self.settings
        password = self._password()
        tls = self._tls_context() if s.security != "none" else None
        client = IMAPClient(
            s.host, port=s.port, ssl=s.security == "tls", ssl_context=tls, timeout=s.timeout_seconds
        )
        try:
            if s.security == "starttls":
                client.starttls(tls)
            client.login(s.username, password)
            if s.move_to and not client.folder_exists(s.move_to):
                client.create_folder(s.move_to)
                log.info("%s: created folder %s for processed mail", self.where, s.move_to)
        except BaseException:
            self._shutdown(client)
            raise
        self._client = client
        return client

    def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            self._shutdown(client)

    @staticmethod
    def _shutdown(client: IMAPClient) -> None:
        # Failing here means the socket is already gone: nothing is left to release.
        with contextlib.suppress(Exception):
            client.shutdown()

    def _poll(self, client: IMAPClient) -> int:
        uidvalidity = int(client.select_folder(self.settings.folder)[b"UIDVALIDITY"])
        with self.ctx.engine.connect() as connection:
            mark = load_watermark(connection, self.settings.name)
        last_uid = mark.last_uid
        if mark.uidvalidity != uidvalidity:
            if mark.uidvalidity is not None:
                log.warning(
                    "%s: UIDVALIDITY changed from %s to %s; re-reading the folder",
                    self.where,
                    mark.uidvalidity,
                    uidvalidity,
                )
            last_uid = 0
        uids = sorted(client.search(self.criteria))
        self._acknowledge(client, [uid for uid in uids if uid <= last_uid])
        spooled = 0
        for batch in _chunks([uid for uid in uids if uid > last_uid], FETCH_BATCH):
            try:
                count, mark = self._spool(client, batch, uidvalidity, mark)
            except WatermarkMoved:
                log.info("%s: another poller took this batch; leaving it to it", self.where)
                break
            self._acknowledge(client, batch)
            spooled += count
        return spooled

    def _spool(
        self, client: IMAPClient, uids: Sequence[int], uidvalidity: int, mark: Watermark
    ) -> tuple[int, Watermark]:
        """Commit one batch and the raised watermark together; return count and watermark."""
        fetched = client.fetch(uids, [BODY_PEEK])
        arrivals = [
            self._arrival(uidvalidity, uid, fetched[uid][BODY])
            for uid in uids
            if uid in fetched and BODY in fetched[uid]
        ]
        new_mark = Watermark(uidvalidity, max(uids), True)
        now = self.ctx.now()
        with self.ctx.engine.begin() as connection:
            fresh = unseen_arrivals(connection, self.settings.name, arrivals)
            if fresh:
                spool.store_many(connection, fresh, now)
            save_watermark(connection, self.settings.name, mark, new_mark, now)
        if len(fresh) < len(arrivals):
            log.info("%s: %d already spooled, skipped", self.where, len(arrivals) - len(fresh))
        return len(fresh), new_mark

    def _arrival(self, uidvalidity: int, uid: int, raw: bytes) -> spool.Arrival:
        mail_from, rcpt_to = envelope_of(raw, self.settings.recipient)
        return spool.Arrival(
            source=SOURCE,
            raw=raw,
            mail_from=mail_from,
            rcpt_to=rcpt_to,
            source_ref=f"{self.settings.name}:{uidvalidity}:{uid}",
        )

    def _acknowledge(self, client: IMAPClient, uids: Sequence[int]) -> None:
        """Flag or move mail whose bytes are committed; the server's 'done' mark."""
        if not uids:
            return
        target = self.settings.move_to
        if not target:
            client.add_flags(uids, [self.settings.flag], silent=True)
        elif client.has_capability("MOVE"):
            client.move(uids, target)
        else:
            client.copy(uids, target)
            client.add_flags(uids, ["\\Deleted"], silent=True)
            if client.has_capability("UIDPLUS"):
                client.uid_expunge(uids)
            else:
                client.expunge()

    def _wait_for_mail(self, stop: threading.Event) -> None:
        client = self._client
        if client is not None and self.settings.idle and client.has_capability("IDLE"):
            self._idle(client, stop)
        else:
            stop.wait(self.settings.poll_seconds)

    def _idle(self, client: IMAPClient, stop: threading.Event) -> None:
        """Wait in IDLE until new mail, ``stop``, or the renewal servers expect every ~25 min."""
        client.idle()
        deadline = time.monotonic() + IDLE_RENEW_SECONDS
        while not stop.is_set() and time.monotonic() < deadline:
            started = time.monotonic()
            responses = client.idle_check(timeout=IDLE_CHECK_SECONDS)
            if any(r[:1] == (b"BYE",) for r in responses):
                raise MailboxError("the server ended the session (BYE)")
            if any(len(r) > 1 and r[1] == b"EXISTS" for r in responses):
                break
            # An empty answer before the timeout means the socket is readable but holds no
            # line, i.e. the peer hung up; idle_done below then raises for run() to handle.
            if not responses and time.monotonic() - started < IDLE_CHECK_SECONDS / 2:
                break
        client.idle_done()


def run_pollers(ctx: Context, stop: threading.Event) -> list[threading.Thread]:
    """Start one daemon thread per configured mailbox; they end when ``stop`` is set."""
    threads = []
    for settings in ctx.settings.imap:
        poller = MailboxPoller(ctx, settings)
        thread = threading.Thread(
            target=poller.run, args=(stop,), name=f"imap-{settings.name}", daemon=True
        )
        thread.start()
        threads.append(thread)
    return threads
