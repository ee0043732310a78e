"""Turning bytes of doubtful charset into text without ever failing.

Mail declares charsets that Python does not know (``x-unknown``, ``unicode-1-1-utf-7``, typos),
or declares one and sends another (UTF-8 announced, Latin-1 sent). The declared charset is
tried first, then UTF-8, then Windows-1252, which maps every byte but five; the result says
whether a fallback was needed so the caller can note a defect.
"""

from __future__ import annotations

import codecs

# Names seen in the wild that Python's codec registry lacks or gets wrong.
_ALIASES = {
    "x-unknown": "utf-8",
    "unknown-8bit": "utf-8",
    "x-user-defined": "windows-1252",
    "ks_c_5601-1987": "cp949",
    "iso-8859-8-i": "iso-8859-8",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "shift-jis": "cp932",
    "shift_jis": "cp932",
    "x-sjis": "cp932",
    "iso-2022-jp": "iso2022_jp_ext",
    "ansi_x3.4-1968": "ascii",
    "iso-8859-1": "windows-1252",
    "latin-1": "windows-1252",
    "latin1": "windows-1252",
}


def codec_for(charset: str | None) -> str | None:
    """The Python codec for a declared charset name, or None when it is unknown."""
    if not charset:
        return None
    name = charset.strip().strip("\"'").lower()
    name = _ALIASES.get(name, name)
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def decode_bytes(data: bytes, charset: str | None) -> tuple[str, bool]:
    """Decode ``data``; the flag is True when the declared charset could not be used."""
    codec = codec_for(charset)
    if codec is not None:
        try:
            return data.decode(codec), False
        except UnicodeDecodeError:
            pass
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("windows-1252", errors="replace")
    # Pure ASCII with no declared charset is no defect.
    return text, bool(charset) or not data.isascii()
