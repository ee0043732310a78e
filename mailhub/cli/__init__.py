"""The `mailhub` command line: one typer app, one sub-app per area, each imported only when
it is run.

Importing every area (SQLAlchemy, pydantic, DKIM, the inbound pipeline...) took 1.4 s of CPU
before `mailhub --help` could answer; the root group knows each area's name and one-line
help (AREAS) and imports its module when the area is invoked (bench/cli.py measures it;
tests/test_cli.py keeps AREAS true to the modules).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperCommand

from mailhub.cli.common import MailhubGroup, err, instance, make_app, out

if TYPE_CHECKING:
    from typer._click.core import Command
    from typer._click.core import Context as ClickContext


@dataclass(frozen=True)
class Area:
    """A command or group of commands, found as ``module:attribute`` when it is run."""

    module: str
    attribute: str
    help: str
    # Modules that add commands to this group when imported.
    extras: tuple[str, ...] = ()
    # Whether its commands run schedules (cron lines); those of an area that runs none are
    # not read when the settings load, which spares them APScheduler's import.
    schedules: bool = True

    def load(self, name: str) -> Command:
        """The click command: a typer sub-app as a group, a function as one command."""
        for extra in self.extras:
            importlib.import_module(extra)
        target = getattr(importlib.import_module(self.module), self.attribute)
        command: Command
        if isinstance(target, typer.Typer):
            command = typer.main.get_group(target)
        else:
            single = typer.Typer(add_completion=False, rich_markup_mode=None)
            single.command(name)(target)
            command = typer.main.get_command(single)
        command.name = name
        return command


AREAS: dict[str, Area] = {
    "ingest": Area(
        "mailhub.cli.inbound",
        "ingest_command",
        "Read one message on stdin (for an MTA pipe transport) and commit it to the spool.",
        schedules=False,
    ),
    "run-due": Area(
        "mailhub.cli.discussion",
        "run_due_command",
        "Do once whatever is due (discussions to open, remind or close; moderation reminders, "
        "digests, newsletters, event digests and reminders).",
    ),
    "community": Area(
        "mailhub.cli.community", "community_app", "Create, change and inspect communities."
    ),
    "theme": Area(
        "mailhub.cli.community",
        "theme_app",
        "The common themes that members, posts, news and resources are tagged with.",
        schedules=False,
    ),
    "member": Area(
        "mailhub.cli.member",
        "member_app",
        "Add, import, list, show, update and remove members.",
        extras=("mailhub.cli.subscription", "mailhub.cli.feedkeys"),
        schedules=False,
    ),
    "report": Area(
        "mailhub.cli.report",
        "report_app",
        "Participation reports: who takes part, what goes unanswered, what reaches.",
    ),
    "outbox": Area(
        "mailhub.cli.outbox",
        "outbox_app",
        "Outgoing mail: list, show, retry, send.",
        schedules=False,
    ),
    "queue": Area(
        "mailhub.cli.queue",
        "queue_app",
        "The moderation queue: list, show, approve, reject, discard, remind.",
        schedules=False,
    ),
    "thread": Area(
        "mailhub.cli.thread",
        "thread_app",
        "Threads: list, show, move, split, theme.",
        schedules=False,
    ),
    "discussion": Area(
        "mailhub.cli.discussion",
        "discussion_app",
        "Time-boxed moderated discussions: create, list, show, open, close.",
    ),
    "digest": Area(
        "mailhub.cli.digest",
        "digest_app",
        "Digests of new posts for digest-mode members: send what is due, preview.",
    ),
    "inbound": Area(
        "mailhub.cli.inbound",
        "inbound_app",
        "The inbound spool: list, show, status, retry, process.",
        schedules=False,
    ),
    "import": Area("mailhub.cli.inbound", "import_app", "Import archives.", schedules=False),
    "export": Area(
        "mailhub.cli.export",
        "export_app",
        "Export a community's archive as an mbox file, as it was received.",
        schedules=False,
    ),
    "news": Area(
        "mailhub.cli.news",
        "news_app",
        "News items for the newsletter: add (published at once), list, update, remove.",
    ),
    "event": Area(
        "mailhub.cli.news",
        "event_app",
        "The event calendar: add (approved at once), list, update, cancel, remove.",
    ),
    "newsletter": Area(
        "mailhub.cli.newsletter",
        "newsletter_app",
        "Newsletter issues from the store: build, preview, send (once), list.",
    ),
    "resource": Area(
        "mailhub.cli.resource",
        "resource_app",
        "The resource library: links and files, tagged by theme and country "
        "(add, list, show, remove, export, candidates).",
        schedules=False,
    ),
    "search": Area(
        "mailhub.cli.search",
        "search_app",
        "The search index over posts, discussions, synopses, news, events and resources "
        "(reindex, query).",
        schedules=False,
    ),
    "check": Area(
        "mailhub.cli.checkup",
        "check_command",
        "Check that this instance can run: config (its secret not the example one once mail "
        "goes out), store (reachable, schema at the newest), "
        "relay (connect and EHLO), DKIM keys; print the SPF, DKIM and DMARC records to publish. "
        "Exit 1 when anything is wrong.",
    ),
    "dkim": Area(
        "mailhub.cli.dkim",
        "dkim_app",
        "DKIM keys for outgoing mail: make them and print their DNS records.",
    ),
    "mta": Area(
        "mailhub.cli.mta",
        "mta_app",
        "The MTA in front of mailhub: Postfix maps and main.cf lines, and a check.",
        schedules=False,
    ),
}


class LazyCommand(TyperCommand):
    """Stands in for an area in the root group: its name and help serve `--help` and
    suggestions for typos; parsing its arguments imports the real one and hands over."""

    def __init__(self, name: str, area: Area) -> None:
        super().__init__(name=name, help=area.help)
        self.area = area
        self._real: Command | None = None

    def real(self) -> Command:
        if self._real is None:
            self._real = self.area.load(self.name or "")
        return self._real

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: ClickContext | None = None,
        **extra: Any,
    ) -> ClickContext:
        if parent is not None and isinstance(parent.obj, dict):
            parent.obj["schedules"] = self.area.schedules
        # The context made belongs to the real command, so the group invokes that one.
        return self.real().make_context(info_name, args, parent, **extra)


class RootGroup(MailhubGroup):
    """The `mailhub` group: its own commands, then every area of AREAS, loaded lazily."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        for name, area in AREAS.items():
            self.commands.setdefault(name, LazyCommand(name, area))


app = typer.Typer(
    cls=RootGroup,
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
app.add_typer(db_app, name="db")


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
    """Create the data folder and the store, add the communities of the config (and its
    themes, to a new store), and report (or with --apply, make) the changes the config asks
    of existing ones (themes it lists that the store lacks too)."""
    from mailhub import db
    from mailhub.communities import seed_from_settings
    from mailhub.config import DEFAULT_SECRET

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
    if settings.mta.postfix_dir is not None:
        # The MTA must know the addresses of communities the config just created.
        from mailhub.mta.postfix import refresh

        with app_.session() as session:
            refresh(settings, app_.address_book(session))
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
    from mailhub import db

    app_ = instance(ctx)
    db.upgrade(app_.engine, revision)
    out.print(f"schema at {db.current_revision(app_.engine)}")


@db_app.command("current")
def db_current(ctx: typer.Context) -> None:
    """Print the schema revision of the store."""
    from mailhub import db

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
