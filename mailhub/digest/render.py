"""A digest's words: the items grouped by discussion and thread, numbered, with a table of
contents, rendered from templates in plain text, HTML and the RFC 1153 parts.

Rendering happens once per distinct content, not per member: where a member's reply
address goes, the text holds a marker (`reply_marker`) that `mime.Pieces` swaps for each
member's address.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from mailhub import rendering
from mailhub.digest.items import Item
from mailhub.rendering import one_line


@dataclass(frozen=True)
class Entry:
    """An item as a template shows it: numbered, with its reply marker, full or abridged."""

    number: int
    item: Item
    reply: str
    full: bool

    @property
    def author(self) -> str:
        """Name, then affiliation, organisation and country, as far as they are known."""
        details = [self.item.affiliation.capitalize(), self.item.organisation, self.item.country]
        known = ", ".join(d for d in details if d)
        return f"{self.item.author_name} ({known})" if known else self.item.author_name

    @property
    def reply_subject(self) -> str:
        """The subject a reply link fills in, URL-encoded for a mailto link."""
        subject = self.item.subject
        if not subject.lower().startswith("re:"):
            subject = f"Re: {subject}"
        return quote(subject, safe="")


@dataclass
class ThreadGroup:
    subject: str
    posts: list[Item]
    entries: list[Entry] = field(default_factory=list)


@dataclass
class Section:
    """One discussion's threads, or (title empty) the threads outside any discussion."""

    title: str
    threads: list[ThreadGroup] = field(default_factory=list)


@dataclass(frozen=True)
class Digest:
    """What the templates get; ``mark`` starts every reply marker."""

    community: str
    tag: str
    date: str
    sections: list[Section]
    entries: list[Entry]
    abridged: int
    mark: str

    @property
    def full_sections(self) -> list[Section]:
        """The sections cut down to the items given in full (all of them, unless abridged)."""
        if not self.abridged:
            return self.sections
        kept = []
        for section in self.sections:
            threads = [
                ThreadGroup(t.subject, t.posts, [e for e in t.entries if e.full])
                for t in section.threads
            ]
            threads = [t for t in threads if t.entries]
            if threads:
                kept.append(Section(section.title, threads))
        return kept

    @property
    def rest(self) -> list[Entry]:
        """The items abridged to their subject and reply address."""
        return [e for e in self.entries if not e.full]


def _one_line_names(item: Item) -> Item:
    """The author's name on one line: a name stored with a line break (an encoded word
    can carry one) would otherwise break the contents and the From line."""
    name = one_line(item.author_name)
    return item if name == item.author_name else replace(item, author_name=name)


def reply_marker(mark: str, post_id: int) -> str:
    return f"{mark}{post_id}x"


def new_mark() -> str:
    """A marker prefix no member's text can contain by chance."""
    return f"mhd{secrets.token_hex(8)}n"


def arrange(
    items: Sequence[Item], full_count: int, mark: str, community: str, tag: str, date: str
) -> Digest:
    """Group items by discussion (discussions first), then by thread, in order of first post;
    number them in reading order; the first ``full_count`` keep their full text."""
    by_thread: dict[int, list[Item]] = {}
    for item in map(_one_line_names, items):
        by_thread.setdefault(item.thread_id, []).append(item)
    sections: dict[int | None, Section] = {}
    for posts in by_thread.values():
        section = sections.setdefault(posts[0].discussion_id, Section(posts[0].discussion_title))
        section.threads.append(ThreadGroup(posts[0].thread_subject, list(posts)))
    ordered = [s for k, s in sections.items() if k is not None]
    ordered += [s for k, s in sections.items() if k is None]
    entries: list[Entry] = []
    for section in ordered:
        for group in section.threads:
            for number, post in enumerate(group.posts, start=len(entries) + 1):
                entry = Entry(number, post, reply_marker(mark, post.post_id), number <= full_count)
                group.entries.append(entry)
                entries.append(entry)
    full_count = min(full_count, len(entries))
    return Digest(community, tag, date, ordered, entries, len(entries) - full_count, mark)


def render(name: str, override: Path | None, digest: Digest, **extra: object) -> str:
    return rendering.render(f"digest/{name}", override, digest=digest, **extra)


def date_line(due_at: datetime, zone: str) -> str:
    return rendering.local_time(due_at, zone, "%A %d %B %Y")
