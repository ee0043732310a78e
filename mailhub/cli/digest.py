"""`mailhub digest`: send a community's due digest now, or preview one member's."""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path

import typer

from mailhub.cli.common import instance, make_app, out
from mailhub.clock import parse_iso
from mailhub.communities import get_community
from mailhub.digest.digests import send_due
from mailhub.digest.preview import preview
from mailhub.errors import InvalidInput

digest_app = make_app("Digests of new posts for digest-mode members: send what is due, preview.")


def _now(value: str | None, fallback: typer.Context) -> datetime:
    if value is None:
        return instance(fallback).now()
    try:
        return parse_iso(value)
    except ValueError:
        raise InvalidInput(f"--now: {value!r} is not an ISO 8601 time") from None


@digest_app.command("send")
def send(
    ctx: typer.Context,
    community: str = typer.Option(..., "--community", "-c", help="Community slug."),
    now: str | None = typer.Option(None, "--now", help="Act as if it were this ISO 8601 time."),
) -> None:
    """Queue the community's digest if one is due now and not sent yet (once per due time)."""
    app = instance(ctx)
    at = _now(now, ctx)
    with app.session() as session:
        community_id = get_community(session, community).id
    assert community_id is not None
    run = send_due(app, community_id, at)
    if run is None:
        out.print("nothing due (no due time, or its digest was already sent)", markup=False)
        return
    out.print(
        f"digest due {run.due_at:%Y-%m-%d %H:%M} UTC: {run.queued} queued over {run.posts} post(s)",
        markup=False,
    )


@digest_app.command("preview")
def preview_command(
    ctx: typer.Context,
    community: str = typer.Option(..., "--community", "-c", help="Community slug."),
    member: str = typer.Option(..., "--member", "-m", help="The member's e-mail address."),
    now: str | None = typer.Option(None, "--now", help="Act as if it were this ISO 8601 time."),
) -> None:
    """Write the member's next digest (text and HTML) to a temporary folder; print the paths."""
    app = instance(ctx)
    at = _now(now, ctx)
    with app.session() as session:
        found = get_community(session, community)
        session.expunge(found)
    shown = preview(app, found, member, at)
    folder = Path(tempfile.mkdtemp(prefix="mailhub-digest-"))
    text, html = folder / "digest.txt", folder / "digest.html"
    text.write_text(shown.text, encoding="utf-8")
    html.write_text(shown.html, encoding="utf-8")
    out.print(f"{shown.count} new post(s)", markup=False)
    out.print(str(text), markup=False)
    out.print(str(html), markup=False)
