"""A sign-off without a "-- " line: the sender's name, and what follows it, at the end.

Most people sign by hand: "Thank you,\\nNoam", "Stavros\\nvia mobile", or their name over
an organisation, an address and a telephone number. No delimiter marks these, so the trimmer
keeps them, and they reach every member and the synopsis drafts. They can be told from the
reply only by whose they are: a closing is cut when one of its first lines is the sender's
own name (any of the From display name's words, or the address's local part), alone or
after a valediction ("Thanks,", "Best regards,"), within the last few short lines. On
talon's signature fixtures (tests/fixtures/wild/talon/signature) this removes all four
closings that carry the sender's name and leaves a message without one untouched; without
the sender's name nothing is cut, so a line that merely looks like a name always stays.
"""

from __future__ import annotations

import re

# A closing is at most this many non-blank lines, each at most this long.
_MAX_LINES = 6
_MAX_CHARS = 60
_VALEDICTION = re.compile(
    r"^(thanks?( you)?( (so|very) much)?( again)?|many thanks|(best|kind|warm)( regards)?|"
    r"regards|cheers|best wishes|sincerely|yours( truly| sincerely)?|all the best|"
    r"merci|cordialement|saludos|gracias|un saludo|atentamente|salam|terima kasih|"
    r"trân trọng|cảm ơn|ขอบคุณ(ครับ|ค่ะ)?|谢谢|此致|よろしくお願いします|감사합니다|धन्यवाद)"
    r"[ \t]*[,.!]?[ \t]*",
    re.IGNORECASE,
)
_WORD = re.compile(r"[^\W\d_]{2,}")
# One to four words of letters, initials ("E.") and titles ("Ph.D."), an optional comma.
_NAME = re.compile(r"[^\W\d_][\w.'-]*(,? [^\W\d_][\w.'-]*){0,3},?")


def sender_words(sender: str) -> set[str]:
    """The words of a display name, or of an address's local part, lower-cased."""
    text = sender.split("@", 1)[0] if "@" in sender and " " not in sender.strip() else sender
    return {w.lower() for w in _WORD.findall(text)}


def split_closing(text: str, sender: str) -> tuple[str, str]:
    """(reply, closing): the closing is empty unless the sender's name opens it."""
    words = sender_words(sender)
    lines = text.rstrip().split("\n")
    if not words:
        return text, ""
    filled = [i for i, line in enumerate(lines) if line.strip()]
    prose = [i for i in filled if len(lines[i].strip()) > _MAX_CHARS]
    tail = [i for i in filled if i > (prose[-1] if prose else -1)][-_MAX_LINES:]
    for i in tail:
        if _names_sender(lines[i], words):
            start = i - 1 if i > 0 and is_valediction(lines[i - 1]) else i
            reply = "\n".join(lines[:start]).rstrip()
            return (reply, "\n".join(lines[start:])) if reply.strip() else (text, "")
    return text, ""


def is_valediction(line: str) -> bool:
    """A line that only takes leave ("Thanks,", "Best regards", "ขอบคุณครับ")."""
    match = _VALEDICTION.match(line.strip())
    return match is not None and match.end() == len(line.strip())


def _names_sender(line: str, words: set[str]) -> bool:
    """A name of at most four words, none lower-case, one of them the sender's."""
    stripped = line.strip()
    match = _VALEDICTION.match(stripped)
    found = _NAME.fullmatch(stripped[match.end() :] if match else stripped)
    if not found:
        return False
    names = _WORD.findall(found.group(0))
    return all(not w[0].islower() for w in names) and any(w.lower() in words for w in names)
