"""The `mailhub` command line: one typer app, one sub-app per area."""

from __future__ import annotations

from pathlib import Path

import typer

from mailhub import db
from mailhub.cli import subscription  # noqa: F401  (adds its commands to `member`)
from mailhub.cli.common import MailhubGroup, err, instance, make_app, out
from mailhub.cli.community import community_app, theme_app
from mailhub.cli.digest import digest_app
from mailhub.cli.discussion import discussion_app, run_due_command
from mailhub.cli.inbound import import_app, inbound_app, ingest_command
from mailhub.cli.member import member_app
from mailhub.cli.news import event_app, news_app
from mailhub.cli.newsletter import newsletter_app
from mailhub.cli.outbox import outbox_app
from mailhub.cli.queue import queue_app
from mailhub.cli.resource import resource_app
from mailhub.cli.thread import thread_app
from mailhub.communities import seed_from_settings
from mailhub.config import DEFAULT_SECRET

app = typer.Typer(
    cls=MailhubGroup,
    help=(
        "mailhub: moderated e-mail discussions, digests and newsletters "
        "for communities of practice."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    add_completion=False,
)
db_app = make_app("The store's schema.")
app.add_typer(community_app, name="community")
app.add_typer(theme_app, name="theme")
app.add_typer(member_app, name="member")
app.add_typer(outbox_app, name="outbox")
app.add_typer(queue_app, name="queue")
app.add_typer(thread_app, name="thread")
app.add_typer(discussion_app, name="discussion")
app.add_typer(digest_app, name="digest")
app.add_typer(inbound_app, name="inbound")
app.add_typer(import_app, name="import")
app.add_typer(news_app, name="news")
app.add_typer(event_app, name="event")
app.add_typer(newsletter_app, name="newsletter")
app.add_typer(resource_app, name="resource")
app.add_typer(db_app, name="db")
app.command("ingest")(ingest_command)
app.command("run-due")(run_due_command)


@app.callback()
def root(
    ctx: typer.Context,
    config: Path | None = typer.Option(
        None,
        "--config",
        envvar="MAILHUB_CONFIG",
        help="Configuration file (default: ./config.toml if present, else built-in defaults).",
    ),
) -> None:
    """Options shared by every command."""
    ctx.obj = {"config_path": config}


@app.command("init")
def init(
    ctx: typer.Context,
    apply: bool = typer.Option(
        False, "--apply", help="Change existing communities to the settings the config gives."
    ),
) -> None:
    """Create the data folder and the store, add the communities and themes of the config,
    and report (or with --apply, make) the changes the config asks of existing ones."""
    app_ = instance(ctx)
    settings = app_.settings
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db.upgrade(app_.engine)
    with app_.session() as session:
        seeded = seed_from_settings(session, settings, app_.now(), apply=apply)
    out.print(f"store ready: {settings.database_url}", markup=False)
    for line in seeded.made:
        out.print(f"created {line}", markup=False)
    for change in seeded.differences:
        out.print(f"{'changed' if apply else 'differs'} {change}", markup=False)
    if seeded.differences and not apply:
        err.print("the store differs from the config; 'mailhub init --apply' applies it")
    if settings.instance.secret == DEFAULT_SECRET:
        err.print(
            "warning: instance.secret is the example value; set MAILHUB_SECRET or edit the config"
        )


@db_app.command("upgrade")
def db_upgrade(
    ctx: typer.Context,
    revision: str = typer.Option("head", help="Target revision (default: the newest)."),
) -> None:
    """Apply schema migrations; safe to run again."""
    app_ = instance(ctx)
    db.upgrade(app_.engine, revision)
    out.print(f"schema at {db.current_revision(app_.engine)}")


@db_app.command("current")
def db_current(ctx: typer.Context) -> None:
    """Print the schema revision of the store."""
    out.print(db.current_revision(instance(ctx).engine) or "empty store (run 'mailhub init')")


@app.command("serve")
def serve(
    ctx: typer.Context,
    no_smtp: bool = typer.Option(False, "--no-smtp", help="Do not listen for SMTP."),
    no_imap: bool = typer.Option(False, "--no-imap", help="Do not poll IMAP mailboxes."),
    no_send: bool = typer.Option(False, "--no-send", help="Do not deliver the outbox."),
    no_work: bool = typer.Option(False, "--no-work", help="Do not process the spool."),
    no_web: bool = typer.Option(False, "--no-web", help="Do not serve the web pages."),
    no_schedule: bool = typer.Option(False, "--no-schedule", help="Do not run due work."),
) -> None:
    """Run the service: SMTP listener, IMAP pollers, spool worker, sender and web pages,
    until SIGTERM or SIGINT (which stop intake, finish what is in flight and exit 0)."""
    from mailhub.service import run_service

    code = run_service(
        instance(ctx),
        smtp=not no_smtp,
        imap=not no_imap,
        send=not no_send,
        work=not no_work,
        web=not no_web,
        schedule=not no_schedule,
    )
    raise typer.Exit(code)


def main() -> None:
    app()
