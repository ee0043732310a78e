"""`mailhub newsletter`: build a numbered issue, preview it, send it once, list issues."""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path

import typer

from mailhub.cli.common import instance, make_app, out, print_json, print_table
from mailhub.clock import parse_iso
from mailhub.communities import get_community
from mailhub.errors import InvalidInput
from mailhub.newsletter import issues, sending
from mailhub.outbound.leave import leave_marker

newsletter_app = make_app("Newsletter issues from the store: build, preview, send (once), list.")

COMMUNITY = typer.Option(..., "--community", "-c", help="Community slug.")
NUMBER = typer.Argument(..., help="The issue's number.")


def _time(value: str | None, label: str) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_iso(value)
    except ValueError:
        raise InvalidInput(f"{label}: {value!r} is not an ISO 8601 date or time") from None


@newsletter_app.command("build")
def build(
    ctx: typer.Context,
    community: str = COMMUNITY,
    since: str | None = typer.Option(
        None, "--since", help="Start of the period (default: the end of the previous issue)."
    ),
    now: str | None = typer.Option(None, "--now", help="End the period at this ISO 8601 time."),
) -> None:
    """Build the next numbered issue as a draft, from what is new since the last one."""
    app = instance(ctx)
    until = _time(now, "--now") or app.now()
    with app.session() as session:
        found = get_community(session, community)
        issue = issues.build(app, session, found, until, _time(since, "--since"))
        out.print(
            f"built issue {issue.number}: {issue.title} "
            f"({issue.since:%Y-%m-%d %H:%M} to {issue.until:%Y-%m-%d %H:%M} UTC)",
            markup=False,
        )


@newsletter_app.command("preview")
def preview(ctx: typer.Context, number: int = NUMBER, community: str = COMMUNITY) -> None:
    """Write the issue's text and HTML to a temporary folder and print their paths."""
    app = instance(ctx)
    with app.session() as session:
        issue = issues.find(session, get_community(session, community).id or 0, number)
        # Each member's copy shows their own unsubscribe link; the preview names it.
        marker = leave_marker(issues.LEAVE_MARK)
        text, html = (page.replace(marker, "YOUR-OWN-TOKEN") for page in (issue.text, issue.html))
    folder = Path(tempfile.mkdtemp(prefix="mailhub-newsletter-"))
    text_path, html_path = folder / "newsletter.txt", folder / "newsletter.html"
    text_path.write_text(text, encoding="utf-8")
    html_path.write_text(html, encoding="utf-8")
    out.print(str(text_path), markup=False)
    out.print(str(html_path), markup=False)


@newsletter_app.command("send")
def send(ctx: typer.Context, number: int = NUMBER, community: str = COMMUNITY) -> None:
    """Queue the issue for every member who receives list mail; an issue is sent once."""
    app = instance(ctx)
    with app.session() as session:
        issue = issues.find(session, get_community(session, community).id or 0, number)
        issue_id, state = issue.id or 0, issue.state
    if state != issues.DRAFT:
        out.print(f"issue {number} was sent already; nothing done", markup=False)
        return
    sent = sending.send(app, issue_id)
    out.print(f"issue {sent.number}: {sent.queued} queued", markup=False)


@newsletter_app.command("list")
def list_issues(
    ctx: typer.Context,
    community: str = COMMUNITY,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """The community's issues, by number."""
    app = instance(ctx)
    with app.session() as session:
        records = [
            {
                "number": i.number,
                "state": i.state,
                "title": i.title,
                "since": i.since.isoformat(),
                "until": i.until.isoformat(),
                "sent_at": i.sent_at.isoformat() if i.sent_at else None,
            }
            for i in issues.listed(session, get_community(session, community).id or 0)
        ]
    if as_json:
        print_json(records)
        return
    columns = ("number", "state", "title", "until", "sent_at")
    print_table(columns, ([r[c] for c in columns] for r in records))
