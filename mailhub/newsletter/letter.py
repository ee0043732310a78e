"""Mail written once and addressed many times: a shared body (text and HTML, optionally
with calendar attachments) and, per member, the headers with their address, unsubscribe
token and Message-ID, and the same token in the body's unsubscribe link (outbound/leave.py).

Newsletters, event digests and event reminders share this, so each looks like the list's
other mail (same List-* headers as posts and digests) and costs one join per member.
"""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime

from mailhub.addresses import AddressBook, Kind
from mailhub.config import Settings
from mailhub.context import Context
from mailhub.digest.pieces import CRLF, Pieces
from mailhub.member_tokens import unsubscribe_token
from mailhub.models import Community
from mailhub.newsletter.recipients import Recipient
from mailhub.outbound.compose import bounce_address
from mailhub.outbound.headers import (
    encoded_text,
    header_line,
    list_headers,
    list_subject,
    mailbox,
)
from mailhub.outbound.leave import LEAVE, leave_hole
from mailhub.outbound.outbox import Outgoing


@dataclass(frozen=True)
class Calendar:
    """One `.ics` attachment."""

    filename: str
    data: bytes


def _boundary() -> str:
    return f"=_mailhub_{secrets.token_hex(12)}"


def _alternative(pieces: Pieces, text: str, html: str, holes: re.Pattern[str]) -> None:
    boundary = _boundary()
    pieces.add(f'Content-Type: multipart/alternative; boundary="{boundary}"{CRLF}{CRLF}')
    pieces.add(f"--{boundary}{CRLF}")
    pieces.add_part(text, holes, "plain")
    pieces.add(f"--{boundary}{CRLF}")
    pieces.add_part(html, holes, "html")
    pieces.add(f"--{boundary}--{CRLF}")


def _calendar_part(calendar: Calendar) -> str:
    # The file name is ours (never member text), so it needs no encoding.
    encoded = base64.encodebytes(calendar.data).decode("ascii").replace("\n", CRLF)
    return (
        f'Content-Type: text/calendar; charset="utf-8"; method=PUBLISH;'
        f' name="{calendar.filename}"{CRLF}'
        f"Content-Transfer-Encoding: base64{CRLF}"
        f'Content-Disposition: attachment; filename="{calendar.filename}"{CRLF}{CRLF}'
        f"{encoded}"
    )


def body(text: str, html: str, mark: str, calendars: Sequence[Calendar] = ()) -> Pieces:
    """The MIME body: text and HTML as alternatives, inside multipart/mixed with one
    text/calendar part per event when there are calendars; where they show
    ``leave_marker(mark)``, each copy gets its member's unsubscribe token."""
    pieces = Pieces()
    holes = leave_hole(mark)
    if not calendars:
        _alternative(pieces, text, html, holes)
        return pieces
    outer = _boundary()
    pieces.add(f'Content-Type: multipart/mixed; boundary="{outer}"{CRLF}{CRLF}')
    pieces.add(f"--{outer}{CRLF}")
    _alternative(pieces, text, html, holes)
    for calendar in calendars:
        pieces.add(f"--{outer}{CRLF}")
        pieces.add(_calendar_part(calendar))
    pieces.add(f"--{outer}--{CRLF}")
    return pieces


@dataclass(frozen=True)
class Letter:
    """One mail's shared parts; `to` gives a member's copy."""

    settings: Settings
    book: AddressBook
    community: Community
    sender_name: str
    subject: str
    date: datetime
    id_prefix: str
    body: Pieces

    def copies(
        self, ctx: Context, recipients: Iterable[Recipient], *, kind: str, key: str
    ) -> list[Outgoing]:
        """Each recipient's copy, ready for the outbox under ``<key>:person:<id>``, with
        their own unsubscribe token and return path."""
        return [
            Outgoing(
                dedup_key=f"{key}:person:{r.person_id}",
                kind=kind,
                recipient=r.email,
                envelope_from=bounce_address(ctx, self.book, self.community, r.person_id),
                raw=self.to(r.email, r.person_id, r.membership_id),
                community_id=self.community.id,
                person_id=r.person_id,
            )
            for r in recipients
        ]

    def to(self, email: str, person_id: int, membership_id: int) -> bytes:
        settings, community = self.settings, self.community
        token = unsubscribe_token(settings.instance.secret, membership_id, person_id)
        post = self.book.address(community.slug, Kind.POST)
        lines = [
            header_line("From", mailbox(self.sender_name, post)),
            header_line("To", email),
            f"Subject: {encoded_text('Subject', list_subject(self.subject, community))}{CRLF}",
            header_line("Date", format_datetime(self.date)),
            header_line("Reply-To", post),
            f"Message-ID: <{self.id_prefix}-{person_id}@{settings.instance.domain}>{CRLF}",
        ]
        lines += [
            header_line(name, value)
            for name, value in list_headers(settings, self.book, community, token).items()
        ]
        lines.append(f"MIME-Version: 1.0{CRLF}")
        return ("".join(lines) + self.body.fill({LEAVE: token})).encode("utf-8")
