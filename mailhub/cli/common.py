"""What every command shares: loading the instance, printing tables or JSON, clean errors."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import OperationalError
from typer.core import TyperGroup

from mailhub import config
from mailhub.context import Context
from mailhub.errors import MailhubError

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class MailhubGroup(TyperGroup):
    """Turns the errors meant for people into one line and an exit code, never a traceback."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except config.ConfigError as exc:
            err.print(f"[red]configuration error:[/red] {exc}", markup=True)
            raise typer.Exit(2) from None
        except MailhubError as exc:
            err.print(f"error: {exc}", markup=False)
            raise typer.Exit(exc.exit_code) from None
        except OperationalError as exc:
            reason = str(exc.orig or exc).strip().splitlines()[0]
            err.print(f"error: the database cannot be used: {reason}", markup=False)
            raise typer.Exit(1) from None


def make_app(help_text: str) -> typer.Typer:
    return typer.Typer(
        help=help_text,
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
        add_completion=False,
    )


def instance(ctx: typer.Context) -> Context:
    """The instance for this invocation, loaded once from the config the root options name."""
    root = ctx.find_root()
    root.obj = root.obj or {}
    if "context" not in root.obj:
        path: Path | None = root.obj.get("config_path")
        root.obj["context"] = Context.from_settings(config.load(path))
    return root.obj["context"]


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, default=str, ensure_ascii=False, indent=2))


def print_table(
    columns: Sequence[str], rows: Iterable[Sequence[Any]], title: str | None = None
) -> None:
    table = Table(*columns, title=title, show_lines=False, header_style="bold")
    count = 0
    for row in rows:
        table.add_row(*("" if cell is None else str(cell) for cell in row))
        count += 1
    if count:
        out.print(table)
    else:
        out.print("(none)")


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
