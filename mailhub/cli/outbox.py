"""`mailhub outbox`: what is queued, sent and failed; requeue; send now."""

from __future__ import annotations

from email import message_from_bytes, policy
from typing import Any

import typer
from rich.progress import Progress
from sqlmodel import col, select

from mailhub.cli.common import (
    err,
    instance,
    make_app,
    out,
    print_json,
    print_message_row,
    print_table,
    to_terminal,
)
from mailhub.errors import NotFound
from mailhub.models import OutboundMessage, OutboundState
from mailhub.outbound import outbox
from mailhub.outbound.sender import Sender

outbox_app = make_app("Outgoing mail: list, show, retry, send.")


def _subject(raw: bytes) -> str:
    return str(message_from_bytes(raw[:8192], policy=policy.default).get("Subject", ""))


def outbox_record(row: OutboundMessage) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "recipient": row.recipient,
        "subject": _subject(row.raw),
        "state": row.state,
        "attempts": row.attempts,
        "next_attempt_at": row.next_attempt_at,
        "last_error": row.last_error,
        "dedup_key": row.dedup_key,
        "created_at": row.created_at,
        "sent_at": row.sent_at,
    }


@outbox_app.command("list")
def list_(
    ctx: typer.Context,
    state: OutboundState | None = typer.Option(None, help="Only rows in this state."),
    recipient: str | None = typer.Option(None, help="Only mail to this address."),
    limit: int = typer.Option(50, min=1, metavar="N", help="At most this many rows, newest first."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List outbox rows, newest first, with a count per state."""
    with instance(ctx).session() as session:
        query = select(OutboundMessage).order_by(col(OutboundMessage.id).desc()).limit(limit)
        if state:
            query = query.where(OutboundMessage.state == state.value)
        if recipient:
            query = query.where(OutboundMessage.recipient == recipient.strip().lower())
        records = [outbox_record(r) for r in session.exec(query)]
        totals = outbox.counts(session)
    if as_json:
        print_json({"counts": totals, "messages": records})
        return
    print_table(
        ("id", "kind", "recipient", "subject", "state", "tries", "last error"),
        (
            (
                r["id"],
                r["kind"],
                r["recipient"],
                r["subject"],
                r["state"],
                r["attempts"],
                r["last_error"],
            )
            for r in records
        ),
        widest={"subject": 50, "last error": 60},
    )
    # The counts are for a person: piped, they go to stderr and stdout stays one table.
    (out if to_terminal() else err).print(
        "  ".join(f"{k}: {v}" for k, v in sorted(totals.items())) or "outbox is empty"
    )


@outbox_app.command("show")
def show(
    ctx: typer.Context,
    row_id: int = typer.Argument(..., help="Outbox row id."),
    raw: bool = typer.Option(False, "--raw", help="Print the whole message as it is sent."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show one outbox row, and optionally the message itself."""
    with instance(ctx).session() as session:
        row = session.get(OutboundMessage, row_id)
        if row is None:
            raise NotFound(f"no outbox row {row_id}")
        record = outbox_record(row)
        body = row.raw if raw else None
    print_message_row(record, body, as_json)


@outbox_app.command("retry")
def retry(
    ctx: typer.Context,
    row_ids: list[int] | None = typer.Argument(
        None, metavar="ID", help="Row ids; none means every failed row."
    ),
) -> None:
    """Queue failed rows (or the given ones) again, due now. A sent row is never sent again;
    one being sent right now is left to its sender."""
    app = instance(ctx)
    with app.session() as session:
        if row_ids:
            found = outbox.states(session, row_ids)
            missing = [str(i) for i in row_ids if i not in found]
            if missing:
                raise NotFound(f"no outbox row {', '.join(missing)}")
            for row_id, state in sorted(found.items()):
                if state in (OutboundState.SENT, OutboundState.SENDING):
                    err.print(f"row {row_id} is {state}: left as it is", markup=False)
        moved = outbox.requeue(session, row_ids, app.now())
    out.print(f"requeued {moved} message(s)")


@outbox_app.command("send")
def send(ctx: typer.Context) -> None:
    """Deliver everything that is due now, then exit (the service does this continuously)."""
    app = instance(ctx)
    sender = Sender(app)
    try:
        with Progress(
            console=err, transient=True, redirect_stdout=False, redirect_stderr=False
        ) as progress:
            task = progress.add_task("sending", total=None)
            report = sender.drain(progress=lambda r: progress.advance(task, r.handled))
    finally:
        sender.close()
    for line in report.errors[:20]:
        err.print(line, markup=False)
    out.print(f"{report.sent} sent, {report.retried} to retry, {report.failed} failed")
