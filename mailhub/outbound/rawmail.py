"""Writing simple messages straight to bytes.

The email package's modern API builds a header class per header and refolds everything; for
the many small mails mailhub writes (notices, notifications) that costs more than a
millisecond each. These mails are plain text (or text with an HTML alternative), so they
are written here directly: ASCII header lines, RFC 2047 where needed, and a body in 7bit
when it is plain ASCII, quoted-printable otherwise.
"""

from __future__ import annotations

import binascii
import secrets
from collections.abc import Iterable

from mailhub.outbound.headers import encoded_text, header_line

CRLF = "\r\n"
MAX_LINE = 990


def _crlf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", CRLF)


def text_part(text: str, subtype: str = "plain") -> tuple[str, str]:
    """MIME headers and encoded body of one text part."""
    if text.isascii() and all(len(line) < MAX_LINE for line in text.splitlines()):
        return _part_headers(subtype, "us-ascii", "7bit"), _crlf(text)
    body = binascii.b2a_qp(_crlf(text).encode("utf-8"), istext=True).decode("ascii")
    return _part_headers(subtype, "utf-8", "quoted-printable"), body


def _part_headers(subtype: str, charset: str, encoding: str) -> str:
    return (
        f'Content-Type: text/{subtype}; charset="{charset}"\r\n'
        f"Content-Transfer-Encoding: {encoding}\r\n"
    )


def assemble(fields: Iterable[tuple[str, str]], text: str, html: str | None = None) -> bytes:
    """A whole message: the given header fields, then a text (and optional HTML) body.

    Unstructured fields (Subject) are RFC 2047-encoded as needed; address fields must
    already be encoded (see headers.mailbox).
    """
    lines = []
    for name, value in fields:
        if name.lower() == "subject":
            lines.append(f"Subject: {encoded_text('Subject', value)}\r\n")
        else:
            lines.append(header_line(name, value))
    lines.append("MIME-Version: 1.0\r\n")
    plain_headers, plain_body = text_part(text)
    if html is None:
        return ("".join(lines) + plain_headers + CRLF + plain_body).encode("ascii")
    boundary = f"=_mailhub_{secrets.token_hex(12)}"
    html_headers, html_body = text_part(html, "html")
    parts = (
        f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'
        f"--{boundary}\r\n{plain_headers}\r\n{plain_body}\r\n"
        f"--{boundary}\r\n{html_headers}\r\n{html_body}\r\n"
        f"--{boundary}--\r\n"
    )
    return ("".join(lines) + parts).encode("ascii")
