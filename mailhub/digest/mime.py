"""The two digest formats as `Pieces`: MIME multipart/alternative (text and HTML, the text
complete on its own) and RFC 1153-style multipart/digest (one message/rfc822 part per
item given in full, between the contents, which list abridged items, and a footer).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from email.utils import format_datetime

from mailhub.digest.pieces import CRLF, Pieces
from mailhub.digest.render import Digest
from mailhub.outbound.headers import encoded_text, header_line, id_header, mailbox

Render = Callable[..., str]


def _boundary() -> str:
    return f"=_mailhub_digest_{secrets.token_hex(12)}"


def marker_pattern(digest: Digest) -> re.Pattern[str]:
    return re.compile(re.escape(digest.mark) + r"(\d+)x")


def alternative(digest: Digest, text: str, html: str) -> Pieces:
    """multipart/alternative: the plain text first, the HTML last (the preferred one)."""
    marker = marker_pattern(digest)
    boundary = _boundary()
    pieces = Pieces()
    pieces.add(f'Content-Type: multipart/alternative; boundary="{boundary}"{CRLF}{CRLF}')
    pieces.add(f"--{boundary}{CRLF}")
    pieces.add_part(text, marker, "plain")
    pieces.add(f"--{boundary}{CRLF}")
    pieces.add_part(html, marker, "html")
    pieces.add(f"--{boundary}--{CRLF}")
    return pieces


def rfc1153(digest: Digest, render: Render) -> Pieces:
    """multipart/mixed: contents, a multipart/digest of the items, the footer."""
    marker = marker_pattern(digest)
    outer, inner = _boundary(), _boundary()
    pieces = Pieces()
    pieces.add(f'Content-Type: multipart/mixed; boundary="{outer}"{CRLF}{CRLF}')
    pieces.add(f"--{outer}{CRLF}")
    pieces.add_part(render("rfc1153-contents.txt"), marker, "plain")
    pieces.add(f"--{outer}{CRLF}")
    pieces.add(f'Content-Type: multipart/digest; boundary="{inner}"{CRLF}{CRLF}')
    for section in digest.full_sections:
        for thread in section.threads:
            for entry in thread.entries:
                item = entry.item
                pieces.add(f"--{inner}{CRLF}{CRLF}")
                pieces.add(
                    header_line("From", mailbox(item.author_name, _address(item.author_email)))
                )
                pieces.add(f"Subject: {encoded_text('Subject', item.subject)}{CRLF}")
                pieces.add(header_line("Date", format_datetime(item.at)))
                pieces.add(id_header("Message-ID", [item.message_id]).decode("ascii"))
                pieces.add(f"MIME-Version: 1.0{CRLF}")
                body = render("rfc1153-item.txt", entry=entry, section_title=section.title)
                pieces.add_part(body, marker, "plain")
    pieces.add(f"--{inner}--{CRLF}")
    pieces.add(f"--{outer}{CRLF}")
    pieces.add_part(render("rfc1153-footer.txt"), marker, "plain")
    pieces.add(f"--{outer}--{CRLF}")
    return pieces


def _address(address: str) -> str:
    """An author address fit for a header: one ASCII word with an @, or nothing."""
    address = address.strip()
    if (
        address.isascii()
        and "@" in address
        and not any(c.isspace() or c in '<>",' for c in address)
    ):
        return address
    return ""
