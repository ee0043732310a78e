"""Subject normalisation: the key that lets replies find their thread by subject.

Mail clients in many languages put their own reply and forward prefixes in front of a
subject, lists add tags such as ``[IRNet]``, and both pile up as a thread goes on
(``AW: Re: [IRNet] RE[2]: Budget``). Two subjects belong together when what is left
after removing all of that is the same, compared without regard to case or spacing.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

# Reply and forward prefixes, already casefolded and NFKC-normalised (so the full-width
# colon has become ":"). Grouped by language to keep the list reviewable.
_PREFIXES = (
    "re", "fw", "fwd",  # English, and what most clients write
    "aw", "wg",  # German: Antwort, Weitergeleitet
    "antw", "doorst",  # Dutch
    "sv", "vs", "vl", "vb", "fs",  # Scandinavian and Finnish
    "ré", "réf", "ref", "rép", "tr",  # French
    "r", "rif", "inoltro",  # Italian
    "rv", "res", "enc",  # Spanish and Portuguese
    "odp", "pd",  # Polish
    "ynt", "ilt",  # Turkish
    "απ", "σχετ", "πρθ",  # Greek
    "отв", "пересл",  # Russian
    "回复", "答复", "转发", "回覆", "轉寄", "轉發",  # Chinese
    "返信", "転送",  # Japanese
    "회신", "전달",  # Korean
)  # fmt: skip

_PREFIX_ALTERNATION = "|".join(
    re.escape(prefix) for prefix in sorted(_PREFIXES, key=len, reverse=True)
)

# One or more leading prefixes or bracketed tags, e.g. "re[2]:", "re(3) :", "[irnet]".
# A prefix needs its colon, so words such as "Regional" are left alone.
_LEADING_NOISE = re.compile(
    rf"^(?:\s*(?:(?:{_PREFIX_ALTERNATION})\s*(?:\[\d+\]|\(\d+\)|\^\d+)?\s*:|\[[^\[\]]*\]))+\s*"
)
_TRAILING_FWD = re.compile(r"\s*\((?:fwd|fw)\)\s*$")


def _fold(subject: str) -> str:
    """Return the subject with compatibility forms unified and case folded."""
    if subject.isascii():
        return subject.casefold()
    return unicodedata.normalize("NFKC", subject).casefold()


def _strip_tags(folded: str, list_tags: Iterable[str]) -> str:
    """Remove the given list tags wherever they occur; lists put them in odd places."""
    for tag in list_tags:
        bare = _fold(tag).strip().strip("[]").strip()
        if bare:
            folded = folded.replace(f"[{bare}]", " ")
    return folded


def _prepare(subject: str, list_tags: Iterable[str]) -> str:
    """Fold the subject, drop the given list tags and collapse whitespace."""
    folded = _fold(subject)
    if list_tags:
        folded = _strip_tags(folded, list_tags)
    return " ".join(folded.split())


def _strip_prefixes(prepared: str) -> str:
    """Remove every leading prefix and tag at once, and an old-style trailing "(fwd)"."""
    stripped = _LEADING_NOISE.sub("", prepared)
    if stripped.endswith(")"):
        stripped = _TRAILING_FWD.sub("", stripped)
    return stripped


_LEADING_NOISE_ANY_CASE = re.compile(_LEADING_NOISE.pattern, re.IGNORECASE)


def display_subject(subject: str | None) -> str:
    """A subject as a title to show (a digest's item, a newsletter's heading): reply and
    forward prefixes and leading list tags removed, case and words kept
    ("Re: [IRNet] AW: Budget" shows as "Budget")."""
    text = " ".join((subject or "").split())
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    shown = _LEADING_NOISE_ANY_CASE.sub("", text)
    if shown.endswith(")"):
        shown = re.sub(_TRAILING_FWD.pattern, "", shown, flags=re.IGNORECASE)
    return shown or text or "(no subject)"


def normalise_subject(subject: str | None, list_tags: Iterable[str] = ()) -> str:
    """Return the comparison key of a subject: no prefixes or tags, folded, spaces collapsed.

    The given ``list_tags`` (with or without brackets) are removed anywhere; any other
    bracketed tag is removed only at the start, among the reply prefixes.
    """
    if not subject:
        return ""
    return _strip_prefixes(_prepare(subject, list_tags))


_LEADING_TAGS = re.compile(r"^(?:\s*\[[^\[\]]*\])+\s*")


def is_reply_subject(subject: str | None) -> bool:
    """Say whether the subject carries a reply or forward prefix, after any leading tags.

    Such a message continues an earlier conversation, which is why subject grouping
    prefers to hang it below a message whose subject has no prefix.
    """
    if not subject:
        return False
    untagged = _LEADING_TAGS.sub("", _prepare(subject, ()))
    return _strip_prefixes(untagged) != untagged
