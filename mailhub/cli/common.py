"""What every command shares: loading the instance, printing tables or JSON, clean errors.

Start-up time matters here (every command imports this module): rich, pydantic and
SQLAlchemy are imported only when a command uses them, so `mailhub --help` costs typer
alone. See bench/cli.py.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import typer
from typer.core import TyperGroup

from mailhub.errors import MailhubError

if TYPE_CHECKING:
    from rich.console import Console
    from typer._click.core import Context as ClickContext

    from mailhub.config import Settings
    from mailhub.context import Context


class LazyConsole:
    """A rich Console made on first use: importing rich costs about 50 ms of CPU, and
    `--help`, JSON and tab-separated output never need it."""

    def __init__(self, *, stderr: bool) -> None:
        self._stderr = stderr
        self._console: Console | None = None

    def real(self) -> Console:
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=self._stderr, highlight=False, soft_wrap=True)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real(), name)

    # Special methods bypass __getattr__; rich's progress bars enter the console.
    def __enter__(self) -> Console:
        return self.real().__enter__()

    def __exit__(self, *exc_info: Any) -> None:
        self.real().__exit__(*exc_info)


# A LazyConsole answers every attribute of the Console it makes, so it is typed as one.
out = cast("Console", LazyConsole(stderr=False))
err = cast("Console", LazyConsole(stderr=True))


def failure_line(exc: BaseException) -> tuple[str, int] | None:
    """The one line and exit code for an error meant for people; None for a bug.

    An exception of a library's class can only exist once that library is imported, so
    the classes are looked up in sys.modules: the error path imports neither pydantic
    (config) nor SQLAlchemy for a command that never loaded them.
    """
    if isinstance(exc, MailhubError):
        return f"error: {exc}", exc.exit_code
    config = sys.modules.get("mailhub.config")
    if config is not None and isinstance(exc, config.ConfigError):
        return f"configuration error: {exc}", 2
    sa_exc = sys.modules.get("sqlalchemy.exc")
    if sa_exc is not None and isinstance(exc, sa_exc.OperationalError):
        reason = str(exc.orig or exc).strip().splitlines()[0]
        return f"error: the database cannot be used: {reason}", 1
    sqlite = sys.modules.get("sqlite3")
    if sqlite is not None and isinstance(exc, sqlite.OperationalError):
        # Read-only listings read a SQLite store on sqlite3 itself (see mailhub/roster.py).
        return f"error: the database cannot be used: {str(exc).strip()}", 1
    return None


class MailhubGroup(TyperGroup):
    """Turns the errors meant for people, and Click's usage errors, into one line on stderr
    and an exit code, never a traceback or a usage block."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: ClickContext | None = None,
        **extra: Any,
    ) -> ClickContext:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except typer.TyperException as exc:
            raise _one_line_usage(exc) from None

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except typer.TyperException as exc:
            raise _one_line_usage(exc) from None
        except Exception as exc:
            failure = failure_line(exc)
            if failure is None:
                raise
            typer.echo(failure[0], err=True)
            raise typer.Exit(failure[1]) from None


def _one_line_usage(exc: typer.TyperException) -> BaseException:
    """Click's usage errors as one line (``error: --affiliation: 'union' is not one of
    ...``), exit code 2; a group called bare still prints its help."""
    # typer vendors Click as typer._click and exports only BadParameter; tests/test_cli.py
    # fails if an upgrade moves these.
    from typer._click.exceptions import BadParameter, MissingParameter, NoArgsIsHelpError

    if isinstance(exc, NoArgsIsHelpError):
        return exc
    message = exc.format_message()
    if isinstance(exc, BadParameter) and not isinstance(exc, MissingParameter) and exc.param:
        names = exc.param.opts or [exc.param.display_name_raw]
        # typer checks values with pydantic, whose messages begin "Value error, ".
        message = f"{'/'.join(names)}: {exc.message.removeprefix('Value error, ')}"
    context = getattr(exc, "ctx", None)
    if context is not None:
        message = f"{message.rstrip('.')} (see '{context.command_path} --help')"
    # Some messages (e.g. from a value's own check) span lines; the promise is one line.
    typer.echo("error: " + " ".join(message.split()), err=True)
    return typer.Exit(exc.exit_code)


def make_app(help_text: str) -> typer.Typer:
    return typer.Typer(
        help=help_text,
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
        add_completion=False,
    )


def settings(ctx: typer.Context) -> Settings:
    """The settings for this invocation, loaded once from the config the root options name
    (a command that reads them alone starts without the store's libraries)."""
    from mailhub import config

    root = ctx.find_root()
    root.obj = root.obj or {}
    if "settings" not in root.obj:
        path: Path | None = root.obj.get("config_path")
        root.obj["settings"] = config.load(path, schedules=root.obj.get("schedules", True))
    return root.obj["settings"]


def instance(ctx: typer.Context) -> Context:
    """The instance for this invocation: its settings, store and clock, made once."""
    from mailhub.context import Context

    root = ctx.find_root()
    if "context" not in (root.obj or {}):
        loaded = settings(ctx)
        root.obj["context"] = Context.from_settings(loaded)
    return root.obj["context"]


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, default=str, ensure_ascii=False, indent=2))


def to_terminal() -> bool:
    """Whether standard output is a person's terminal (rather than a pipe or a file)."""
    isatty = getattr(sys.stdout, "isatty", None)
    return bool(isatty and isatty())


def print_table(
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    title: str | None = None,
    widest: Mapping[str, int] | None = None,
) -> None:
    """A table for a person at a terminal; piped or redirected, tab-separated lines behind a
    header row, every cell in full, so that `| grep`, `| cut -f1` and spreadsheets work.

    ``widest`` caps named columns on the terminal only (cut with an ellipsis), so a long
    subject does not push the others off screen while a script still reads it whole."""
    cells = [["" if cell is None else str(cell) for cell in row] for row in rows]
    if not to_terminal():
        print_tab_separated(columns, cells)
        return
    if not cells:
        out.print("(none)")
        return
    from rich.table import Table

    table = Table(title=title, show_lines=False, header_style="bold")
    for name in columns:
        cap = (widest or {}).get(name)
        if cap is None:
            table.add_column(name)
        else:
            table.add_column(name, max_width=cap, overflow="ellipsis", no_wrap=True)
    for row in cells:
        table.add_row(*row)
    out.print(table)


def print_tab_separated(columns: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    """One line per row; a tab or line break inside a cell becomes a space."""
    lines = ["\t".join(columns)]
    lines += ["\t".join(re.sub(r"[\t\r\n]+", " ", cell) for cell in row) for row in rows]
    typer.echo("\n".join(lines))


def print_record(record: dict[str, Any]) -> None:
    width = max((len(k) for k in record), default=0)
    for key, value in record.items():
        shown = ", ".join(map(str, value)) if isinstance(value, list) else value
        out.print(f"{key.ljust(width)}  {'' if shown is None else shown}", markup=False)


def print_message_row(record: dict[str, Any], raw: bytes | None, as_json: bool) -> None:
    """A spool or outbox row, and the message itself when asked for (``raw`` not None)."""
    text = raw.decode(errors="replace") if raw is not None else None
    if as_json:
        print_json({**record, "raw": text})
        return
    print_record(record)
    if text is not None:
        out.print()
        out.print(text, markup=False)


def theme_slugs(values: Sequence[str]) -> list[str]:
    """Theme slugs as people type them: repeated, or in one value separated by commas or
    spaces ("skills,green-jobs"), as a CSV import's themes cell may be."""
    return [slug for value in values for slug in re.split(r"[,;\s]+", value) if slug]
