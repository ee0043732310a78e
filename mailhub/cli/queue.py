"""`mailhub queue`: what waits for moderators, and deciding from the command line."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import typer
from sqlmodel import Session, select

from mailhub.cli.common import instance, make_app, out, print_json, print_record, print_table
from mailhub.communities import get_community
from mailhub.errors import Conflict, InvalidInput, NotFound
from mailhub.models import Attachment, Community, Person, Post
from mailhub.moderation import actions, team
from mailhub.moderation.queue import held_posts, queue_items, send_reminders
from mailhub.threads import themes as thread_themes

queue_app = make_app("The moderation queue: list, show, approve, reject, discard, remind.")


def _item_record(session: Session, item: Any) -> dict[str, Any]:
    post = item.post
    community = session.get(Community, post.community_id)
    return {
        "id": post.id,
        "community": community.slug if community else None,
        "from": post.author_email,
        "name": post.author_name,
        "affiliation": item.person.affiliation if item.person else None,
        "country": item.person.country if item.person else None,
        "subject": post.subject,
        "waiting": item.age,
        "reason": post.reason,
        "received_at": post.received_at,
    }


@queue_app.command("list")
def list_(
    ctx: typer.Context,
    community: str | None = typer.Option(None, "--community", "-c", help="Only this community."),
    older_than: float | None = typer.Option(
        None, help="Only items waiting at least this many hours."
    ),
    sender: str | None = typer.Option(None, help="Only items from this address."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List held items, oldest first."""
    app = instance(ctx)
    now = app.now()
    with app.session() as session:
        target = get_community(session, community) if community else None
        cutoff = now - timedelta(hours=older_than) if older_than is not None else None
        posts = held_posts(session, target, older_than=cutoff, sender=sender)
        records = [_item_record(session, i) for i in queue_items(session, posts, now)]
    if as_json:
        print_json(records)
        return
    print_table(
        ("id", "community", "from", "subject", "waiting", "reason"),
        (
            (
                r["id"],
                r["community"],
                r["from"],
                r["subject"],
                r["waiting"],
                r["reason"],
            )
            for r in records
        ),
        widest={"subject": 40, "reason": 50},
    )


def _post(session: Session, post_id: int) -> Post:
    post = session.get(Post, post_id)
    if post is None:
        raise NotFound(f"no item {post_id}")
    return post


@queue_app.command("show")
def show(
    ctx: typer.Context,
    post_id: int = typer.Argument(..., help="Item number (the post id)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show one item: sender, why it is held, its text and attachments."""
    app = instance(ctx)
    with app.session() as session:
        post = _post(session, post_id)
        item = queue_items(session, [post], app.now())[0]
        record = _item_record(session, item) | {
            "status": post.status,
            "attachments": [
                f"{a.filename} ({a.content_type}, {a.size} bytes)"
                for a in session.exec(select(Attachment).where(Attachment.post_id == post.id))
            ],
            "text": post.body_text,
        }
    if as_json:
        print_json(record)
        return
    text = record.pop("text")
    print_record(record)
    out.print()
    out.print(text, markup=False)


def _decide(
    ctx: typer.Context,
    action: str,
    post_ids: list[int],
    reason: str | None,
    moderator: str | None,
    themes: list[str] | None = None,
) -> None:
    app = instance(ctx)
    with app.session() as session:
        tags = thread_themes.checked(session, themes or [])
        by = None
        if moderator:
            by = session.exec(
                select(Person).where(Person.email == moderator.strip().lower())
            ).first()
            if by is None:
                raise InvalidInput(f"--as {moderator}: no such person")
        lines = []
        for post_id in post_ids:
            post = _post(session, post_id)
            if by is not None:
                community = session.get(Community, post.community_id)
                assert community is not None
                if not team.is_moderator(session, community, by):
                    raise InvalidInput(f"--as {moderator}: not a moderator of {community.slug}")
            try:
                actions.decide(
                    app, session, post, action, by=by, via="cli", reason=reason, themes=tags
                )
            except actions.AlreadyDecided as exc:
                raise Conflict(str(exc)) from None
            lines.append(f"item {post_id}: {post.status if action != 'defer' else 'left waiting'}")
    for line in lines:
        out.print(line, markup=False)


POST_IDS = typer.Argument(..., metavar="ID", help="Item numbers (post ids).")
AS = typer.Option(None, "--as", help="Record the decision as this moderator's (their address).")


@queue_app.command("approve")
def approve(
    ctx: typer.Context,
    post_ids: list[int] = POST_IDS,
    moderator: str | None = AS,
    theme: list[str] = typer.Option(
        [],
        "--theme",
        metavar="SLUG",
        help="Tag the item's thread with this theme (repeat for several).",
    ),
) -> None:
    """Approve held items: they are delivered to members and join the next digest."""
    _decide(ctx, "approve", post_ids, None, moderator, theme)


@queue_app.command("reject")
def reject(
    ctx: typer.Context,
    post_ids: list[int] = POST_IDS,
    reason: str = typer.Option(..., "--reason", help="Told to the sender."),
    moderator: str | None = AS,
) -> None:
    """Reject held items; each sender is told the reason."""
    _decide(ctx, "reject", post_ids, reason, moderator)


@queue_app.command("discard")
def discard(ctx: typer.Context, post_ids: list[int] = POST_IDS, moderator: str | None = AS) -> None:
    """Discard held items silently."""
    _decide(ctx, "discard", post_ids, None, moderator)


@queue_app.command("remind")
def remind(ctx: typer.Context) -> None:
    """Send the moderators' reminder now for items waiting too long (at most once a day)."""
    app = instance(ctx)
    with app.session() as session:
        sent = send_reminders(app, session)
    out.print(f"{sent} reminder(s) queued")
