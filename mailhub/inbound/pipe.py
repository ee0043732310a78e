"""`mailhub ingest`: one message on stdin from an MTA pipe transport.

Exit codes follow sysexits.h, which MTAs understand: 0 once the message is committed,
75 (EX_TEMPFAIL) when the store cannot commit now, 67 (EX_NOUSER) for a recipient that is
not ours, 65 (EX_DATAERR) for input that is not a message or is too large.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError

from mailhub.context import Context
from mailhub.inbound import spool

EX_OK = 0
EX_DATAERR = 65
EX_NOUSER = 67
EX_TEMPFAIL = 75


@dataclass(frozen=True)
class IngestResult:
    code: int
    message: str


def ingest(ctx: Context, raw: bytes, recipients: list[str], sender: str) -> IngestResult:
    """Commit one piped message to the spool, or say why not with the right exit code."""
    limit = ctx.settings.inbound.max_message_bytes
    if not raw.strip():
        return IngestResult(EX_DATAERR, "empty input: no message on stdin")
    if len(raw) > limit:
        return IngestResult(EX_DATAERR, f"message is {len(raw):,} bytes; the limit is {limit:,}")
    if b":" not in raw.split(b"\n", 1)[0]:
        return IngestResult(EX_DATAERR, "input does not start with a mail header")
    try:
        with ctx.session() as session:
            book = ctx.address_book(session)
        unknown = [r for r in recipients if book.resolve(r) is None]
        if unknown:
            return IngestResult(EX_NOUSER, f"unknown recipient {', '.join(unknown)}")
        arrival = spool.Arrival(source="pipe", raw=raw, mail_from=sender, rcpt_to=recipients)
        row_id = spool.store(ctx.engine, arrival, ctx.now())
    except (SQLAlchemyError, OSError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        return IngestResult(EX_TEMPFAIL, f"cannot store the message now: {reason}")
    return IngestResult(EX_OK, f"spooled #{row_id}")
