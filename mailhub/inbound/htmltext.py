"""HTML bodies: a readable plain-text rendering and a sanitised copy safe to store and show.

Text comes from inscriptis rather than html2text. Measured on the Pony Mail HTML-only
messages and on HTML with (nested) tables, both keep all text after a table and run at about
0.5 ms a message, but inscriptis lays tables out as aligned columns and keeps nested cells in
place, while html2text emits Markdown pipes, ``**bold**`` and trailing double spaces, and moves
a nested table's cells out of their row. Members read this text in digests and plain-text
mail, so layout wins over Markdown.
"""

from __future__ import annotations

import re

import nh3
from inscriptis import get_text
from inscriptis.model.config import ParserConfig

_CONFIG = ParserConfig(display_links=True)
# inscriptis renders a link whose text is its own URL as "[url](url)"; one copy is enough.
_SELF_LINK = re.compile(r"\[([^\]\n]+)\]\(\1\)")
_TRAILING_SPACE = re.compile(r"[ \t]+$", re.MULTILINE)
_BLANK_RUN = re.compile(r"\n{3,}")
# inscriptis drops <hr> without a line break, so a quote that a client set off with a rule
# (Yahoo, Comcast, Zimbra: "<hr><b>From: </b>...") ran into the reply's last line and the
# trimmer could not see its header block; Outlook's own rule line takes its place.
_RULE = re.compile(r"<hr\b[^>]*>", re.IGNORECASE)
_RULE_TEXT = "<div>" + "_" * 32 + "</div>"
# cid: keeps inline images (multipart/related) pointing at their attachment.
_URL_SCHEMES = nh3.ALLOWED_URL_SCHEMES | {"cid"}


def html_to_text(html: str) -> str:
    """Readable text of an HTML body: tables as columns, links as "[text](url)"."""
    if not html.strip():
        return ""
    try:
        text = get_text(_RULE.sub(_RULE_TEXT, html), _CONFIG)
    except Exception:
        # A document lxml cannot build a tree from still has its words.
        text = nh3.clean(html, tags=set())
    text = _SELF_LINK.sub(r"\1", text)
    text = _TRAILING_SPACE.sub("", text)
    return _BLANK_RUN.sub("\n\n", text).strip()


def sanitise_html(html: str) -> str:
    """HTML without scripts, event handlers, styles or dangerous URLs, as nh3 allows."""
    return nh3.clean(html, url_schemes=_URL_SCHEMES)
