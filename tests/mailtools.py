"""Helpers for tests that read what mailhub queued: parse outbox rows, find addresses."""

from __future__ import annotations

import re
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from sqlmodel import col, select

from mailhub.context import Context
from mailhub.models import OutboundMessage


def outbox(
    ctx: Context, kind: str | None = None, to: str | None = None
) -> list[tuple[OutboundMessage, EmailMessage]]:
    """Queued mails, oldest first, parsed; optionally of one kind and to one address."""
    with ctx.session() as session:
        query = select(OutboundMessage).order_by(col(OutboundMessage.id))
        if kind:
            query = query.where(OutboundMessage.kind == kind)
        if to:
            query = query.where(OutboundMessage.recipient == to)
        rows = list(session.exec(query))
    return [(row, BytesParser(policy=policy.default).parsebytes(row.raw)) for row in rows]  # type: ignore[misc]


def body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return part.get_content()


def address_in(header: str, kind_letter: str) -> str:
    """The first `+<letter>-<token>@` address in a header value."""
    match = re.search(rf"[\w.-]+\+{kind_letter}-[a-z0-9.]+@[\w.-]+", header)
    assert match, header
    return match.group(0)
