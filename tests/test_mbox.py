"""`mailhub import mbox`: real archives, threads kept, nothing sent, re-import changes nothing."""

from __future__ import annotations

import mailbox
import re
from collections import defaultdict

from conftest import corpus
from sqlmodel import func, select

from mailhub.context import Context
from mailhub.models import OutboundMessage, Post, Thread
from mailhub.threads.jwz import parse_message_ids

MAVEN = ("ponymail", "mbox", "maven-dev-2017-11-listsao.mbox")


def expected_ids(name: str) -> set[str]:
    text = corpus("ponymail", "expected", name).read_text()
    return {m.strip("<>") for m in re.findall(r"message-id: (\S+)", text)}


def header_parents() -> dict[str, str]:
    """Each message's parent as its own headers name it (last of References/In-Reply-To)."""
    parents = {}
    for item in mailbox.mbox(corpus(*MAVEN), create=False):
        own = parse_message_ids(item["Message-ID"])
        refs = parse_message_ids(item["In-Reply-To"]) or parse_message_ids(item["References"])[-1:]
        if own and refs:
            parents[own[0]] = refs[-1]
    return parents


def test_import_keeps_messages_threads_and_parents(run_cli, ctx: Context) -> None:
    result = run_cli("import", "mbox", str(corpus(*MAVEN)), "--community", "irnet")
    assert result.exit_code == 0, result.output
    assert "320 messages: 317 imported, 3 already there, 0 unreadable" in result.output
    with ctx.session() as session:
        posts = session.exec(select(Post)).all()
        by_id = {p.id: p for p in posts}
        threads = {t.id: t for t in session.exec(select(Thread))}
        outbox = session.exec(select(func.count()).select_from(OutboundMessage)).one()
    # The archive's one message without a Message-ID gets a stable id derived from its bytes.
    derived = {p.message_id for p in posts if p.message_id.endswith("@lists.example.org")}
    assert len(derived) == 1
    expected = expected_ids("par-maven-dev-2017-11-listsao.yaml") - {"''"}
    assert {p.message_id for p in posts} - derived == expected
    assert {p.status for p in posts} == {"archived"}
    assert outbox == 0  # an import sends nothing
    # Every parent the headers name, when present in the archive, is the post's parent and
    # in the same thread.
    mid_to_post = {p.message_id: p for p in posts}
    checked = 0
    for child, parent in header_parents().items():
        if parent in mid_to_post and child in mid_to_post:
            post = mid_to_post[child]
            assert post.parent_id is not None and by_id[post.parent_id].message_id == parent
            assert post.thread_id == mid_to_post[parent].thread_id
            checked += 1
    assert checked > 150
    members = defaultdict(int)
    for post in posts:
        members[post.thread_id] += 1
    assert all(threads[tid].post_count == n for tid, n in members.items())
    assert len(threads) < len(posts)


def test_reimport_changes_nothing(run_cli, ctx: Context) -> None:
    run_cli("import", "mbox", str(corpus(*MAVEN)), "--community", "irnet")
    with ctx.session() as session:
        before = session.exec(
            select(Post.id, Post.thread_id, Post.parent_id).order_by(Post.id)
        ).all()
        threads_before = session.exec(select(func.count()).select_from(Thread)).one()
    again = run_cli("import", "mbox", str(corpus(*MAVEN)), "--community", "irnet")
    assert "0 imported, 320 already there" in again.output
    with ctx.session() as session:
        after = session.exec(
            select(Post.id, Post.thread_id, Post.parent_id).order_by(Post.id)
        ).all()
        threads_after = session.exec(select(func.count()).select_from(Thread)).one()
    assert before == after and threads_before == threads_after


def test_bad_arguments(run_cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    missing = run_cli("import", "mbox", str(tmp_path / "none.mbox"), "--community", "irnet")
    assert missing.exit_code == 2 and "no such file" in missing.output
    unknown = run_cli("import", "mbox", str(corpus(*MAVEN)), "--community", "nope")
    assert unknown.exit_code == 1 and "no community 'nope'" in unknown.output
    empty = tmp_path / "empty.mbox"
    empty.write_text("")
    result = run_cli("import", "mbox", str(empty), "--community", "irnet")
    assert result.exit_code == 0 and "0 messages" in result.output
