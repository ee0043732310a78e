"""Threading with nmh/exmh-style and folded In-Reply-To headers, on real conversations.

The corpus is made from the real threads in the shared corpora (notmuch's month of the
notmuch list, LKML, the Apache lists in ponymail's mboxes): every reply whose parent is
there gets, in turn, the In-Reply-To nmh and exmh write, built from its parent's own From,
Date and Message-ID (``Message from Ann <ann@example.org> of "Tue, 17 Nov 2009 ..."
<id>``), or its id folded across two lines, and loses its References, as exmh sends none.
Threading it must give the same conversations as the same replies with a plain
``In-Reply-To: <id>``: 211 conversations of 733 messages, 464 of them rewritten replies.
Reading the first bracketed item as the parent, as before, split 84 of the 211.
"""

from __future__ import annotations

import mailbox
from email import message_from_bytes

import pytest
from conftest import corpus

from mailhub.inbound.headerfields import message_id, unfold
from mailhub.inbound.parse import parse_message
from mailhub.threads.jwz import thread_message_from_email, thread_root_ids


def real_messages() -> dict[str, bytes]:
    """Every message of the list archives by Message-ID, the first copy of each."""
    root = corpus()
    raws = [p.read_bytes() for folder in ("default", "lkml") for p in
            sorted((root / "notmuch" / folder).rglob("*.eml"))]  # fmt: skip
    for path in sorted((root / "ponymail" / "mbox").glob("*.mbox")):
        raws.extend(m.as_bytes() for m in mailbox.mbox(path, create=False))
    found: dict[str, bytes] = {}
    for raw in raws:
        own = message_id(message_from_bytes(raw).get("Message-ID"))
        if own:
            found.setdefault(own, raw)
    return found


def with_in_reply_to(raw: bytes, lines: list[str]) -> bytes:
    """The message with its References and In-Reply-To replaced by ``lines``."""
    head, sep, body = raw.replace(b"\r\n", b"\n").partition(b"\n\n")
    kept, skipping = [], False
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t"):
            if not skipping:
                kept.append(line)
            continue
        skipping = line.lower().startswith((b"references:", b"in-reply-to:"))
        if not skipping:
            kept.append(line)
    kept.extend(line.encode("utf-8") for line in lines)
    return b"\n".join(kept) + sep + body


def nmh_style(parent: bytes, parent_id: str) -> list[str]:
    """What nmh and exmh write: the parent's sender, date and id, folded after the sender."""
    mail = message_from_bytes(parent)
    sender = unfold(str(mail.get("From", ""))).encode("ascii", "replace").decode()
    date = unfold(str(mail.get("Date", "")))
    return [f"In-Reply-To: Message from {sender}", f'   of "{date}." <{parent_id}>']


def folded(parent_id: str) -> list[str]:
    middle = len(parent_id) // 2
    return [f"In-Reply-To: <{parent_id[:middle]}", f" {parent_id[middle:]}>"]


def corpora() -> tuple[dict[str, bytes], dict[str, bytes], dict[str, str]]:
    """Plain replies, the same replies as nmh/exmh write them, and each reply's parent."""
    messages = real_messages()
    plain, wild, parents = {}, {}, {}
    for n, (own, raw) in enumerate(messages.items()):
        parent = (parse_message(raw).in_reply_to or [None])[-1]
        if parent not in messages or parent == own:
            plain[own] = wild[own] = raw
            continue
        parents[own] = parent
        plain[own] = with_in_reply_to(raw, [f"In-Reply-To: <{parent}>"])
        shape = nmh_style(messages[parent], parent) if n % 3 else folded(parent)
        wild[own] = with_in_reply_to(raw, shape)
    return plain, wild, parents


def conversations(raws: dict[str, bytes]) -> set[frozenset[str]]:
    messages = [thread_message_from_email(message_from_bytes(r), own) for own, r in raws.items()]
    by_thread: dict[str, set[str]] = {}
    for own, key in thread_root_ids(messages, group_by_subject=False).items():
        by_thread.setdefault(key, set()).add(own)
    return {frozenset(ids) for ids in by_thread.values()}


@pytest.fixture(scope="module")
def made() -> tuple[dict[str, bytes], dict[str, bytes], dict[str, str]]:
    return corpora()


def test_no_conversation_is_split(made: tuple) -> None:
    plain, wild, parents = made
    assert len(parents) == 464
    expected = conversations(plain)
    got = conversations(wild)
    split = [c for c in expected if c not in got]
    assert split == []
    assert len(expected) == 211


def test_the_pipeline_reads_the_parent_of_every_reply(made: tuple) -> None:
    """What the worker stores as a post's In-Reply-To (parse.py, its last id)."""
    _, wild, parents = made
    wrong = {
        own: parse_message(wild[own]).in_reply_to[-1:]
        for own, parent in parents.items()
        if parse_message(wild[own]).in_reply_to[-1:] != [parent]
    }
    assert wrong == {}
