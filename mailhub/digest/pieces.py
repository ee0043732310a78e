"""A message body written once with holes for per-member reply addresses.

The body is kept as encoded literal pieces with a post id between each two; a member's copy
is one `str.join` of the pieces and their addresses. Quoted-printable parts stay valid
because each hole sits on a line of its own, between soft line breaks, so the encoder never
has to wrap a line through an address.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from mailhub.outbound.rawmail import MAX_LINE

CRLF = "\r\n"
SOFT_BREAK = "=\r\n"
QP_LINE = 76
# Bytes a member's reply address may take in place of its marker, for size estimates.
ADDRESS_ALLOWANCE = 72


def _crlf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", CRLF)


def _qp(text: str) -> str:
    """Quoted-printable of a fragment, CRLF line ends, its last line short enough to take a
    soft break after it (binascii also lets a line ending in an encoded space reach 77)."""
    encoded = binascii.b2a_qp(_crlf(text).encode("utf-8"), istext=True).decode("ascii")
    lines = encoded.replace("\r\n", "\n").split("\n")
    last = len(lines) - 1
    return CRLF.join(
        _wrap(line, QP_LINE - 1 if n == last else QP_LINE) for n, line in enumerate(lines)
    )


def _wrap(line: str, limit: int) -> str:
    """Soft-break one encoded line until every piece fits in ``limit`` characters."""
    soft = line.endswith("=")
    content = line[:-1] if soft else line
    room = limit - 1 if soft else limit
    pieces = []
    while len(content) > room:
        # Break before an escape (=XX) rather than through it.
        cut = QP_LINE - 2
        while cut > 0 and "=" in content[max(cut - 2, 0) : cut]:
            cut -= 1
        pieces.append(content[:cut] + "=")
        content = content[cut:]
    pieces.append(content + ("=" if soft else ""))
    return CRLF.join(pieces)


@dataclass
class Pieces:
    """Literal pieces and, between each two, the post id whose reply address goes there."""

    literals: list[str] = field(default_factory=lambda: [""])
    holes: list[int] = field(default_factory=list)

    def add(self, text: str) -> None:
        self.literals[-1] += text

    def hole(self, post_id: int) -> None:
        self.holes.append(post_id)
        self.literals.append("")

    def add_part(self, text: str, marker: re.Pattern[str], subtype: str) -> None:
        """One text part (MIME headers, blank line, body) whose markers become holes."""
        fragments = marker.split(text)
        words, ids = fragments[0::2], [int(i) for i in fragments[1::2]]
        plain = text.isascii() and all(len(line) < MAX_LINE - 100 for line in text.splitlines())
        charset, encoding = ("us-ascii", "7bit") if plain else ("utf-8", "quoted-printable")
        self.add(
            f'Content-Type: text/{subtype}; charset="{charset}"{CRLF}'
            f"Content-Transfer-Encoding: {encoding}{CRLF}{CRLF}"
        )
        for index, word in enumerate(words):
            if plain:
                self.add(_crlf(word))
            else:
                self.add(_qp(word) + (SOFT_BREAK if index < len(ids) else ""))
            if index < len(ids):
                self.hole(ids[index])
                if not plain:
                    self.add(SOFT_BREAK)
        self.add(CRLF)

    def size(self) -> int:
        """Bytes of a member's copy, near enough."""
        return sum(map(len, self.literals)) + ADDRESS_ALLOWANCE * len(self.holes)

    def fill(self, addresses: Mapping[int, str]) -> str:
        """A member's copy: every hole filled with their address for that post."""
        out = [self.literals[0]]
        for post_id, literal in zip(self.holes, self.literals[1:], strict=True):
            out.append(addresses[post_id])
            out.append(literal)
        return "".join(out)
