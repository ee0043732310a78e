"""Members' words in HTML mail: plain text made into paragraphs and links, then passed
through nh3 with an allow-list fit for mail, so no template can let a script, an event
handler, a form or a `javascript:` link through.

Renderings give this the trimmed plain text (``Post.body_text``, descriptions, synopses),
not ``Post.html``: the stored HTML is the whole message, quoted history and signature
included, and quoted parts of HTML mail cannot be cut reliably (each client marks them its
own way, some not at all). A digest must not repeat the thread's history, so its HTML shows
the same trimmed words as its text part, with line breaks kept and web addresses made
clickable.

The allow-list keeps structure and emphasis only. No images (remote ones tell the sender
who read the mail and when, and mail clients block them anyway), no ``style`` attribute
(CSS can hide text or lay a fake form over the mail; our own inline styles are set on the
result), no forms, frames, scripts or media. Links are kept only when absolute (http,
https, mailto): a member's relative link has no base to resolve against. Every link gets
``rel="noopener nofollow"``; every paragraph ``dir="auto"``, so Arabic or Hebrew reads
right to left inside a left-to-right mail.
"""

from __future__ import annotations

import re
from html import escape

import nh3
from markupsafe import Markup

TAGS = frozenset(
    {
        "a", "b", "blockquote", "br", "code", "em", "i", "li", "ol", "p", "pre", "s",
        "strong", "sub", "sup", "u", "ul", "table", "thead", "tbody", "tr", "td", "th",
    }
)  # fmt: skip
# Removed with everything inside them, not just unwrapped.
DROPPED_WITH_CONTENT = frozenset(
    {
        "script", "style", "iframe", "frame", "frameset", "object", "embed", "form",
        "textarea", "select", "button", "title", "noscript", "template", "svg", "math",
    }
)  # fmt: skip
URL_SCHEMES = frozenset({"http", "https", "mailto"})
ABSOLUTE = ("http://", "https://", "mailto:")
PARAGRAPH_STYLE = "margin:0 0 10px 0;"
LINK_STYLE = "color:#1d4e89;word-break:break-all;"
LINK_REL = "noopener nofollow"

# "[text](url)" is how the text of an HTML mail writes its links; bare addresses too.
_LINK = re.compile(r"\[([^\]\n]{1,500})\]\((https?://[^\s()<>]+)\)|(https?://[^\s<>\"]+)")
_TRAILING = ".,;:!?'\"»”’"
_BLANK_LINE = re.compile(r"\n[ \t]*\n")


def _absolute_only(tag: str, attribute: str, value: str) -> str | None:
    if attribute == "href" and not value.strip().lower().startswith(ABSOLUTE):
        return None
    return value


_CLEANER = nh3.Cleaner(
    tags=set(TAGS),
    clean_content_tags=set(DROPPED_WITH_CONTENT),
    attributes={"a": {"href", "title"}, "td": {"colspan", "rowspan"}, "th": {"colspan"}},
    attribute_filter=_absolute_only,
    link_rel=LINK_REL,
    url_schemes=set(URL_SCHEMES),
    tag_attribute_values={"p": {"dir": {"auto", "ltr", "rtl"}}},
    # One attribute per tag: ammonia would write several in no fixed order.
    set_tag_attribute_values={"p": {"style": PARAGRAPH_STYLE}, "a": {"style": LINK_STYLE}},
    strip_comments=True,
)


def clean(html: str) -> Markup:
    """HTML from anyone, cut down to the allow-list; safe to put in a mail as is."""
    return Markup(_CLEANER.clean(html))


def _split_url(url: str) -> tuple[str, str]:
    """A bare address and the punctuation after it that belongs to the sentence."""
    tail = ""
    while url and (url[-1] in _TRAILING or (url[-1] == ")" and url.count("(") < url.count(")"))):
        url, tail = url[:-1], url[-1] + tail
    return url, tail


def _anchor(href: str, label: str) -> str:
    return f'<a href="{escape(href)}">{escape(label)}</a>'


def _line(text: str) -> str:
    """One line, escaped, its web addresses made links."""
    out, position = [], 0
    for found in _LINK.finditer(text):
        out.append(escape(text[position : found.start()], quote=False))
        label, target, bare = found.groups()
        if bare:
            bare, tail = _split_url(bare)
            out.append(_anchor(bare, bare) + escape(tail, quote=False))
        else:
            out.append(_anchor(target, label))
        position = found.end()
    out.append(escape(text[position:], quote=False))
    return "".join(out)


def text_to_html(text: str) -> str:
    """Paragraphs at blank lines, ``<br>`` at line breaks, links where addresses are."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    paragraphs = [p.strip("\n") for p in _BLANK_LINE.split(text) if p.strip()]
    return "\n".join(
        '<p dir="auto">' + "<br>\n".join(_line(line) for line in paragraph.split("\n")) + "</p>"
        for paragraph in paragraphs
    )


def member_html(text: str | None) -> Markup:
    """The Jinja filter for member-provided plain text in HTML templates."""
    return clean(text_to_html(text or ""))
