"""`mailhub ingest` and `mailhub inbound`: the spool as an admin sees it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer
from rich.progress import Progress
from sqlalchemy import func
from sqlmodel import Session, col, select

from mailhub.cli.common import (
    err,
    instance,
    make_app,
    out,
    print_json,
    print_message_row,
    print_table,
)
from mailhub.clock import parse_iso
from mailhub.errors import InvalidInput, NotFound
from mailhub.inbound import pipeline, spool
from mailhub.inbound.committers import spool_folder
from mailhub.inbound.filespool import backlog
from mailhub.inbound.mbox import import_mbox
from mailhub.inbound.pipe import EX_OK, ingest
from mailhub.models import InboundMessage, InboundState

inbound_app = make_app("The inbound spool: list, show, status, retry, process.")
import_app = make_app("Import archives.")


def inbound_record(row: InboundMessage) -> dict[str, Any]:
    return {
        "id": row.id,
        "source": row.source,
        "source_ref": row.source_ref,
        "mail_from": row.mail_from,
        "rcpt_to": list(row.rcpt_to),
        "message_id": row.message_id,
        "class": row.msg_class,
        "state": row.state,
        "reason": row.error,
        "post_id": row.post_id,
        "size": row.size,
        "sha256": row.sha256,
        "attempts": row.attempts,
        "received_at": row.received_at,
        "processed_at": row.processed_at,
    }


# Where spooled mail comes from (InboundMessage.source).
SOURCES = ("smtp", "lmtp", "imap", "pipe")


@inbound_app.command("list")
def list_(
    ctx: typer.Context,
    state: InboundState | None = typer.Option(None, help="Only rows in this state."),
    msg_class: str | None = typer.Option(
        None, "--class", help="Only this class (post, bounce, ...)."
    ),
    source: str | None = typer.Option(
        None, metavar="SOURCE", help="Only this source: smtp, lmtp, imap or pipe."
    ),
    sender: str | None = typer.Option(None, help="Only this envelope sender."),
    since: str | None = typer.Option(None, help="Only rows received at or after this ISO time."),
    limit: int = typer.Option(50, min=1, metavar="N", help="At most this many rows, newest first."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List spooled messages, newest first."""
    query = select(InboundMessage).order_by(col(InboundMessage.id).desc()).limit(limit)
    if state:
        query = query.where(InboundMessage.state == state.value)
    if msg_class:
        query = query.where(InboundMessage.msg_class == msg_class)
    if source:
        if source not in SOURCES:
            raise InvalidInput(f"--source: {source!r} is not one of {', '.join(SOURCES)}")
        query = query.where(InboundMessage.source == source)
    if sender:
        query = query.where(InboundMessage.mail_from == sender)
    if since:
        try:
            query = query.where(InboundMessage.received_at >= parse_iso(since))
        except ValueError:
            raise InvalidInput(
                f"--since {since!r}: expected an ISO time such as 2026-03-01T08:00"
            ) from None
    with instance(ctx).session() as session:
        records = [inbound_record(r) for r in session.exec(query)]
    if as_json:
        print_json(records)
        return
    print_table(
        ("id", "source", "from", "message-id", "class", "state", "reason"),
        (
            (
                r["id"],
                r["source"],
                r["mail_from"],
                r["message_id"],
                r["class"],
                r["state"],
                r["reason"],
            )
            for r in records
        ),
        widest={"message-id": 40, "reason": 60},
    )


@inbound_app.command("show")
def show(
    ctx: typer.Context,
    row_id: int = typer.Argument(..., help="Spool row id."),
    raw: bool = typer.Option(False, "--raw", help="Print the message as it arrived."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show one spooled message: envelope, class, state, reason."""
    with instance(ctx).session() as session:
        row = session.get(InboundMessage, row_id)
        if row is None:
            raise NotFound(f"no spooled message {row_id}")
        record = inbound_record(row)
        body = row.raw if raw else None
    print_message_row(record, body, as_json)


def _name_the_unretried(session: Session, row_ids: list[int]) -> None:
    """An id that is no row is an error; a row that is neither quarantined nor failed is
    left as it is, and said so (as `outbox retry` does)."""
    found = dict(
        session.exec(
            select(InboundMessage.id, InboundMessage.state).where(
                col(InboundMessage.id).in_(row_ids)
            )
        ).all()
    )
    missing = [str(i) for i in row_ids if i not in found]
    if missing:
        raise NotFound(f"no spooled message {', '.join(missing)}")
    for row_id, state in sorted(found.items()):
        if state not in (InboundState.QUARANTINED.value, InboundState.FAILED.value):
            err.print(f"row {row_id} is {state}: left as it is", markup=False)


@inbound_app.command("retry")
def retry(
    ctx: typer.Context,
    row_ids: list[int] | None = typer.Argument(None, metavar="ID", help="Spool row ids."),
    all_quarantined: bool = typer.Option(False, "--all", help="Every quarantined or failed row."),
) -> None:
    """Process quarantined or failed messages again (after a fix)."""
    app = instance(ctx)
    if not row_ids and not all_quarantined:
        raise InvalidInput("give row ids, or --all for every quarantined and failed row")
    with app.session() as session:
        query = select(InboundMessage.id).where(
            col(InboundMessage.state).in_(
                [InboundState.QUARANTINED.value, InboundState.FAILED.value]
            )
        )
        if row_ids:
            _name_the_unretried(session, row_ids)
            query = query.where(col(InboundMessage.id).in_(row_ids))
        ids = [i for i in session.exec(query) if i is not None]
        spool.release(session.connection(), ids)
    batch = pipeline.drain(app)
    done = [o for i, o in batch.outcomes.items() if i in ids]
    out.print(f"requeued {len(ids)} message(s); processed {len(done)}")
    for row_id in ids:
        outcome = batch.outcomes.get(row_id)
        if outcome:
            out.print(
                f"#{row_id}: {outcome.state} {outcome.msg_class or ''} ({outcome.reason})",
                markup=False,
            )


@inbound_app.command("status")
def status(
    ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="Print JSON.")
) -> None:
    """Count spooled messages by state, and what waits in the SQLite spool log."""
    context = instance(ctx)
    with context.session() as session:
        rows = session.exec(
            select(InboundMessage.state, func.count()).group_by(col(InboundMessage.state))
        ).all()
    states = {state: count for state, count in rows}
    waiting = backlog(context.engine, spool_folder(context))
    report = {
        "states": states,
        "spool_log": {
            "segments_waiting": waiting.segments,
            "bytes_waiting": waiting.unread_bytes,
            "oldest_waiting": waiting.oldest,
        },
    }
    if as_json:
        print_json(report)
        return
    print_table(["state", "messages"], sorted(states.items()), title="Spool")
    if waiting.unread_bytes:
        out.print(
            f"Spool log: {waiting.unread_bytes:,} bytes in {waiting.segments} segment(s) not yet "
            f"stored, the oldest received {waiting.oldest:%Y-%m-%d %H:%M:%S %Z}."
            if waiting.oldest
            else f"Spool log: {waiting.unread_bytes:,} bytes not yet stored."
        )
    else:
        out.print("Spool log: nothing waiting.")


@inbound_app.command("process")
def process(ctx: typer.Context) -> None:
    """Process everything waiting in the spool now, then exit (the service does this itself)."""
    batch = pipeline.drain(instance(ctx))
    states: dict[str, int] = {}
    for outcome in batch.outcomes.values():
        key = outcome.msg_class or outcome.state
        states[key] = states.get(key, 0) + 1
    out.print(", ".join(f"{k}: {v}" for k, v in sorted(states.items())) or "nothing to process")


def ingest_command(
    ctx: typer.Context,
    recipient: list[str] = typer.Option(
        ..., "--recipient", "-r", metavar="ADDRESS", help="Envelope recipient; repeat for several."
    ),
    sender: str = typer.Option("", "--sender", "-f", help="Envelope sender (return path)."),
) -> None:
    """Read one message on stdin (for an MTA pipe transport) and commit it to the spool.

    Exit 0 once committed, 75 on a temporary failure, 67 for an unknown recipient,
    65 for unusable input; the reason is one line on stderr."""
    app = instance(ctx)
    raw = sys.stdin.buffer.read()
    result = ingest(app, raw, recipient, sender)
    if result.code != EX_OK:
        err.print(f"mailhub ingest: {result.message}", markup=False)
    raise typer.Exit(result.code)


@import_app.command("mbox")
def import_mbox_command(
    ctx: typer.Context,
    path: Path = typer.Argument(
        ..., help="An mbox file (Mailman, Google Groups or mail client export)."
    ),
    community: str = typer.Option(..., "--community", "-c", help="Community slug to import into."),
) -> None:
    """Import an mbox archive as approved archive posts, threads kept; sends nothing.
    Importing the same file again changes nothing."""
    app = instance(ctx)
    with Progress(console=err, transient=True, redirect_stdout=False, redirect_stderr=False) as bar:
        task = bar.add_task(f"importing {path.name}", total=None)
        report = import_mbox(
            app, community, path, lambda done, total: bar.update(task, completed=done, total=total)
        )
    out.print(
        f"{report.messages} messages: {report.imported} imported, "
        f"{report.already_there} already there, {report.unreadable} unreadable; "
        f"{report.threads} threads",
        markup=False,
    )
