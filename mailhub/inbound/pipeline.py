"""The processing worker: spool rows in, posts and classified messages out.

Each row goes through the steps of DESIGN.md in order — parse, find the destination,
classify, identify the sender, extract and trim the body, keep attachments — and ends in one
`Outcome`. A message that cannot be understood is quarantined with the reason; nothing is
dropped silently. A batch is one transaction; if it fails, each row is retried alone so one
bad message cannot hold back the others, and a row that still fails is marked failed with
the error for `mailhub inbound retry`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, select

from mailhub.addresses import AddressBook, Destination, Kind
from mailhub.context import Context
from mailhub.inbound import attachments, spool
from mailhub.inbound.classify import classify
from mailhub.inbound.parse import (
    ParsedMessage,
    UnparseableMessage,
    derive_message_id,
    parse_message,
)
from mailhub.inbound.spool import SpoolRow
from mailhub.inbound.trim import trim_reply
from mailhub.models import (
    Attachment,
    Community,
    InboundMessage,
    InboundState,
    Membership,
    Person,
    Post,
    PostStatus,
)

log = logging.getLogger("mailhub.pipeline")
TABLE = InboundMessage.__table__
LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 5

# Destination kinds whose messages later steps act on; here they are stored with their class.
DEFERRED_CLASSES = {
    Kind.REQUEST: "command",
    Kind.UNSUBSCRIBE: "command",
    Kind.MODERATION: "decision",
    Kind.SYNOPSIS: "synopsis",
    Kind.CONFIRM: "confirmation",
    Kind.NEWS: "news",
    Kind.EVENTS: "event",
}
NOT_FOR_PEOPLE = {"bounce", "delay_warning", "feedback_report", "auto_reply", "loop"}
HEADER_RECIPIENTS = ("delivered-to", "x-original-to", "to", "cc")


@dataclass
class Outcome:
    """Where one spool row ended."""

    state: str
    msg_class: str | None
    reason: str
    message_id: str | None = None
    community_id: int | None = None
    post_id: int | None = None


@dataclass
class Batch:
    """What one pass of the worker did."""

    outcomes: dict[int, Outcome] = field(default_factory=dict)

    def count(self, msg_class: str) -> int:
        return sum(1 for o in self.outcomes.values() if o.msg_class == msg_class)


def list_id(community: Community, domain: str) -> str:
    return f"{community.local_part}.{domain}"


def loop_marker(domain: str) -> str:
    return f"mailhub@{domain}"


class Pipeline:
    """Turns claimed spool rows into outcomes inside the caller's session."""

    def __init__(self, ctx: Context, session: Session) -> None:
        self.ctx = ctx
        self.session = session
        self.domain = ctx.settings.instance.domain
        self.book: AddressBook = ctx.address_book(session)
        self.communities = {c.slug: c for c in session.exec(select(Community))}
        self.list_ids = [list_id(c, self.domain) for c in self.communities.values()]
        self.attachment_root = ctx.settings.data_dir / "attachments"

    def destination(self, row: SpoolRow, parsed: ParsedMessage) -> Destination | None:
        """The envelope recipient decides; mail fetched from a mailbox may only have headers."""
        for address in row.rcpt_to:
            found = self.book.resolve(address)
            if found is not None:
                return found
        for name in HEADER_RECIPIENTS:
            for address in _addresses(parsed, name):
                found = self.book.resolve(address)
                if found is not None:
                    return found
        return None

    def process(self, row: SpoolRow) -> Outcome:
        try:
            parsed = parse_message(row.raw)
        except UnparseableMessage as exc:
            return Outcome(InboundState.QUARANTINED.value, None, f"cannot be parsed: {exc}")
        message_id = parsed.message_id or derive_message_id(row.raw, self.domain)
        destination = self.destination(row, parsed)
        if destination is None:
            reason = "no recipient address of this instance in the envelope or headers"
            return Outcome(InboundState.QUARANTINED.value, None, reason, message_id)
        community = self.communities[destination.community]
        found = classify(
            parsed, our_list_ids=self.list_ids, our_loop_marker=loop_marker(self.domain)
        )
        kind = "bounce" if destination.kind is Kind.BOUNCE else found.kind
        done = InboundState.DONE.value
        if kind in NOT_FOR_PEOPLE:
            return Outcome(done, kind, found.reason, message_id, community.id)
        if destination.kind in DEFERRED_CLASSES:
            msg_class = DEFERRED_CLASSES[destination.kind]
            return Outcome(done, msg_class, f"{msg_class} stored", message_id, community.id)
        return self.post(row, parsed, message_id, community, destination)

    def post(
        self,
        row: SpoolRow,
        parsed: ParsedMessage,
        message_id: str,
        community: Community,
        destination: Destination,
    ) -> Outcome:
        """Store a post (held for moderation); one Message-ID in one community is one post."""
        done = InboundState.DONE.value
        existing = self.session.exec(
            select(Post.id).where(Post.community_id == community.id, Post.message_id == message_id)
        ).first()
        if existing is not None:
            reason = f"duplicate of post #{existing}"
            return Outcome(done, "duplicate", reason, message_id, community.id, existing)
        person, membership = self.sender(community, parsed.from_address)
        trimmed = trim_reply(parsed.text)
        reasons = ["awaiting moderation"]
        if person is None:
            reasons.append(f"sender {parsed.from_address or '(none)'} is not a member")
        now = self.ctx.now()
        post = Post(
            community_id=community.id,
            inbound_id=row.id,
            person_id=person.id if person else None,
            message_id=message_id,
            in_reply_to=parsed.in_reply_to[-1] if parsed.in_reply_to else None,
            references=list(parsed.references),
            kind="reply" if destination.kind is Kind.REPLY else "post",
            author_email=parsed.from_address or row.mail_from,
            author_name=parsed.from_name or (person.name if person else ""),
            subject=parsed.subject,
            status=PostStatus.HELD.value,
            body_text=trimmed.text,
            full_text=parsed.text,
            html=parsed.html,
            sent_at=parsed.date,
            received_at=now,
        )
        self.session.add(post)
        self.session.flush()
        reasons.extend(self.keep_attachments(post, parsed))
        post.reason = "; ".join(reasons)
        _ = membership
        return Outcome(done, "post", post.reason, message_id, community.id, post.id)

    def sender(
        self, community: Community, address: str | None
    ) -> tuple[Person | None, Membership | None]:
        if not address:
            return None, None
        person = self.session.exec(select(Person).where(Person.email == address.lower())).first()
        if person is None:
            return None, None
        membership = self.session.exec(
            select(Membership).where(
                Membership.community_id == community.id, Membership.person_id == person.id
            )
        ).first()
        return person, membership

    def keep_attachments(self, post: Post, parsed: ParsedMessage) -> list[str]:
        """Store each attachment by content; return the reasons a moderator should look."""
        concerns = []
        for item in parsed.attachments:
            attachments.save(self.attachment_root, item.sha256, item.data)
            self.session.add(
                Attachment(
                    post_id=post.id,
                    filename=item.filename or "attachment",
                    content_type=item.content_type,
                    size=len(item.data),
                    sha256=item.sha256,
                )
            )
            concern = attachments.refusal(
                self.ctx.settings.inbound, item.filename, item.content_type, len(item.data)
            )
            if concern:
                concerns.append(concern)
        return concerns


def _addresses(parsed: ParsedMessage, header: str) -> list[str]:
    if header == "to":
        return parsed.to
    if header == "cc":
        return parsed.cc
    value = parsed.headers.get(header, "")
    return [value.strip().strip("<>")] if value else []


def _record(session: Session, row_id: int, outcome: Outcome, now: datetime) -> None:
    session.connection().execute(
        update(TABLE)
        .where(TABLE.c.id == row_id)
        .values(
            state=outcome.state,
            msg_class=outcome.msg_class,
            error=outcome.reason,
            message_id=outcome.message_id,
            community_id=outcome.community_id,
            post_id=outcome.post_id,
            lease_until=None,
            processed_at=now.replace(tzinfo=None),
        )
    )


def _process_rows(ctx: Context, rows: list[SpoolRow]) -> dict[int, Outcome]:
    with ctx.session() as session:
        pipeline = Pipeline(ctx, session)
        outcomes = {}
        for row in rows:
            outcome = pipeline.process(row)
            _record(session, row.id, outcome, ctx.now())
            outcomes[row.id] = outcome
        return outcomes


def _fail(ctx: Context, row: SpoolRow, error: Exception) -> Outcome:
    """A row that breaks processing waits for a person (or a retry) with the error."""
    state = InboundState.FAILED.value if row.attempts >= MAX_ATTEMPTS else InboundState.NEW.value
    reason = f"processing error: {type(error).__name__}: {error}"[:2000]
    outcome = Outcome(state, None, reason)
    with ctx.session() as session:
        _record(session, row.id, outcome, ctx.now())
    log.error("spool #%s: %s", row.id, reason)
    return outcome


def process_batch(ctx: Context, limit: int = 100) -> Batch:
    """Claim and process up to ``limit`` spool rows; return what became of each."""
    with ctx.engine.begin() as connection:
        rows = spool.claim(connection, ctx.now(), LEASE, limit)
    batch = Batch()
    if not rows:
        return batch
    try:
        batch.outcomes = _process_rows(ctx, rows)
    except Exception:
        # Find the row at fault: each alone, in its own transaction.
        for row in rows:
            try:
                batch.outcomes.update(_process_rows(ctx, [row]))
            except Exception as exc:
                batch.outcomes[row.id] = _fail(ctx, row, exc)
    for row_id, outcome in batch.outcomes.items():
        log.info(
            "spool #%s: %s %s (%s)", row_id, outcome.state, outcome.msg_class or "-", outcome.reason
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
