"""smtplib's client as the sender uses it: a gate before each DATA (recorder.py), and the
work smtplib repeats for every message skipped where it cannot change a byte.

For each message smtplib parses both envelope addresses with `email.utils.parseaddr` and
runs a regular expression over the whole message to double the dots that start a line:
about 45 µs an address and 70 µs a 4 KB message on the benchmark machine, a third of the
sender's own CPU per copy in bench/fanout.py. Our envelope addresses are plain
``local@domain`` (return paths and member addresses), for which parseaddr gives back the
address itself, and most messages have no line that starts with a dot. Anything else goes
through smtplib as before. tests/test_sender.py checks both paths against smtplib's bytes
on the wire.
"""

from __future__ import annotations

import re
import smtplib
from collections.abc import Callable, Sequence
from typing import Any

CRLF = b"\r\n"
# An address smtplib's quoteaddr would give back unchanged inside <>: an atom-only local
# part and a domain, nothing to parse.
PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+")

Gate = Callable[[], None]


class GatedSMTP(smtplib.SMTP):
    """smtplib's client, calling ``gate`` before the DATA command of each message."""

    gate: Gate | None = None

    def mail(self, sender: str, options: Sequence[str] = ()) -> tuple[int, bytes]:
        # SMTPUTF8 changes the command's encoding: smtplib's own path handles it.
        if not PLAIN_ADDRESS.fullmatch(sender) or any(o.lower() == "smtputf8" for o in options):
            return super().mail(sender, options)
        self.putcmd("mail", f"FROM:<{sender}>{self._options(options)}")
        return self.getreply()

    def rcpt(self, recip: str, options: Sequence[str] = ()) -> tuple[int, bytes]:
        if not PLAIN_ADDRESS.fullmatch(recip):
            return super().rcpt(recip, options)
        self.putcmd("rcpt", f"TO:<{recip}>{self._options(options)}")
        return self.getreply()

    def _options(self, options: Sequence[str]) -> str:
        """ESMTP parameters as smtplib appends them (only to an ESMTP server)."""
        return " " + " ".join(options) if options and self.does_esmtp else ""

    def data(self, msg: Any) -> tuple[int, bytes]:
        if self.gate is not None:
            self.gate()
        if not isinstance(msg, bytes) or msg.startswith(b".") or b"\n." in msg:
            return super().data(msg)
        self.putcmd("data")
        code, answer = self.getreply()
        if code != 354:
            raise smtplib.SMTPDataError(code, answer)
        self.send(msg + (b".\r\n" if msg.endswith(CRLF) else b"\r\n.\r\n"))
        return self.getreply()


class GatedSMTPSSL(GatedSMTP, smtplib.SMTP_SSL):
    """The same over implicit TLS."""
