"""A result's snippet: the words around the first match, the query's terms marked.

The terms are found as the index found them (whole phrases, a word's pairs of characters,
prefixes), by tokenizing the text with search/text.py. Tokenizing a whole text for each of
twenty results cost 26 ms a search page, so a regular expression first finds where the
first term may stand (accents allowed where the index ignores them), and only about a
snippet's length of text around it is tokenized. Addresses are hidden in that window only
(hiding them in a whole text of 400,000 characters, a resource file's, cost 35 ms a
result); a cut never falls inside an address, which would then show in part.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from mailhub.portal.web import ADDRESS, hide_addresses
from mailhub.search.query import Term
from mailhub.search.text import Token, fold, tokens

SNIPPET_CHARS = 240
# No address is longer (RFC 5321: 254 characters): one that holds a place starts and ends
# this near it.
ADDRESS_REACH = 320
Snippet = tuple[tuple[str, bool], ...]


def _latin_variants() -> dict[str, str]:
    """Each ASCII letter and the accented Latin letters that fold to it."""
    variants: dict[str, set[str]] = {}
    for code in [*range(0xC0, 0x250), *range(0x1E00, 0x1F00)]:
        char = chr(code)
        if unicodedata.category(char).startswith("L"):
            folded = fold(char)
            if len(folded) == 1 and folded.isascii():
                variants.setdefault(folded, set()).add(char)
    return {letter: "".join(sorted(chars)) for letter, chars in variants.items()}


_VARIANTS = _latin_variants()


@lru_cache(maxsize=512)
def _locator(token: str) -> re.Pattern[str]:
    """Where a token may start in a text: its letters, or their accented forms."""
    parts = [
        f"[{re.escape(ch)}{re.escape(_VARIANTS[ch])}]" if ch in _VARIANTS else re.escape(ch)
        for ch in token
    ]
    return re.compile("".join(parts), re.IGNORECASE)


def _address_at(text: str, at: int) -> tuple[int, int] | None:
    """Where the email address that holds the character at ``at`` starts and ends, if one does."""
    for found in ADDRESS.finditer(text, max(at - ADDRESS_REACH, 0), at + ADDRESS_REACH):
        if found.start() > at:
            break
        if at < found.end():
            return found.span()
    return None


def _cut(text: str, at: int) -> int:
    """A place to cut ``text`` at: ``at``, or the start of the address it would cut."""
    address = _address_at(text, at)
    return at if address is None else address[0]


def _first_place(text: str, terms: list[Term]) -> int:
    """Where the first term may stand, outside addresses (they are hidden)."""
    places = []
    for term in terms:
        for found in _locator(term.tokens[0]).finditer(text):
            if _address_at(text, found.start()) is None:
                places.append(found.start())
                break
    return min(places, default=0)


def _spans(text: str, offset: int, terms: list[Term]) -> list[list[int]]:
    """Where the terms stand in ``text`` (places shifted by ``offset``), merged."""
    longest = max((len(term.tokens) for term in terms), default=1)
    recent: list[Token] = []
    places: list[tuple[int, int]] = []
    for token in tokens(text):
        recent.append(token)
        if len(recent) > longest:
            del recent[0]
        for term in terms:
            n = len(term.tokens)
            if len(recent) < n:
                continue
            window = recent[-n:]
            last = window[-1].text
            if any(t.text != w for t, w in zip(window[:-1], term.tokens[:-1], strict=True)):
                continue
            if last == term.tokens[-1] or (term.prefix and last.startswith(term.tokens[-1])):
                places.append((offset + window[0].start, offset + window[-1].end))
    spans: list[list[int]] = []
    for s, e in sorted(places):
        if spans and s <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], e)
        else:
            spans.append([s, e])
    return spans


def snippet(text: str, terms: list[Term], size: int = SNIPPET_CHARS) -> Snippet:
    """The part of ``text`` around the first match, its matched words marked."""
    first = _first_place(text, terms) if terms else 0
    # The window is twice the snippet's size either side: runs of spaces shrink to one.
    low = _cut(text, max(first - 2 * size, 0))
    high = _cut(text, min(first + 2 * size, len(text)))
    part = " ".join(hide_addresses(text[low:high]).split())
    first = _first_place(part, terms) if terms else 0
    start = 0
    if first > size // 3:
        start = part.rfind(" ", 0, first - size // 3) + 1
    end = min(len(part), start + size)
    if end < len(part):
        cut = part.rfind(" ", start, end)
        if cut > start:
            end = cut
    spans = _spans(part[start:end], start, terms) if terms else []
    pieces: list[tuple[str, bool]] = [("… ", False)] if low > 0 or start > 0 else []
    at = start
    for s, e in spans:
        if s > at:
            pieces.append((part[at:s], False))
        pieces.append((part[s:e], True))
        at = e
    if at < end:
        pieces.append((part[at:end], False))
    if high < len(text) or end < len(part):
        pieces.append((" …", False))
    return tuple(pieces)
