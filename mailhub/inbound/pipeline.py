"""The processing worker: spool rows in, posts and classified messages out.

Each row goes through the steps of DESIGN.md in order — parse, find the destination,
classify, identify the sender, extract and trim the body, keep attachments — and ends in one
`Outcome`. A row for several of our addresses is first split into one row per destination
(recipients.py), so each address gets its own outcome. A message that cannot be understood
is quarantined with the reason; nothing is dropped silently. A batch is one transaction; if
it fails, each row is retried alone so one bad message cannot hold back the others, and a
row that still fails is marked failed with the error for `mailhub inbound retry`.

A worker holds its rows under a lease (`inbound.lease_seconds`): it renews the lease every
third of it while it parses and writes, so a long batch is never taken from a live worker,
and it writes only rows it still holds, so a worker stalled past its lease (a starved
SCHED_IDLE process) leaves the rows another worker took to that one (leases.py).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, insert, text, update
from sqlalchemy.engine import Connection
from sqlmodel import Session, select

from mailhub.addresses import AddressBook, Destination, Kind
from mailhub.context import Context
from mailhub.digest import replies as digest_replies
from mailhub.inbound import attachments, spool
from mailhub.inbound.classify import classify
from mailhub.inbound.committers import spool_folder
from mailhub.inbound.filespool import SpoolReadError, take
from mailhub.inbound.outcomes import Batch, Incoming, Outcome, Prepared
from mailhub.inbound.parse import (
    ParsedMessage,
    UnparseableMessage,
    derive_message_id,
    parse_message,
)
from mailhub.inbound.recipients import recipients, split
from mailhub.inbound.routes import CLASS_ROUTES, ROUTES, Route
from mailhub.inbound.spool import SpoolRow
from mailhub.inbound.trim import trim_reply
from mailhub.leases import Renewal
from mailhub.models import (
    Attachment,
    Community,
    InboundMessage,
    InboundState,
    Person,
    Post,
    PostStatus,
    table_of,
)
from mailhub.moderation.batch import Fresh, moderate_batch
from mailhub.outbound.headers import list_key, loop_marker

log = logging.getLogger("mailhub.pipeline")
TABLE = table_of(InboundMessage)
MAX_ATTEMPTS = 5
WRITE_CHUNK = 100
TABLE_SHARE = 4  # a quarter of each batch is kept for the spool table's own rows
WRITE_TURN_KEY = 0x6D61696C687562  # 'mailhub'

NOT_FOR_PEOPLE = {"bounce", "delay_warning", "feedback_report", "auto_reply", "loop"}


class Pipeline:
    """Parses and decides outside any write transaction (`prepare`), then writes (`apply`).

    Keeping the parsing out of the write transaction keeps SQLite's write lock short, so the
    SMTP front end never waits long to commit what it accepts.
    """

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.domain = ctx.settings.instance.domain
        with ctx.session() as session:
            self.book: AddressBook = ctx.address_book(session)
            self.communities = {c.slug: c for c in session.exec(select(Community))}
        self.list_ids = [list_key(c, self.domain) for c in self.communities.values()]
        self.attachment_root = ctx.settings.data_dir / "attachments"

    def prepare(self, row: SpoolRow) -> Prepared:
        """Parse, find the destination, classify and trim; touches no table."""
        try:
            parsed = parse_message(row.raw)
        except UnparseableMessage as exc:
            reason = f"cannot be parsed: {exc}"
            return Prepared(row, Outcome(InboundState.QUARANTINED.value, None, reason))
        message_id = parsed.message_id or derive_message_id(row.raw, self.domain)
        found = recipients(self.book, row.rcpt_to, parsed)
        if not found:
            reason = "no recipient address of this instance in the envelope or headers"
            outcome = Outcome(InboundState.QUARANTINED.value, None, reason, message_id)
            return Prepared(row, outcome)
        prepared = self.prepare_for(row, parsed, message_id, found[0].destination)
        if len(found) > 1:
            prepared.split = found
        return prepared

    def prepare_for(
        self, row: SpoolRow, parsed: ParsedMessage, message_id: str, destination: Destination
    ) -> Prepared:
        """The CPU-bound steps for the message's (first) destination."""
        community = self.communities.get(destination.community or "")
        marker = loop_marker(self.domain)
        found = classify(
            parsed,
            our_list_ids=self.list_ids,
            our_loop_marker=marker,
            envelope_sender=row.envelope_sender,
        )
        kind = "bounce" if destination.kind is Kind.BOUNCE else found.kind
        done = InboundState.DONE.value
        if kind in NOT_FOR_PEOPLE:
            if kind in CLASS_ROUTES and community is not None:
                return Prepared(row, None, parsed, message_id, community, destination, "", kind)
            community_id = community.id if community else None
            return Prepared(row, Outcome(done, kind, found.reason, message_id, community_id))
        if destination.kind in ROUTES:
            return Prepared(row, None, parsed, message_id, community, destination)
        assert community is not None
        for item in parsed.attachments:
            attachments.save(self.attachment_root, item.sha256, item.data)
        trimmed = trim_reply(parsed.text, parsed.from_name or parsed.from_address or "").text
        return Prepared(row, None, parsed, message_id, community, destination, trimmed)

    def apply(self, session: Session, batch: list[Prepared]) -> dict[int, Outcome]:
        """Write what `prepare` decided, set-wise: a handful of statements per batch."""
        outcomes = {p.row.id: p.outcome for p in batch if p.outcome is not None}
        for item in batch:
            route = _route(item)
            if item.outcome is None and route is not None:
                outcomes[item.row.id] = route(Incoming(self.ctx, session, item))
        posts = [p for p in batch if p.row.id not in outcomes]
        if posts:
            outcomes.update(self.store_posts(session, posts))
        return outcomes

    def store_posts(self, session: Session, batch: list[Prepared]) -> dict[int, Outcome]:
        """Store posts (held for moderation); one Message-ID in one community is one post."""
        connection = session.connection()
        done = InboundState.DONE.value
        existing = _existing_posts(connection, {_post_key(p) for p in batch})
        people = _people(connection, {p.parsed.from_address for p in batch if p.parsed})
        fresh: dict[tuple[int, str], tuple[Prepared, dict[str, Any]]] = {}
        repeats: list[Prepared] = []
        for item in batch:
            key = _post_key(item)
            if key in existing or key in fresh:
                repeats.append(item)
            else:
                fresh[key] = (item, self.post_row(item, people))
        outcomes: dict[int, Outcome] = {}
        rows = [values for _, values in fresh.values()]
        ids = _insert_returning_ids(connection, POSTS, rows) if rows else []
        inserted: list[Fresh] = []
        files: list[dict[str, Any]] = []
        for (key, (item, values)), post_id in zip(fresh.items(), ids, strict=True):
            existing[key] = post_id
            concerns = self.list_attachments(post_id, item, files)
            inserted.append(Fresh(item, post_id, values, concerns))
        if files:
            connection.execute(insert(ATTACHMENTS), files)
        accounts = moderate_batch(self.ctx, session, inserted) if inserted else {}
        for fresh_post in inserted:
            key = _post_key(fresh_post.item)
            reason = accounts[fresh_post.post_id]
            outcomes[fresh_post.item.row.id] = Outcome(
                done, "post", reason, key[1], key[0], fresh_post.post_id
            )
        for item in repeats:
            key = _post_key(item)
            reason = f"duplicate of post #{existing[key]}"
            outcomes[item.row.id] = Outcome(
                done, "duplicate", reason, key[1], key[0], existing[key]
            )
        return outcomes

    def post_row(self, item: Prepared, people: dict[str, tuple[int, str]]) -> dict[str, Any]:
        parsed, community = item.parsed, item.community
        assert parsed is not None and community is not None and item.destination is not None
        person = people.get(parsed.from_address or "")
        reasons = ["awaiting moderation"]
        return {
            "community_id": community.id,
            "inbound_id": item.row.id,
            "person_id": person[0] if person else None,
            "message_id": item.message_id,
            "in_reply_to": parsed.in_reply_to[-1] if parsed.in_reply_to else None,
            "references": list(parsed.references),
            "kind": "reply"
            if item.destination.kind is Kind.REPLY
            or (item.digest_reply is not None and item.digest_reply.parent_id is not None)
            else "post",
            "author_email": parsed.from_address or item.row.mail_from,
            "author_name": parsed.from_name or (person[1] if person else ""),
            "subject": parsed.subject,
            "status": PostStatus.HELD.value,
            "reason": "; ".join(reasons),
            "body_text": item.body_text,
            "full_text": parsed.text,
            "html": parsed.html,
            "sent_at": parsed.date,
            "received_at": self.ctx.now(),
        }

    def list_attachments(
        self, post_id: int, item: Prepared, rows: list[dict[str, Any]]
    ) -> list[str]:
        """Add a row per (already stored) attachment; return the reasons a moderator should look."""
        assert item.parsed is not None
        concerns = []
        for part in item.parsed.attachments:
            rows.append(
                {
                    "post_id": post_id,
                    "filename": part.filename or "attachment",
                    "content_type": part.content_type,
                    "size": len(part.data),
                    "sha256": part.sha256,
                }
            )
            concern = attachments.refusal(
                self.ctx.settings.inbound, part.filename, part.content_type, len(part.data)
            )
            if concern:
                concerns.append(concern)
        return concerns


POSTS = table_of(Post)
ATTACHMENTS = table_of(Attachment)
PEOPLE = table_of(Person)


def _route(item: Prepared) -> Route | None:
    if item.msg_class is not None:
        return CLASS_ROUTES.get(item.msg_class)
    return ROUTES.get(item.destination.kind) if item.destination else None


def _post_key(item: Prepared) -> tuple[int, str]:
    assert item.community is not None and item.community.id is not None
    return (item.community.id, item.message_id)


def _existing_posts(
    connection: Connection, keys: set[tuple[int, str]]
) -> dict[tuple[int, str], int]:
    found: dict[tuple[int, str], int] = {}
    ids = sorted({message_id for _, message_id in keys})
    for start in range(0, len(ids), 500):
        query = select(POSTS.c.community_id, POSTS.c.message_id, POSTS.c.id).where(
            POSTS.c.message_id.in_(ids[start : start + 500])
        )
        for community_id, message_id, post_id in connection.execute(query):
            if (community_id, message_id) in keys:
                found[(community_id, message_id)] = post_id
    return found


def _people(connection: Connection, addresses: set[str | None]) -> dict[str, tuple[int, str]]:
    wanted = sorted(a.lower() for a in addresses if a)
    if not wanted:
        return {}
    query = select(PEOPLE.c.email, PEOPLE.c.id, PEOPLE.c.name).where(PEOPLE.c.email.in_(wanted))
    return {email: (pid, name) for email, pid, name in connection.execute(query)}


def _insert_returning_ids(
    connection: Connection, table: Any, rows: list[dict[str, Any]]
) -> list[int]:
    statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    return [row[0] for row in connection.execute(statement, rows)]


def _record(session: Session, outcomes: dict[int, Outcome], now: datetime) -> None:
    """Mark each spool row with where it ended, in the caller's transaction."""
    statement = (
        update(TABLE)
        .where(TABLE.c.id == bindparam("row_id"))
        .values(
            state=bindparam("new_state"),
            msg_class=bindparam("new_class"),
            error=bindparam("reason"),
            message_id=bindparam("new_message_id"),
            community_id=bindparam("new_community_id"),
            post_id=bindparam("new_post_id"),
            lease_until=None,
            processed_at=now,
        )
    )
    rows = [
        {
            "row_id": row_id,
            "new_state": o.state,
            "new_class": o.msg_class,
            "reason": o.reason,
            "new_message_id": o.message_id,
            "new_community_id": o.community_id,
            "new_post_id": o.post_id,
        }
        for row_id, o in outcomes.items()
    ]
    if rows:
        session.connection().execute(statement, rows)


def _take_turn(session: Session) -> None:
    """Workers parse at the same time but write one at a time, so two batches never thread
    the same conversation, or decide the same post, at once: everything a batch reads, it
    reads in its turn. On PostgreSQL a transaction-scoped advisory lock (workers on other
    machines included); on SQLite the write lock, taken by a first write that changes
    nothing (the driver would otherwise start the transaction only at the first write,
    after the reads)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": WRITE_TURN_KEY})
    else:
        session.execute(text("UPDATE inbound_message SET id = id WHERE 0"))


def lease_of(ctx: Context) -> timedelta:
    return timedelta(seconds=ctx.settings.inbound.lease_seconds)


def _apply(ctx: Context, pipeline: Pipeline, prepared: list[Prepared]) -> dict[int, Outcome]:
    with ctx.session() as session:
        _take_turn(session)
        rows = [item.row for item in prepared]
        held = spool.renew(session.connection(), rows, ctx.now() + lease_of(ctx))
        for row in rows:
            if row.id not in held:
                log.warning("spool #%s: lease lost to another worker; left to it", row.id)
        outcomes = pipeline.apply(session, [item for item in prepared if item.row.id in held])
        _record(session, outcomes, ctx.now())
        return outcomes


def _split(ctx: Context, prepared: list[Prepared], batch: Batch) -> list[Prepared]:
    """Give every further destination of a message its own row before anything is decided,
    in a transaction of its own, so that one destination that fails never holds back the
    others (see recipients.py). Returns what goes on to be applied."""
    splitting = [item for item in prepared if item.split]
    if not splitting:
        return prepared
    try:
        with ctx.engine.begin() as connection:
            for item in splitting:
                assert item.split is not None
                split(connection, item.row, item.split)
    except Exception as exc:
        # Nothing was split: each row is taken again, whole, on a later pass.
        for item in splitting:
            batch.outcomes[item.row.id] = _fail(ctx, item.row, exc)
        return [item for item in prepared if not item.split]
    return prepared


def _renew(ctx: Context, rows: list[SpoolRow], renewal: Renewal) -> None:
    """Renew the batch's lease when a third of it has passed (rows finished are skipped)."""
    if renewal.due():
        with ctx.engine.begin() as connection:
            spool.renew(connection, rows, ctx.now() + renewal.lease)
        renewal.done()


def _fail(ctx: Context, row: SpoolRow, error: Exception) -> Outcome:
    """A row that breaks processing waits for a person (or a retry) with the error."""
    state = InboundState.FAILED.value if row.attempts >= MAX_ATTEMPTS else InboundState.NEW.value
    reason = f"processing error: {type(error).__name__}: {error}"[:2000]
    outcome = Outcome(state, None, reason)
    with ctx.session() as session:
        _record(session, {row.id: outcome}, ctx.now())
    log.error("spool #%s: %s", row.id, reason)
    return outcome


def _claim_rows(ctx: Context, limit: int, lease: timedelta) -> list[SpoolRow]:
    """Up to ``limit`` rows to work on: on SQLite, records from the spool log, after a share
    of the spool table's own (IMAP, the pipe, retries, rows whose worker died), so a steady
    stream of SMTP mail never keeps those waiting."""
    if ctx.engine.dialect.name != "sqlite":
        with ctx.engine.begin() as connection:
            return spool.claim(connection, ctx.now(), lease, limit)
    with ctx.engine.begin() as connection:
        rows = spool.claim(connection, ctx.now(), lease, max(1, limit // TABLE_SHARE))
    try:
        rows += take(ctx.engine, spool_folder(ctx), ctx.now(), lease, limit - len(rows))
    except SpoolReadError as exc:
        # Nothing is lost: the records wait in the log; the spool table still moves.
        log.error("%s", exc)
    if len(rows) < limit:
        with ctx.engine.begin() as connection:
            rows += spool.claim(connection, ctx.now(), lease, limit - len(rows))
    return rows


def process_batch(ctx: Context, limit: int = 100) -> Batch:
    """Claim and process up to ``limit`` spool rows; return what became of each.

    Parsing happens outside any transaction; the writes go in small transactions of
    WRITE_CHUNK rows, so SQLite's single write lock is never held for long and the SMTP
    front end can keep committing what it accepts.
    """
    renewal = Renewal(lease_of(ctx))
    rows = _claim_rows(ctx, limit, renewal.lease)
    batch = Batch()
    if not rows:
        return batch
    pipeline = Pipeline(ctx)
    prepared = []
    for row in rows:
        _renew(ctx, rows, renewal)
        try:
            prepared.append(pipeline.prepare(row))
        except Exception as exc:
            batch.outcomes[row.id] = _fail(ctx, row, exc)
    prepared = _split(ctx, prepared, batch)
    digest_replies.match_replies(ctx, pipeline.book, prepared)
    for start in range(0, len(prepared), WRITE_CHUNK):
        chunk = prepared[start : start + WRITE_CHUNK]
        _renew(ctx, [item.row for item in prepared[start:]], renewal)
        try:
            batch.outcomes.update(_apply(ctx, pipeline, chunk))
        except Exception:
            # Find the row at fault: each alone, in its own transaction.
            for item in chunk:
                try:
                    batch.outcomes.update(_apply(ctx, pipeline, [item]))
                except Exception as exc:
                    batch.outcomes[item.row.id] = _fail(ctx, item.row, exc)
    for row_id, outcome in batch.outcomes.items():
        # One line per message, key=value, so logs can be searched and counted.
        log.info(
            "message spool=%s state=%s class=%s message_id=%s community=%s post=%s reason=%r",
            row_id,
            outcome.state,
            outcome.msg_class or "-",
            outcome.message_id or "-",
            outcome.community_id or "-",
            outcome.post_id or "-",
            outcome.reason,
        )
    return batch


def drain(ctx: Context, limit: int = 100) -> Batch:
    """Process until the spool has nothing new (for the CLI and tests)."""
    total = Batch()
    while True:
        batch = process_batch(ctx, limit)
        if not batch.outcomes:
            return total
        total.outcomes.update(batch.outcomes)
