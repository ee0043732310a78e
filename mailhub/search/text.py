"""Words of any language as index tokens: the same code reads documents and queries, so
SQLite and PostgreSQL index exactly the same tokens and behave alike.

Why in Python rather than in the database: FTS5's tokenizers and PostgreSQL's parser split
Thai, Chinese, Japanese and Korean differently (or not at all) and strip accents
differently. Here every word is casefolded and NFKC-normalised; Latin letters lose their
accents (so "Việt Nam" and "Viet Nam", "négociation" and "negociation" are one word), and
scripts written without spaces between words (Thai, Lao, Khmer, Myanmar, Chinese, Japanese)
and Korean (whose words carry their particles) are cut into overlapping pairs of characters
(bigrams), ending each run with its last character alone. A word of a query is then the
phrase of its pairs: it finds the word wherever it stands, inside a longer compound too.
Pairs were chosen over dictionary segmenters after measuring them (bench/segmenters.py, on
ten Thai and ten Chinese sentences, every word the dictionary segmenter itself cuts out of
them searched in all): pairs found 111 of 111 Thai and 64 of 64 Chinese occurrences, and
nothing that lacked the word; pythainlp's newmm found 95 of 111 (86 %) and jieba 62 of 64
(97 %), since a dictionary cuts the same word differently in different contexts. Pairs
ran at 1.8 M Thai and 1.2 M Chinese characters a second against 98 k and 97 k, and need
no dictionary (pythainlp installs 67 MB, jieba 42 MB).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache
from itertools import pairwise
from typing import NamedTuple

# Scripts written without spaces, and Hangul: indexed as pairs of characters.
_PAIRED = (
    "\u0e00-\u0e7f\u0e80-\u0eff\u1000-\u109f\u1780-\u17ff"  # Thai, Lao, Myanmar, Khmer
    "\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f"  # CJ
    "\uac00-\ud7af\u1100-\u11ff\u3130-\u318f"  # Hangul
)
_PAIRED_CHAR = re.compile(f"[{_PAIRED}]")
# Combining marks that belong inside a word (accents, Indic vowel signs, Arabic vowels).
_MARKS = (
    "\u0300-\u036f\u0483-\u0489\u0591-\u05c7\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed"
    "\u0900-\u0dff\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
)
_TOKEN = re.compile(rf"(?P<paired>[{_PAIRED}]+)|(?P<word>(?:(?![{_PAIRED}])[^\W_]|[{_MARKS}])+)")
# Letters that keep no accent to strip but are written without one by many.
_FOLD = str.maketrans({"đ": "d", "ø": "o", "ł": "l", "æ": "ae", "œ": "oe", "ı": "i", "þ": "th"})
MAX_TOKEN = 60


class Token(NamedTuple):
    """One index token and the characters of the original text it stands for (a named
    tuple: snippets make hundreds of them per result)."""

    text: str
    start: int
    end: int
    run_end: bool = False  # the last character of a paired run, alone


def _is_latin(char: str) -> bool:
    code = ord(char)
    return code < 0x250 or 0x1E00 <= code <= 0x1EFF


@lru_cache(maxsize=200_000)
def fold(word: str) -> str:
    """A word as it is indexed: NFKC, casefolded, Latin letters without accents. Kept for
    the words seen most (words follow Zipf's law): indexing is mostly this function."""
    if word.isascii():
        return word.lower()[:MAX_TOKEN]
    decomposed = unicodedata.normalize("NFD", unicodedata.normalize("NFKC", word).casefold())
    kept: list[str] = []
    for char in decomposed:
        if unicodedata.category(char) == "Mn" and kept and _is_latin(kept[-1]):
            continue
        kept.append(char)
    return unicodedata.normalize("NFC", "".join(kept).translate(_FOLD))[:MAX_TOKEN]


def _folded_run(run: str, start: int) -> tuple[list[str], list[int]]:
    # Each character is normalised on its own (NFKC may make one into two, as Thai's
    # SARA AM), remembering where it came from, so that snippets mark the right characters.
    folded: list[str] = []
    origin: list[int] = []
    for offset, char in enumerate(run):
        for piece in unicodedata.normalize("NFKC", char).casefold():
            folded.append(piece)
            origin.append(start + offset)
    return folded, origin


def _pairs(run: str, start: int) -> Iterator[Token]:
    folded, origin = _folded_run(run, start)
    for i in range(len(folded) - 1):
        yield Token(folded[i] + folded[i + 1], origin[i], origin[i + 1] + 1)
    yield Token(folded[-1], origin[-1], origin[-1] + 1, run_end=True)


def _pair_texts(run: str) -> list[str]:
    folded = _folded_run(run, 0)[0]
    return [folded[i] + folded[i + 1] for i in range(len(folded) - 1)] + [folded[-1]]


def tokens(text: str) -> Iterator[Token]:
    """The tokens of a text, in order, with their places in the text."""
    for match in _TOKEN.finditer(text):
        if match.group("paired"):
            yield from _pairs(match.group(), match.start())
        else:
            word = fold(match.group())
            if word:
                yield Token(word, match.start(), match.end())


def token_texts(text: str) -> list[str]:
    """The tokens of a text without their places: what the index stores (the fast path)."""
    found: list[str] = []
    for paired, word in _TOKEN.findall(text):
        if paired:
            found += _pair_texts(paired)
        else:
            folded = fold(word)
            if folded:
                found.append(folded)
    return found


def query_tokens(text: str) -> list[str]:
    """A query word's tokens: its pairs without the closing single character, which in a
    document only stands at the end of a run (a query word may be the start of a longer one).
    A single character of a paired script stays alone: the caller looks it up as a prefix."""
    found = list(tokens(text))
    if len(found) > 1 and found[-1].run_end:
        found.pop()
    return [token.text for token in found]


def single_paired(token: str) -> bool:
    """True for a lone character of a paired script: it is searched as a prefix of pairs."""
    return len(token) == 1 and _PAIRED_CHAR.match(token) is not None


# Phrases are looked up as pairs of neighbouring tokens ("minimum·wage"), indexed beside the
# tokens: a phrase of two common words then reads one short list, not two long lists with
# every position (72 ms at p95 over 100,000 posts, bench/search.py). The joiner is a
# character no token holds.
JOINER = "\u00b7"


def shingles(found: list[str]) -> list[str]:
    """Each token joined to the next: what a phrase of them is looked up by."""
    return [a + JOINER + b for a, b in pairwise(found)]
