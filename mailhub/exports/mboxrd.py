"""The mboxrd format (RFC 4155 and the "mboxrd" variant): each message behind a ``From ``
line, every body line that starts with ``From `` after any number of ``>`` quoted with one
more ``>``, so a reader that removes one ``>`` gets the message back exactly (the older
"mboxo" quoted only ``From `` and lost the difference). Lines end in LF, as mbox files do.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

_FROM_LINE = re.compile(rb"^(>*From )", re.MULTILINE)
_QUOTED_FROM_LINE = re.compile(rb"^>(>*From )", re.MULTILINE)
# The envelope sender of a From_ line when none is known (as mail programs write it).
NO_SENDER = "MAILER-DAEMON"


def entry(message: bytes, sender: str, when: datetime) -> bytes:
    """One message as it stands in an mboxrd file, with its separating blank line."""
    body = _FROM_LINE.sub(rb">\1", message.replace(b"\r\n", b"\n"))
    if not body.endswith(b"\n"):
        body += b"\n"
    envelope = "".join(sender.split()) or NO_SENDER
    stamp = when.astimezone(UTC).strftime("%a %b %d %H:%M:%S %Y")
    return f"From {envelope} {stamp}\n".encode("ascii", "replace") + body + b"\n"


def unquote(message: bytes) -> bytes:
    """A message read from an mbox file with its ``>From `` lines given back one ``>``: the
    mboxrd quoting undone (for an mboxo file, the same except where the sender's own line
    began with ``>From ``)."""
    return _QUOTED_FROM_LINE.sub(rb"\1", message)
