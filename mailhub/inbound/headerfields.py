"""Tolerant decoding of raw header values: 8-bit bytes, RFC 2047 words, addresses, ids, dates.

The policy's own header objects raise on some malformed input and turn undeclared 8-bit bytes
into U+FFFD, so values are decoded here from the raw header text instead.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.header import decode_header
from email.utils import getaddresses, parsedate_to_datetime

from mailhub.inbound.charsets import decode_bytes

_ID = re.compile(r"<([^<>]*)>")
# Quoted strings and comments, where nmh's and Emacs's In-Reply-To put names and dates.
_QUOTED_OR_COMMENT = re.compile(r'"(?:[^"\\]|\\.)*"|\((?:[^()\\]|\\.)*\)')
_FOLD = re.compile(r"\r?\n[ \t]*")
_ENCODED_WORD = re.compile(r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")
_BETWEEN_WORDS = re.compile(r"(\?=)\s+(=\?)")


def unfold(value: str) -> str:
    """Join folded lines the way RFC 5322 says: CRLF followed by white space is one space."""
    return _FOLD.sub(" ", value).strip()


def repair_8bit(value: str) -> str:
    """Undo the parser's surrogate escapes: raw 8-bit bytes in a header, most often UTF-8."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raw = value.encode("ascii", "surrogateescape")
        return decode_bytes(raw, None)[0]
    return value


def decode_words(value: str) -> str:
    """Decode RFC 2047 encoded words one by one, so one broken word spoils only itself."""
    value = unfold(repair_8bit(value))
    if "=?" not in value:
        return value
    # White space between two adjacent encoded words is not part of the text.
    value = _BETWEEN_WORDS.sub(r"\1\2", value)
    return _ENCODED_WORD.sub(_decode_word, value)


def _decode_word(match: re.Match[str]) -> str:
    word = match.group(0)
    try:
        [(chunk, charset)] = decode_header(word)
    except Exception:
        return word
    if isinstance(chunk, str):
        return chunk
    return decode_bytes(chunk, charset)[0]


def addresses(value: str | None) -> list[tuple[str, str]]:
    """(display name, lower-cased address) pairs; the address may be empty ("MAILER-DAEMON <>")."""
    if not value:
        return []
    value = unfold(repair_8bit(value))
    try:
        pairs = getaddresses([value])
    except Exception:
        return []
    result = []
    for name, addr in pairs:
        addr = addr.strip().strip("<>").strip().lower()
        if addr or name:
            result.append((decode_words(name), addr))
    return result


def message_ids(value: str | None) -> list[str]:
    """Ids in the order given, without angle brackets; bare tokens when brackets are missing.

    Folding can put white space inside a long id (``<abc\r\n def@host>``); it is never part
    of the id, so it is dropped.
    """
    if not value:
        return []
    value = unfold(repair_8bit(value))
    found = [joined for found in _ID.findall(value) if (joined := "".join(found.split()))]
    if found:
        return found
    return [token.strip("<>") for token in value.split() if "@" in token]


def reply_parents(value: str | None) -> list[str]:
    """The ids an In-Reply-To names, the parent last, as JWZ's algorithm reads it.

    nmh and exmh write ``Message from Ann <ann@example.org> of "Tue, 4 Nov 1997." <id>``:
    two bracketed items, the first an address. JWZ takes the last thing that looks like a
    Message-ID; names and dates in quoted strings or comments (Emacs's ``<id> (Ann's
    message of "...")``) are dropped first, so a bracketed address in them never counts.
    """
    if not value:
        return []
    return message_ids(_QUOTED_OR_COMMENT.sub(" ", unfold(repair_8bit(value))))


def message_id(value: str | None) -> str | None:
    """The first id of a Message-ID header, or its whole stripped text if it has no brackets."""
    ids = message_ids(value)
    if ids:
        return ids[0]
    text = unfold(value or "").strip("<> ")
    return text.replace(" ", "") or None


def parse_date(value: str | None) -> datetime | None:
    """An aware datetime; a date without zone ("-0000" or none) is taken as UTC."""
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(unfold(repair_8bit(value)))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed
