"""`mailhub discussion`: time-boxed discussions, and `mailhub run-due` for cron users."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import typer
from sqlmodel import Session, col, select

from mailhub.cli.common import instance, make_app, out, print_json, print_record, print_table
from mailhub.clock import parse_iso
from mailhub.communities import get_community
from mailhub.context import Context
from mailhub.discussions import figures, lifecycle, synopsis
from mailhub.errors import Conflict, InvalidInput
from mailhub.models import Community, Discussion, Person
from mailhub.rendering import local_time
from mailhub.times import BadTime, check_future, local_text, read_moment

discussion_app = make_app("Time-boxed moderated discussions: create, list, show, open, close.")


def _time(name: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_iso(value)
    except ValueError:
        raise InvalidInput(
            f"{name}: {value!r} is not a time (expected ISO 8601, e.g. 2026-03-02T09:00+03:00)"
        ) from None


def _read(name: str, path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{name}: cannot read {path}: {exc}") from None


DISCUSSION_ID = typer.Argument(..., metavar="ID", help="The discussion's number.")
TIME_HELP = (
    "ISO 8601 or 'YYYY-MM-DD HH:MM [zone]'; a time without a zone is in the community's zone."
)


def _moment(name: str, value: str | None, zone: str) -> datetime | None:
    """A time given on the command line, read by the one rule (times.read_moment)."""
    if value is None:
        return None
    try:
        return read_moment(value, zone)
    except BadTime as exc:
        raise InvalidInput(f"{name}: {exc}") from None


@discussion_app.command("create")
def create(
    ctx: typer.Context,
    community: str = typer.Option(..., "--community", "-c", help="The community's slug."),
    title: str = typer.Option(..., help="The discussion's title (the subject of its mails)."),
    question_file: str = typer.Option(
        ..., "--question-file", help="File holding the question ('-' reads standard input)."
    ),
    moderator: str = typer.Option(..., help="Address of the moderator (or admin) who leads it."),
    opens: str | None = typer.Option(None, help=f"Opening time; without it, a draft. {TIME_HELP}"),
    closes: str | None = typer.Option(None, help=f"Closing time. {TIME_HELP}"),
    days: int | None = typer.Option(
        None, min=1, metavar="DAYS", help="Open this many days (instead of --closes)."
    ),
    theme: list[str] = typer.Option(
        [], "--theme", metavar="SLUG", help="A theme slug (repeatable)."
    ),
    allow_past: bool = typer.Option(
        False, "--allow-past", help="Accept an opening or closing time already past."
    ),
) -> None:
    """Create a discussion: scheduled when --opens is given, otherwise a draft."""
    app = instance(ctx)
    if closes is not None and days is not None:
        raise InvalidInput("--closes: give --closes or --days, not both")
    question = _read("--question-file", question_file)
    with app.session() as session:
        target = get_community(session, community)
        zone = target.timezone
        opens_at, closes_at = _moment("--opens", opens, zone), _moment("--closes", closes, zone)
        for name, moment in (("--opens", opens_at), ("--closes", closes_at)):
            if moment is not None:
                try:
                    check_future(name, moment, app.now(), zone, allow_past)
                except BadTime as exc:
                    raise InvalidInput(str(exc)) from None
        plan = lifecycle.Plan(
            title=title,
            question=question,
            moderator_email=moderator,
            opens_at=opens_at,
            closes_at=closes_at,
            days=days,
            themes=theme,
        )
        made = lifecycle.create(session, app.settings.discussions, target, plan, app.now())
    out.print(
        f"discussion {made.id} {made.state}: opens {local_time(made.opens_at, zone) or 'by hand'}, "
        f"closes {local_time(made.closes_at, zone)}",
        markup=False,
    )


def _record(session: Session, discussion: Discussion) -> dict[str, Any]:
    community = session.get(Community, discussion.community_id)
    assert community is not None
    zone = community.timezone
    moderator = session.get(Person, discussion.moderator_id) if discussion.moderator_id else None
    approved = figures.contributions(session, discussion)
    held = figures.contributions(session, discussion, ("held",))
    tally = figures.figures(approved)
    return {
        "id": discussion.id,
        "community": community.slug,
        "title": discussion.title,
        "state": discussion.state,
        "moderator": moderator.email if moderator else None,
        "themes": discussion.themes,
        "opens": local_time(discussion.opens_at, zone),
        "remind": local_time(discussion.remind_at, zone),
        "closes": local_time(discussion.closes_at, zone),
        "contributors": tally.contributors,
        "approved": tally.posts,
        "held": len(held),
        "synopsis_version": discussion.synopsis_version,
        "synopsis": discussion.synopsis,
    }


@discussion_app.command("list")
def list_(
    ctx: typer.Context,
    community: str | None = typer.Option(None, "--community", "-c", help="Only this community."),
    state: lifecycle.State | None = typer.Option(None, help="Only discussions in this state."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List discussions, newest first."""
    app = instance(ctx)
    with app.session() as session:
        query = select(Discussion).order_by(col(Discussion.id).desc())
        if community:
            query = query.where(Discussion.community_id == get_community(session, community).id)
        if state:
            query = query.where(Discussion.state == state.value)
        records = [_record(session, d) for d in session.exec(query)]
    if as_json:
        print_json(records)
        return
    columns = ("id", "community", "title", "state", "opens", "closes", "approved")
    print_table(columns, ([r[c] for c in columns] for r in records))


@discussion_app.command("show")
def show(
    ctx: typer.Context,
    discussion_id: int = DISCUSSION_ID,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show a discussion: state, dates in the community's time zone, counts, the synopsis."""
    app = instance(ctx)
    with app.session() as session:
        record = _record(session, lifecycle.get(session, discussion_id))
    if as_json:
        print_json(record)
        return
    text = record.pop("synopsis")
    print_record(record)
    if text:
        out.print("\n" + text, markup=False)


def _closing_when_opened(
    app: Context,
    discussion: Discussion,
    zone: str,
    closes: str | None,
    days: int | None,
    allow_past: bool,
) -> datetime | None:
    """The new closing time asked for (None: keep the stored one). A closing already past
    is refused, since members would be invited to a discussion that the next run closes."""
    if closes is not None and days is not None:
        raise InvalidInput("--closes: give --closes or --days, not both")
    now = app.now()
    new = now + timedelta(days=days) if days is not None else _moment("--closes", closes, zone)
    ends = new or discussion.closes_at
    if ends is not None and ends <= now and not allow_past:
        raise InvalidInput(
            f"--closes: discussion {discussion.id} closes {local_text(ends, zone)}, already past"
            f" (it is now {local_text(now, zone)}); give --days N or --closes TIME, or"
            " --allow-past if that is meant"
        )
    return new


@discussion_app.command("open")
def open_(
    ctx: typer.Context,
    discussion_id: int = DISCUSSION_ID,
    closes: str | None = typer.Option(
        None, metavar="TIME", help=f"Close then instead of the time it has. {TIME_HELP}"
    ),
    days: int | None = typer.Option(
        None, min=1, metavar="DAYS", help="Close this many days from now (instead of --closes)."
    ),
    allow_past: bool = typer.Option(
        False, "--allow-past", help="Open it even though its closing time is already past."
    ),
) -> None:
    """Open a draft or scheduled discussion now: the question goes to every member."""
    app = instance(ctx)
    with app.session() as session:
        discussion = lifecycle.get(session, discussion_id)
        state = discussion.state
        refused = Conflict(
            f"discussion {discussion_id} is {state}; only a draft or scheduled opens"
        )
        if state not in (lifecycle.State.DRAFT, lifecycle.State.SCHEDULED):
            raise refused
        community = session.get(Community, discussion.community_id)
        assert community is not None
        closes_at = _closing_when_opened(
            app, discussion, community.timezone, closes, days, allow_past
        )
    sent = lifecycle.open_discussion(app, discussion_id, when_due=False, closes_at=closes_at)
    if sent is None:
        raise refused
    out.print(f"discussion {discussion_id} open: {sent} announcement(s) queued")


@discussion_app.command("close")
def close(ctx: typer.Context, discussion_id: int = DISCUSSION_ID) -> None:
    """Close an open discussion now and send its moderator the draft synopsis."""
    app = instance(ctx)
    with app.session() as session:
        state = lifecycle.get(session, discussion_id).state
    if not lifecycle.close(app, discussion_id, when_due=False):
        raise Conflict(f"discussion {discussion_id} is {state}; only an open one closes")
    out.print(f"discussion {discussion_id} closed; the moderator is asked for the synopsis")


@discussion_app.command("cancel")
def cancel(ctx: typer.Context, discussion_id: int = DISCUSSION_ID) -> None:
    """Call off a discussion that has not closed."""
    lifecycle.cancel(instance(ctx), discussion_id)
    out.print(f"discussion {discussion_id} cancelled")


@discussion_app.command("synopsis")
def set_synopsis(
    ctx: typer.Context,
    discussion_id: int = DISCUSSION_ID,
    file: str | None = typer.Option(
        None, "--file", help="The synopsis ('-' reads standard input); without it, print the draft."
    ),
    correction: bool = typer.Option(
        False, "--correction", help="Replace a published synopsis and send it as a correction."
    ),
) -> None:
    """Publish a closed discussion's synopsis to every member (or print the draft)."""
    app = instance(ctx)
    if file is None:
        with app.session() as session:
            discussion = lifecycle.get(session, discussion_id)
            community = session.get(Community, discussion.community_id)
            assert community is not None
            out.print(synopsis.draft(app, session, community, discussion), markup=False)
        return
    text = _read("--file", file)
    with app.session() as session:
        lifecycle.get(session, discussion_id)
        sent = synopsis.set_synopsis(app, session, discussion_id, text, correction=correction)
    label = "correction" if correction else "synopsis"
    out.print(f"discussion {discussion_id}: {label} sent to {sent} member(s)")


def run_due_command(
    ctx: typer.Context,
    now: str | None = typer.Option(
        None,
        "--now",
        help="Decide what is due as if it were this time (ISO 8601; without a zone, UTC); "
        "the mail it queues is sent at once all the same.",
    ),
) -> None:
    """Do once whatever is due (discussions to open, remind or close; moderation reminders,
    digests, newsletters, event digests and reminders)."""
    from mailhub.scheduler import run_due

    app = instance(ctx)
    # --now decides what is due; what the run queues is still due at once (scheduler.run_due).
    report = run_due(app, _time("--now", now))
    for line in report.done:
        out.print(line, markup=False)
    for line in report.failed:
        out.print(f"failed: {line}", markup=False)
    if not report.done and not report.failed:
        out.print("nothing due", markup=False)
    if report.failed:
        raise typer.Exit(1)
