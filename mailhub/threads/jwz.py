"""Threading core: turn messages' Message-ID, References and In-Reply-To into trees.

This follows Jamie Zawinski's algorithm (https://www.jwz.org/doc/threading.html) with
choices that make the result independent of arrival order:

* Messages are handled in (date, Message-ID) order, missing dates last.
* A message's own parent (its last reference, In-Reply-To winning over References) is
  linked before any link guessed from the middle of another message's References, so a
  guess never blocks a message's own word about its parent.
* A repeated Message-ID is the same message delivered again: the first one in the input
  is kept and later ones are ignored, as the store keeps one post per Message-ID.
* A reference to an unknown message makes a placeholder node (``message is None``). A
  placeholder survives only at the top of a thread that has several children under it.
* Children and roots are sorted by date, then Message-ID; a placeholder sorts by its
  earliest child. Roots made by subject grouping have the empty string as their id.

Message-IDs are kept bare (no angle brackets) and compared exactly.
"""

from __future__ import annotations

import gc
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from email.utils import parsedate_to_datetime

from mailhub.inbound.headerfields import reply_parents
from mailhub.threads.subjects import is_reply_subject, normalise_subject

_BRACKETED_ID = re.compile(r"<([^<>]*)>")
_SortKey = tuple[float, str]


def parse_message_ids(header: str | None) -> list[str]:
    """Return the bare Message-IDs in a References/In-Reply-To/Message-ID value, in order.

    Bracketed ids win; a value without brackets counts only when every word in it looks
    like an id, so prose such as "your message of ... john@example.org" adds nothing.
    """
    if not header:
        return []
    bracketed = _BRACKETED_ID.findall(header)
    if bracketed:
        # Folding can put whitespace inside a long id; it is never part of the id.
        ids = ["".join(found.split()) for found in bracketed]
    else:
        words = header.replace(",", " ").split()
        ids = words if all("@" in word for word in words) else []
    return [found for found in ids if found]


def _unique_keep_last(ids: Iterable[str], own_id: str) -> list[str]:
    """Drop empties, the message's own id and earlier repeats of an id."""
    kept: dict[str, None] = {}
    for found in ids:
        if found and found != own_id:
            kept.pop(found, None)
            kept[found] = None
    return list(kept)


@dataclass(slots=True)
class ThreadMessage:
    """What threading needs to know of one message; ``references`` ends with its parent."""

    message_id: str
    references: list[str]
    subject: str = ""
    date: datetime | None = None

    @classmethod
    def from_headers(
        cls,
        message_id: str,
        references: str | None = None,
        in_reply_to: str | None = None,
        subject: str | None = None,
        date: datetime | None = None,
    ) -> ThreadMessage:
        """Build from raw header values; In-Reply-To is appended so that it is the parent.

        Its parent is the last id it names (see headerfields.reply_parents): taking the
        first split nmh and exmh replies from their conversations.
        """
        own = parse_message_ids(message_id)
        own_id = own[0] if own else message_id.strip()
        refs = parse_message_ids(references)
        reply_to = reply_parents(in_reply_to)[-1:]
        return cls(own_id, _unique_keep_last(refs + reply_to, own_id), subject or "", date)


def _header_text(msg: Message, name: str) -> str | None:
    """Return a header as text, or None; a header the parser chokes on counts as absent."""
    try:
        value = msg.get(name)
    except Exception:
        return None
    return None if value is None else str(value)


def _header_date(msg: Message) -> datetime | None:
    """Return the Date header as a datetime, or None when missing or unreadable."""
    text = _header_text(msg, "Date")
    if not text:
        return None
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def thread_message_from_email(msg: Message, fallback_id: str = "") -> ThreadMessage:
    """Read a parsed email's threading headers, tolerating malformed ones.

    ``fallback_id`` names a message that has no usable Message-ID.
    """
    message_id = (parse_message_ids(_header_text(msg, "Message-ID")) or [fallback_id])[0]
    return ThreadMessage.from_headers(
        message_id,
        references=_header_text(msg, "References"),
        in_reply_to=_header_text(msg, "In-Reply-To"),
        subject=_header_text(msg, "Subject"),
        date=_header_date(msg),
    )


@dataclass(slots=True, eq=False)
class ThreadNode:
    """One place in a thread tree; ``message`` is None for a placeholder."""

    message_id: str
    message: ThreadMessage | None = None
    children: list[ThreadNode] = field(default_factory=list)
    parent: ThreadNode | None = None

    def __repr__(self) -> str:
        return f"ThreadNode({self.message_id!r}, children={len(self.children)})"

    @property
    def is_placeholder(self) -> bool:
        """A node for a message that is referenced but absent (or a subject group)."""
        return self.message is None

    def walk(self) -> Iterator[ThreadNode]:
        """Yield this node and its descendants depth-first, without recursion."""
        return iter_nodes([self])


def iter_nodes(roots: Sequence[ThreadNode]) -> Iterator[ThreadNode]:
    """Yield every node under the roots, parents before children, in sibling order."""
    stack = list(reversed(roots))
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(node.children))


def _timestamp(date: datetime | None) -> float:
    """Sort time of a date; naive dates are taken as UTC, and missing ones sort last."""
    if date is None:
        return math.inf
    if date.tzinfo is None:
        date = date.replace(tzinfo=UTC)
    return date.timestamp()


def _arrival_order(messages: Iterable[ThreadMessage]) -> list[ThreadMessage]:
    """Return unique messages (first of each id) sorted by date, then Message-ID."""
    unique: dict[str, ThreadMessage] = {}
    for message in messages:
        if not message.message_id:
            raise ValueError("every message needs a Message-ID (use a fallback id)")
        unique.setdefault(message.message_id, message)
    # (time, id) pairs are unique, so sorting never compares the messages themselves.
    keyed = sorted([(_timestamp(m.date), mid, m) for mid, m in unique.items()])
    return [item[2] for item in keyed]


def _clean_references(message: ThreadMessage) -> list[str]:
    """The message's references without self references, empty ids or repeats."""
    return _unique_keep_last(message.references, message.message_id)


def _is_ancestor_or_self(node: ThreadNode, of: ThreadNode | None) -> bool:
    """Say whether linking ``of`` above ``node``'s subtree would close a loop."""
    while of is not None:
        if of is node:
            return True
        of = of.parent
    return False


def _link_tables(
    ordered: list[ThreadMessage],
) -> tuple[dict[str, ThreadNode], dict[str, list[str]]]:
    """Make a node per message and link each to its own parent (the last reference).

    Returns the id table and each message's cleaned references, in date order. Only
    references with a self reference or an empty id are cleaned: repeats can do no harm,
    as the loop checks already refuse them.
    """
    table = {m.message_id: ThreadNode(m.message_id, m, [], None) for m in ordered}
    refs_of = {
        m.message_id: _clean_references(m)
        if m.message_id in m.references or "" in m.references
        else m.references
        for m in ordered
    }
    # Latest first: where replies refer to each other in a loop, the earliest message
    # is the one whose link gets dropped, so it heads the thread. It also leaves every
    # children list in reverse date order, so sorting it later is a mere reversal.
    for message_id, refs in reversed(refs_of.items()):
        if not refs:
            continue
        node = table[message_id]
        parent = table.get(refs[-1])
        if parent is None:
            parent = table[refs[-1]] = ThreadNode(refs[-1], None, [], None)
        if not _is_ancestor_or_self(node, parent):
            parent.children.append(node)
            node.parent = parent
    return table, refs_of


def _link_reference_chains(
    table: dict[str, ThreadNode], refs_of: dict[str, list[str]]
) -> list[ThreadNode]:
    """Link consecutive references as parent and child where nothing is known yet.

    Returns the nodes that gained children here, whose children need a real sort.
    """
    gained = []
    for refs in refs_of.values():
        inherited = len(refs) - 1
        if inherited < 1:
            continue
        parent_refs = refs_of.get(refs[-1])
        if (
            parent_refs is not None
            and len(parent_refs) >= inherited
            and parent_refs[len(parent_refs) - inherited :] == refs[:-1]
        ):
            # The usual reply copies its parent's References and adds the parent's
            # id: every link its chain implies was already tried for the parent.
            continue
        prev = None
        for ref in refs:
            node = table.get(ref)
            if node is None:
                node = table[ref] = ThreadNode(ref, None, [], None)
            if prev is not None and node.parent is None and not _is_ancestor_or_self(node, prev):
                prev.children.append(node)
                node.parent = prev
                gained.append(prev)
            prev = node
    return gained


def _prune(table: dict[str, ThreadNode], gained: list[ThreadNode]) -> list[ThreadNode]:
    """Drop empty placeholders and promote their children; return the roots.

    Nodes that gain children here are added to ``gained``.
    """
    placeholders = [node for node in table.values() if node.message is None]
    for node in placeholders:
        parent = node.parent
        if parent is None:
            continue
        gained.append(parent)
        parent.children.remove(node)
        for child in node.children:
            child.parent = parent
        parent.children.extend(node.children)
        node.children = []
        node.parent = None
    roots = []
    for node in table.values():
        if node.parent is not None:
            continue
        if node.message is None and len(node.children) < 2:
            if node.children:
                only = node.children.pop()
                only.parent = None
                roots.append(only)
            continue
        roots.append(node)
    return roots


def _first_message(node: ThreadNode) -> ThreadMessage:
    """The message a node stands for: its own, or its earliest descendant's."""
    while node.message is None:
        node = node.children[0]
    return node.message


def _order_key(node: ThreadNode) -> tuple[float, str, str]:
    """Date, then Message-ID; a placeholder sorts by its earliest child, then its own id."""
    first = _first_message(node)
    return _timestamp(first.date), first.message_id, "" if node.message else node.message_id


def _sort_nodes(nodes: list[ThreadNode]) -> None:
    if len(nodes) > 1:
        nodes.sort(key=_order_key)


def _sort_children(table: dict[str, ThreadNode], gained: list[ThreadNode]) -> None:
    """Put every children list in date order; most were built in reverse date order."""
    for node in table.values():
        if len(node.children) > 1:
            node.children.reverse()
    for node in gained:
        _sort_nodes(node.children)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause cyclic garbage collection while building many linked nodes.

    Parent and child links make every node part of a cycle, so the collector keeps
    rescanning the growing tree during the build and finds nothing to free.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def build_threads(
    messages: Iterable[ThreadMessage],
    *,
    group_by_subject: bool = True,
    list_tags: Iterable[str] = (),
) -> list[ThreadNode]:
    """Thread the messages and return the roots, in date order.

    With ``group_by_subject``, roots whose normalised subjects match are gathered as the
    algorithm's step 5 does; ``list_tags`` are ignored when comparing subjects.
    """
    with _collector_paused():
        table, refs_of = _link_tables(_arrival_order(messages))
        gained = _link_reference_chains(table, refs_of)
        roots = _prune(table, gained)
        _sort_children(table, gained)
        _sort_nodes(roots)
        if group_by_subject:
            roots = _group_by_subject(roots, tuple(list_tags))
        return roots


class _SubjectKeys:
    """Normalise each distinct subject once, however many roots share it."""

    def __init__(self, list_tags: tuple[str, ...]) -> None:
        self.list_tags = list_tags
        self.keys: dict[str, str] = {}
        self.replies: dict[str, bool] = {}

    def key(self, node: ThreadNode) -> str:
        subject = _first_message(node).subject
        found = self.keys.get(subject)
        if found is None:
            found = self.keys[subject] = normalise_subject(subject, self.list_tags)
        return found

    def is_reply(self, node: ThreadNode) -> bool:
        """Only asked when two roots share a key, so computed on demand."""
        subject = _first_message(node).subject
        found = self.replies.get(subject)
        if found is None:
            found = self.replies[subject] = is_reply_subject(subject)
        return found


def _adopt(parent: ThreadNode, child: ThreadNode) -> None:
    """Hang a root below another node."""
    parent.children.append(child)
    child.parent = parent


def _group_by_subject(roots: list[ThreadNode], list_tags: tuple[str, ...]) -> list[ThreadNode]:
    """Gather roots with the same subject: below a placeholder, or a reply below its original."""
    subjects = _SubjectKeys(list_tags)
    best: dict[str, ThreadNode] = {}
    for root in roots:
        key = subjects.key(root)
        if not key:
            continue
        held = best.get(key)
        if held is None or (
            held.message is not None
            and (root.message is None or (subjects.is_reply(held) and not subjects.is_reply(root)))
        ):
            best[key] = root
    changed: dict[int, ThreadNode] = {}
    groups: list[ThreadNode] = []
    for root in roots:
        if root.parent is not None:
            continue
        key = subjects.key(root)
        target = best.get(key) if key else None
        if target is None or target is root:
            continue
        if target.message is None and root.message is None:
            for child in root.children:
                _adopt(target, child)
            root.children = []
        elif target.message is None or (subjects.is_reply(root) and not subjects.is_reply(target)):
            _adopt(target, root)
        else:
            group = best[key] = ThreadNode("", None, [], None)
            groups.append(group)
            _adopt(group, target)
            _adopt(group, root)
            target = group
        changed[id(target)] = target
    for node in changed.values():
        _sort_nodes(node.children)
    kept = [
        node
        for node in roots
        if node.parent is None and (node.message is not None or node.children)
    ]
    kept.extend(group for group in groups if group.parent is None)
    _sort_nodes(kept)
    return kept


def thread_key(root: ThreadNode) -> str:
    """A stable id for a thread: its root's id, or a subject group's first child's."""
    while not root.message_id:
        root = root.children[0]
    return root.message_id


def root_id_map(roots: Sequence[ThreadNode]) -> dict[str, str]:
    """Map each message's id to the key of the thread it is in."""
    mapping: dict[str, str] = {}
    for root in roots:
        key = thread_key(root)
        for node in root.walk():
            if node.message is not None:
                mapping[node.message_id] = key
    return mapping


def thread_root_ids(
    messages: Iterable[ThreadMessage],
    *,
    group_by_subject: bool = True,
    list_tags: Iterable[str] = (),
) -> dict[str, str]:
    """Thread the messages and map each message id to its thread's key (see thread_key)."""
    roots = build_threads(messages, group_by_subject=group_by_subject, list_tags=list_tags)
    return root_id_map(roots)
