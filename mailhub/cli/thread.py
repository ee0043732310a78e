"""`mailhub thread`: conversations as members see them, and repairs by hand."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import typer
from sqlalchemy import func
from sqlmodel import Session, col, select

from mailhub.cli.common import instance, make_app, out, print_json, print_record, print_table
from mailhub.communities import get_community
from mailhub.errors import Conflict, InvalidInput, NotFound
from mailhub.models import Post, Thread
from mailhub.threads import store
from mailhub.threads import themes as thread_themes

thread_app = make_app("Threads: list, show, move, split, theme.")


def _participants(session: Session, thread_id: int) -> list[str]:
    rows = session.exec(select(Post.author_email).where(Post.thread_id == thread_id).distinct())
    return sorted(r for r in rows if r)


def _posts_of(session: Session, thread_id: int) -> Sequence[Post]:
    """A thread's posts in the order they came."""
    query = select(Post).where(Post.thread_id == thread_id)
    return session.exec(query.order_by(col(Post.received_at), col(Post.id))).all()


def thread_record(session: Session, thread: Thread) -> dict[str, Any]:
    assert thread.id is not None
    posts = _posts_of(session, thread.id)
    return {
        "id": thread.id,
        "subject": thread.subject,
        "themes": thread.themes,
        "posts": len(posts),
        "approved": sum(1 for p in posts if p.status in ("approved", "archived")),
        "participants": _participants(session, thread.id),
        "last_activity": thread.last_activity_at,
        "message_ids": [p.message_id for p in posts],
    }


@thread_app.command("list")
def list_(
    ctx: typer.Context,
    community: str = typer.Option(..., "--community", "-c", help="Community slug."),
    limit: int = typer.Option(
        50, min=1, metavar="N", help="At most this many, most recently active first."
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print JSON, with each thread's Message-IDs in order."
    ),
) -> None:
    """List threads with posts, participants and last activity."""
    with instance(ctx).session() as session:
        target = get_community(session, community)
        threads = session.exec(
            select(Thread)
            .where(Thread.community_id == target.id)
            .order_by(col(Thread.last_activity_at).desc())
            .limit(limit)
        ).all()
        records = [thread_record(session, t) for t in threads]
    if as_json:
        print_json(records)
        return
    print_table(
        ("id", "subject", "posts", "participants", "last activity"),
        (
            (r["id"], r["subject"], r["posts"], len(r["participants"]), r["last_activity"])
            for r in records
        ),
        widest={"subject": 50},
    )


@thread_app.command("show")
def show(
    ctx: typer.Context,
    thread_id: int = typer.Argument(..., help="Thread id."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show a thread and its posts as a tree."""
    with instance(ctx).session() as session:
        thread = session.get(Thread, thread_id)
        if thread is None:
            raise NotFound(f"no thread {thread_id}")
        record = thread_record(session, thread)
        posts = _posts_of(session, thread_id)
        tree = _tree_lines(posts)
    if as_json:
        print_json(record)
        return
    print_record({k: v for k, v in record.items() if k != "message_ids"})
    out.print()
    for line in tree:
        out.print(line, markup=False)


def _tree_lines(posts: Sequence[Post]) -> list[str]:
    ids = {p.id for p in posts}
    children: dict[int | None, list[Post]] = {}
    for post in posts:
        parent = post.parent_id if post.parent_id in ids else None
        children.setdefault(parent, []).append(post)
    lines: list[str] = []
    stack = [(p, 0) for p in reversed(children.get(None, []))]
    while stack:
        post, depth = stack.pop()
        lines.append(
            f"{'  ' * depth}[{post.id}] {post.status:9} {post.author_email}: {post.subject}"
        )
        stack.extend((c, depth + 1) for c in reversed(children.get(post.id, [])))
    return lines


@thread_app.command("move")
def move(
    ctx: typer.Context,
    post_id: int = typer.Argument(..., help="The post to move (its replies move with it)."),
    to: int = typer.Option(..., "--to", help="The thread to move it into."),
) -> None:
    """Move a post and its replies into another thread (repairs a split conversation)."""
    with instance(ctx).session() as session:
        post = session.get(Post, post_id)
        thread = session.get(Thread, to)
        if post is None:
            raise NotFound(f"no post {post_id}")
        if thread is None:
            raise NotFound(f"no thread {to}")
        if thread.community_id != post.community_id:
            raise InvalidInput("the thread belongs to another community")
        if post.thread_id == thread.id:
            raise Conflict(f"post {post_id} is in thread {to} already; nothing moved")
        moved = store.move(session, post, thread)
    out.print(f"moved {moved} post(s) into thread {to}")


@thread_app.command("split")
def split(
    ctx: typer.Context,
    post_id: int = typer.Argument(
        ..., help="The post that starts the new thread (its replies follow)."
    ),
) -> None:
    """Make a post and its replies a thread of their own (repairs a joined conversation)."""
    app = instance(ctx)
    with app.session() as session:
        post = session.get(Post, post_id)
        if post is None:
            raise NotFound(f"no post {post_id}")
        thread = store.split(session, post, app.now())
        count = session.exec(
            select(func.count()).select_from(Post).where(Post.thread_id == thread.id)
        ).one()
    out.print(f"thread {thread.id} now holds post {post_id} and its replies ({count} post(s))")


@thread_app.command("theme")
def theme(
    ctx: typer.Context,
    thread_id: int = typer.Argument(..., help="Thread id."),
    slugs: list[str] = typer.Argument(
        None, metavar="SLUG", help="Theme slugs; they replace the thread's."
    ),
    clear: bool = typer.Option(False, "--clear", help="Remove every theme from the thread."),
) -> None:
    """Tag a thread with themes: its posts carry them (with its discussion's) in digests."""
    if bool(slugs) == clear:
        raise InvalidInput("give theme slugs, or --clear to remove them all")
    with instance(ctx).session() as session:
        thread = session.get(Thread, thread_id)
        if thread is None:
            raise NotFound(f"no thread {thread_id}")
        tags = thread_themes.set_themes(session, thread, slugs or [])
    out.print(f"thread {thread_id} themes: {', '.join(tags) or '(none)'}", markup=False)
