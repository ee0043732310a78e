"""Where outgoing mail goes: a local Maildir (the embedded default) or an SMTP relay.

A transport answers each delivery with a `Delivery`: sent, temporary failure (retry later)
or permanent failure (the server's answer is kept). One SMTP transport holds one connection
and reuses it for many messages.

A delivery calls its ``gate`` before the mail can become the receiver's (the SMTP DATA
command; the Maildir file being written). The sender gates on the previous
message's outcome being committed: that commit then overlaps the next message's MAIL and
RCPT round trips instead of adding to them, and still no connection ever has more than one
delivered message that the store does not know about.
"""

from __future__ import annotations

import hashlib
import os
import smtplib
import ssl
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from mailhub.config import RelaySettings
from mailhub.outbound.outbox import Claimed
from mailhub.outbound.smtpclient import Gate, GatedSMTP, GatedSMTPSSL


@dataclass(frozen=True)
class Delivery:
    ok: bool
    permanent: bool = False
    error: str = ""
    # The relay refused this recipient or its message for good (5xx at RCPT or DATA): the
    # recipient's bounce score counts it like a bounce that came back by mail.
    refused: bool = False


SENT = Delivery(ok=True)


def temporary(error: str) -> Delivery:
    return Delivery(ok=False, permanent=False, error=error)


def permanent(error: str) -> Delivery:
    return Delivery(ok=False, permanent=True, error=error)


class Transport(Protocol):
    def deliver(self, mail: Claimed, raw: bytes, gate: Gate | None = None) -> Delivery:
        """Hand over ``raw`` (the row's bytes, DKIM-signed when configured) for ``mail``,
        calling ``gate`` just before the point of no return."""
        ...

    def close(self) -> None: ...


class MaildirTransport:
    """Writes each mail into a Maildir so a new user can read what would have been sent.

    The file name derives from the outbox row (its id and the digest of its unsigned
    bytes, so a store started afresh never matches an old file), so delivering a row twice
    (after a crash between writing and recording) leaves one file, not two, DKIM or not.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        for sub in ("tmp", "new", "cur"):
            (root / sub).mkdir(parents=True, exist_ok=True)

    def deliver(self, mail: Claimed, raw: bytes, gate: Gate | None = None) -> Delivery:
        digest = hashlib.sha256(mail.raw).hexdigest()[:12]
        name = f"{mail.id:010d}.{digest}.mailhub"
        final = self.root / "new" / name
        if final.exists():
            return SENT
        if gate is not None:
            gate()
        envelope = f"Return-Path: <{mail.envelope_from}>\r\nDelivered-To: {mail.recipient}\r\n"
        temp = self.root / "tmp" / f"{name}.{os.getpid()}.{threading.get_ident()}"
        try:
            with temp.open("wb") as handle:
                handle.write(envelope.encode() + raw)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, final)
        except OSError as exc:
            return temporary(f"cannot write to {self.root}: {exc.strerror or exc}")
        return SENT

    def close(self) -> None:
        return None


class RateLimiter:
    """Spaces sends so that all connections together stay under ``per_second``."""

    def __init__(self, per_second: float) -> None:
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self.interval
        if slot > now:
            time.sleep(slot - now)


# A connection idle this long may have been closed by the relay (many close idle clients
# after a few seconds): it is checked with NOOP before it carries a message, because a
# message sent into a dead connection fails and waits a whole retry interval.
IDLE_CHECK_SECONDS = 0.5


def _response_delivery(code: int, message: bytes | str, *, recipient: bool = True) -> Delivery:
    """The relay's answer as a Delivery; ``recipient`` when it answered for this recipient
    or this message (RCPT, DATA), not for our sender (MAIL FROM)."""
    text = message.decode(errors="replace") if isinstance(message, bytes) else message
    answer = f"{code} {text}".strip()
    if 500 <= code < 600:
        return Delivery(ok=False, permanent=True, error=answer, refused=recipient)
    return temporary(answer)


class SmtpTransport:
    """Delivers through a relay on one reusable connection."""

    def __init__(self, settings: RelaySettings, limiter: RateLimiter | None = None) -> None:
        self.settings = settings
        self.limiter = limiter or RateLimiter(settings.max_per_second)
        self._smtp: GatedSMTP | None = None
        self._used = 0.0

    def _connect(self) -> GatedSMTP:
        s = self.settings
        if s.security == "tls":
            smtp: GatedSMTP = GatedSMTPSSL(
                s.host, s.port, timeout=s.timeout_seconds, context=ssl.create_default_context()
            )
        else:
            smtp = GatedSMTP(s.host, s.port, timeout=s.timeout_seconds)
        smtp.ehlo()
        if s.security == "starttls":
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
        if s.username:
            password = os.environ.get(s.password_env or "", "")
            smtp.login(s.username, password)
        return smtp

    def deliver(self, mail: Claimed, raw: bytes, gate: Gate | None = None) -> Delivery:
        self.limiter.wait()
        try:
            if self._smtp is not None and not self._still_open():
                self.close()
            if self._smtp is None:
                self._smtp = self._connect()
            self._smtp.gate = gate
            self._smtp.sendmail(mail.envelope_from, [mail.recipient], raw)
            self._used = time.monotonic()
            return SENT
        except smtplib.SMTPRecipientsRefused as exc:
            code, message = next(iter(exc.recipients.values()))
            return _response_delivery(code, message)
        except smtplib.SMTPResponseException as exc:
            self._reset_after(exc.smtp_code)
            # DATA answers for this message; MAIL FROM, EHLO and AUTH answer for us.
            about_message = isinstance(exc, smtplib.SMTPDataError)
            return _response_delivery(exc.smtp_code, exc.smtp_error, recipient=about_message)
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            self.close()
            where = f"{self.settings.host}:{self.settings.port}"
            return temporary(f"relay {where} unreachable: {exc or type(exc).__name__}")
        except BaseException:
            # The gate failed (the store could not record): leave no transaction half open.
            self.close()
            raise

    def greet(self) -> str:
        """Connect and say EHLO as every delivery does first (`mailhub check`); the
        relay's greeting line. Raises OSError or SMTPException when that fails."""
        self.close()
        self._smtp = self._connect()
        answer = self._smtp.ehlo_resp or b""
        self.close()
        return answer.decode(errors="replace").splitlines()[0] if answer else ""

    def _still_open(self) -> bool:
        """False when a connection idle past IDLE_CHECK_SECONDS no longer answers NOOP."""
        if self._smtp is None or time.monotonic() - self._used < IDLE_CHECK_SECONDS:
            return True
        try:
            code, _message = self._smtp.noop()
        except (smtplib.SMTPException, OSError):
            return False
        self._used = time.monotonic()
        return code == 250

    def _reset_after(self, code: int) -> None:
        """After a refused message keep the connection if it still answers, else drop it."""
        if code == 421 or self._smtp is None:
            self.close()
            return
        try:
            self._smtp.rset()
        except (smtplib.SMTPException, OSError):
            self.close()

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None
