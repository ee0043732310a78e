"""Threads in the store: reply addresses, In-Reply-To, References, late parents, subjects,
and the hand repairs `thread move` and `thread split`."""

from __future__ import annotations

import json
from email import policy
from email.message import EmailMessage

from sqlmodel import select

from mailhub.context import Context
from mailhub.inbound import pipeline, spool
from mailhub.models import Post, Thread

LIST = "irnet@lists.example.org"


def deliver(
    ctx: Context,
    mid: str,
    subject: str,
    *,
    reply_to: str | None = None,
    refs: list[str] | None = None,
    rcpt: str = LIST,
) -> None:
    mail = EmailMessage()
    mail["From"] = "amina@example.org"
    mail["To"] = LIST
    mail["Subject"] = subject
    mail["Message-ID"] = f"<{mid}>"
    if reply_to:
        mail["In-Reply-To"] = f"<{reply_to}>"
    if refs:
        mail["References"] = " ".join(f"<{r}>" for r in refs)
    mail.set_content(f"Text of {mid}")
    spool.store(
        ctx.engine,
        spool.Arrival("test", mail.as_bytes(policy=policy.SMTP), "a@example.org", [rcpt]),
        ctx.now(),
    )
    pipeline.drain(ctx)


def posts(ctx: Context) -> dict[str, Post]:
    with ctx.session() as session:
        return {p.message_id: p for p in session.exec(select(Post))}


def parent_of(ctx: Context, mid: str) -> str | None:
    found = posts(ctx)
    parent = found[mid].parent_id
    return next((p.message_id for p in found.values() if p.id == parent), None)


def test_in_reply_to_and_references(ctx: Context) -> None:
    deliver(ctx, "root@x", "Budget for skills councils")
    deliver(ctx, "a@x", "Re: Budget for skills councils", reply_to="root@x", refs=["root@x"])
    deliver(ctx, "b@x", "Re: Budget", refs=["root@x", "a@x"])  # References only
    found = posts(ctx)
    assert found["a@x"].thread_id == found["b@x"].thread_id == found["root@x"].thread_id
    assert parent_of(ctx, "a@x") == "root@x" and parent_of(ctx, "b@x") == "a@x"


def test_out_of_order_arrival_relinks_when_the_parent_comes(ctx: Context) -> None:
    deliver(ctx, "child@x", "Re: Apprenticeships", reply_to="parent@x", refs=["root@x", "parent@x"])
    deliver(ctx, "sibling@x", "Re: Apprenticeships", reply_to="root@x", refs=["root@x"])
    found = posts(ctx)
    assert found["child@x"].thread_id == found["sibling@x"].thread_id  # via the missing root
    deliver(ctx, "parent@x", "Re: Apprenticeships", reply_to="root@x", refs=["root@x"])
    deliver(ctx, "root@x", "Apprenticeships")
    found = posts(ctx)
    assert len({p.thread_id for p in found.values()}) == 1
    assert parent_of(ctx, "child@x") == "parent@x"
    assert parent_of(ctx, "parent@x") == "root@x"
    assert parent_of(ctx, "sibling@x") == "root@x"
    with ctx.session() as session:
        thread = session.get(Thread, found["root@x"].thread_id)
        assert thread is not None and thread.post_count == 4 and thread.root_message_id == "root@x"
        assert len(session.exec(select(Thread)).all()) == 1  # merged, nothing left behind


def test_subject_variants_join_within_the_window(ctx: Context, clock) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    deliver(ctx, "s0@x", "[IRNet] Minimum wage reviews")
    for n, subject in enumerate(
        [
            "Re: Minimum wage reviews",
            "AW: [IRNet] RE: Minimum wage reviews",
            "SV: Re[2]: minimum  WAGE reviews",
            "回复: Minimum wage reviews",
            "Rif: Minimum wage reviews",
        ]
    ):
        deliver(ctx, f"s{n + 1}@x", subject)
    found = posts(ctx)
    assert len({found[f"s{n}@x"].thread_id for n in range(6)}) == 1
    deliver(ctx, "new@x", "Minimum wage reviews")  # no reply prefix: a new topic
    assert posts(ctx)["new@x"].thread_id != found["s0@x"].thread_id
    clock.advance(timedelta(days=45))
    deliver(ctx, "late@x", "Re: Minimum wage reviews [IRNet]")
    assert posts(ctx)["late@x"].thread_id not in {found["s0@x"].thread_id}


def test_held_parent_still_threads_its_replies(ctx: Context) -> None:
    deliver(ctx, "held@x", "Pension reform")
    assert posts(ctx)["held@x"].status == "held"
    deliver(ctx, "r@x", "Re: Pension reform", reply_to="held@x")
    assert parent_of(ctx, "r@x") == "held@x"


def test_thread_cli_list_show_move_split(run_cli, ctx: Context) -> None:
    deliver(ctx, "t1@x", "Topic one")
    deliver(ctx, "t1r@x", "Re: Topic one", reply_to="t1@x")
    deliver(ctx, "t1rr@x", "Re: Topic one", reply_to="t1r@x")
    deliver(ctx, "t2@x", "Topic two")
    threads = json.loads(run_cli("thread", "list", "--community", "irnet", "--json").output)
    by_subject = {t["subject"]: t for t in threads}
    assert by_subject["Topic one"]["message_ids"] == ["t1@x", "t1r@x", "t1rr@x"]
    assert by_subject["Topic one"]["participants"] == ["amina@example.org"]
    shown = run_cli("thread", "show", str(by_subject["Topic one"]["id"]))
    assert "  [" in shown.output  # replies indented under their parent
    found = posts(ctx)
    # The first post with its replies is the whole thread: nothing to split off, and the
    # thread (its address, its themes) is not left empty behind a copy.
    whole = run_cli("thread", "split", str(found["t1@x"].id))
    assert whole.exit_code == 1 and whole.stderr.startswith("error: post "), whole.output
    assert "whole of thread" in whole.stderr
    assert posts(ctx)["t1rr@x"].thread_id == found["t1@x"].thread_id
    assert len(json.loads(run_cli("thread", "list", "-c", "irnet", "--json").output)) == 2
    split = run_cli("thread", "split", str(found["t1r@x"].id))
    assert split.exit_code == 0 and "2 post(s)" in split.output
    found = posts(ctx)
    assert found["t1r@x"].thread_id == found["t1rr@x"].thread_id != found["t1@x"].thread_id
    moved = run_cli("thread", "move", str(found["t1r@x"].id), "--to", str(found["t2@x"].thread_id))
    assert moved.exit_code == 0 and "moved 2" in moved.output
    found = posts(ctx)
    assert found["t1rr@x"].thread_id == found["t2@x"].thread_id
    # A later reply to a moved post follows it.
    deliver(ctx, "after@x", "Re: Topic one", reply_to="t1rr@x")
    assert posts(ctx)["after@x"].thread_id == found["t2@x"].thread_id
    assert run_cli("thread", "move", "999", "--to", "1").exit_code == 1
    here = str(found["t2@x"].thread_id)
    again = run_cli("thread", "move", str(found["t1r@x"].id), "--to", here)
    assert again.exit_code == 1 and "already; nothing moved" in again.stderr
    assert run_cli("thread", "show", "999").exit_code == 1
