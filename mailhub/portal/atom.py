"""Atom documents (RFC 4287) from plain values: the one place that writes the XML.

ElementTree does the escaping; what XML 1.0 cannot carry at all (control characters a
member's mail client may have left in a subject) is removed first, so a hostile post
cannot make a feed unreadable. Times are written in UTC with their offset (RFC 3339).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, datetime

NS = "http://www.w3.org/2005/Atom"
MEDIA_TYPE = "application/atom+xml; charset=utf-8"
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

ET.register_namespace("", NS)


@dataclass(frozen=True)
class Entry:
    """One item: ``id`` never changes once published; ``html`` is already sanitised."""

    id: str
    title: str
    link: str
    updated: datetime
    published: datetime
    author: str
    html: str
    categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class Feed:
    id: str
    title: str
    link: str  # the page the feed follows
    self_link: str
    updated: datetime
    author: str  # the site: RFC 4287 wants a feed author when an entry could lack one
    subtitle: str = ""
    entries: list[Entry] = field(default_factory=list)


def _clean(text: str) -> str:
    return _NOT_XML.sub("", text)


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _add(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{NS}}}{tag}", {k: _clean(v) for k, v in attributes.items()})
    if text is not None:
        element.text = _clean(text)
    return element


def _entry(root: ET.Element, entry: Entry) -> None:
    item = _add(root, "entry")
    _add(item, "id", entry.id)
    _add(item, "title", entry.title or "(no subject)")
    _add(item, "link", rel="alternate", type="text/html", href=entry.link)
    _add(item, "updated", _when(entry.updated))
    _add(item, "published", _when(entry.published))
    author = _add(item, "author")
    _add(author, "name", entry.author)
    for term in entry.categories:
        _add(item, "category", term=term)
    _add(item, "content", entry.html, type="html")


def document(feed: Feed, generator: str) -> bytes:
    """The feed as a UTF-8 Atom document."""
    root = ET.Element(f"{{{NS}}}feed")
    _add(root, "id", feed.id)
    _add(root, "title", feed.title)
    if feed.subtitle:
        _add(root, "subtitle", feed.subtitle)
    _add(root, "link", rel="alternate", type="text/html", href=feed.link)
    _add(root, "link", rel="self", type="application/atom+xml", href=feed.self_link)
    _add(root, "updated", _when(feed.updated))
    _add(_add(root, "author"), "name", feed.author)
    _add(root, "generator", generator)
    for entry in feed.entries:
        _entry(root, entry)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
