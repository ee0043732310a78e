"""`mailhub import mbox`: bring an archive (Mailman, Google Groups, ...) into a community.

Posts are stored as approved archive posts and nothing is sent. Threads come from the
messages' own Message-ID, In-Reply-To and References (the JWZ algorithm, without merging by
subject: an archive's headers are the record). Two passes over the file keep memory flat:
the first reads only headers to build the threads, the second parses and stores messages in
batches. Importing the same file again changes nothing.
"""

from __future__ import annotations

import mailbox
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email import policy
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.engine import Connection

from mailhub.communities import get_community
from mailhub.context import Context
from mailhub.errors import InvalidInput
from mailhub.exports.mboxrd import unquote
from mailhub.inbound.parse import UnparseableMessage, derive_message_id, parse_message
from mailhub.inbound.pipeline import POSTS, _people
from mailhub.inbound.trim import trim_reply
from mailhub.models import Community, PostStatus, Thread, table_of
from mailhub.search.queue import mark
from mailhub.threads.jwz import ThreadMessage, build_threads, thread_key, thread_message_from_email

THREADS = table_of(Thread)
BATCH = 200


@dataclass
class MboxReport:
    messages: int = 0
    imported: int = 0
    already_there: int = 0
    unreadable: int = 0
    threads: int = 0


def _messages(path: Path) -> Iterator[bytes]:
    box = mailbox.mbox(path, create=False)
    try:
        for key in box.iterkeys():
            yield box.get_bytes(key)
    finally:
        box.close()


def _thread_input(raw: bytes, domain: str) -> ThreadMessage:
    headers = BytesHeaderParser(policy=policy.compat32).parsebytes(raw)
    return thread_message_from_email(headers, fallback_id=derive_message_id(raw, domain))


def plan_threads(path: Path, domain: str) -> tuple[dict[str, str], dict[str, str], int]:
    """First pass: each message's thread key and parent id, from headers alone."""
    inputs: dict[str, ThreadMessage] = {}
    count = 0
    for raw in _messages(path):
        count += 1
        item = _thread_input(raw, domain)
        inputs.setdefault(item.message_id, item)
    roots = build_threads(inputs.values(), group_by_subject=False)
    keys: dict[str, str] = {}
    parents: dict[str, str] = {}
    for root in roots:
        key = thread_key(root)
        for node in root.walk():
            if node.message is None:
                continue
            keys[node.message_id] = key
            if node.parent is not None and node.parent.message is not None:
                parents[node.message_id] = node.parent.message_id
    return keys, parents, count


class Importer:
    """Second pass: store posts and threads batch by batch."""

    def __init__(self, ctx: Context, community: Community, keys: dict[str, str]) -> None:
        self.ctx = ctx
        self.community = community
        self.keys = keys
        self.post_ids: dict[str, int] = {}
        self.thread_ids: dict[str, int] = {}

    def store(self, connection: Connection, raws: list[bytes], report: MboxReport) -> None:
        parsed_rows = []
        for raw in raws:
            try:
                # Lines an mbox writer quoted (">From ") are given back as the sender wrote them.
                parsed = parse_message(unquote(raw))
            except UnparseableMessage:
                report.unreadable += 1
                continue
            own = _thread_input(raw, self.ctx.settings.instance.domain).message_id
            parsed_rows.append((own, parsed))
        wanted = [mid for mid, _ in parsed_rows if mid not in self.post_ids]
        self.post_ids.update(self._existing(connection, wanted))
        people = _people(connection, {p.from_address for _, p in parsed_rows})
        rows: list[dict[str, Any]] = []
        in_batch: set[str] = set()
        for message_id, parsed in parsed_rows:
            if message_id in self.post_ids or message_id in in_batch:
                report.already_there += 1
                continue
            in_batch.add(message_id)
            person = people.get(parsed.from_address or "")
            rows.append(
                {
                    "community_id": self.community.id,
                    "thread_id": self._thread(connection, message_id, parsed.subject, parsed.date),
                    "person_id": person[0] if person else None,
                    "message_id": message_id,
                    "in_reply_to": parsed.in_reply_to[-1] if parsed.in_reply_to else None,
                    "references": list(parsed.references),
                    "kind": "post",
                    "author_email": parsed.from_address or "",
                    "author_name": parsed.from_name,
                    "subject": parsed.subject,
                    "status": PostStatus.ARCHIVED.value,
                    "reason": "imported from an archive",
                    "body_text": trim_reply(
                        parsed.text, parsed.from_name or parsed.from_address or ""
                    ).text,
                    "full_text": parsed.text,
                    "html": parsed.html,
                    "sent_at": parsed.date,
                    "received_at": self.ctx.now(),
                }
            )
        if rows:
            statement = insert(POSTS).returning(POSTS.c.id, sort_by_parameter_order=True)
            ids = [r[0] for r in connection.execute(statement, rows)]
            mark(connection, "post", ids)
            self.post_ids.update(
                {row["message_id"]: pid for row, pid in zip(rows, ids, strict=True)}
            )
            report.imported += len(rows)

    def _existing(self, connection: Connection, message_ids: list[str]) -> dict[str, int]:
        if not message_ids:
            return {}
        query = select(POSTS.c.message_id, POSTS.c.id).where(
            POSTS.c.community_id == self.community.id, POSTS.c.message_id.in_(message_ids)
        )
        return dict(connection.execute(query).all())

    def _thread(self, connection: Connection, message_id: str, subject: str, date: Any) -> int:
        key = self.keys.get(message_id, message_id)
        if key in self.thread_ids:
            return self.thread_ids[key]
        query = select(THREADS.c.id).where(
            THREADS.c.community_id == self.community.id, THREADS.c.root_message_id == key
        )
        found = connection.execute(query).scalar()
        if found is None:
            when = date or self.ctx.now()
            found = connection.execute(
                insert(THREADS).returning(THREADS.c.id),
                {
                    "community_id": self.community.id,
                    "subject": subject,
                    "normalised_subject": "",
                    "root_message_id": key,
                    "post_count": 0,
                    "created_at": when,
                    "last_activity_at": when,
                },
            ).scalar_one()
        self.thread_ids[key] = found
        return found

    def link_parents(self, connection: Connection, parents: dict[str, str]) -> None:
        links = [
            {"child": self.post_ids[child], "parent": self.post_ids[parent]}
            for child, parent in parents.items()
            if child in self.post_ids and parent in self.post_ids
        ]
        if links:
            statement = (
                update(POSTS)
                .where(POSTS.c.id == bindparam("child"))
                .values(parent_id=bindparam("parent"))
            )
            connection.execute(statement, links)

    def count_threads(self, connection: Connection) -> None:
        for thread_id in self.thread_ids.values():
            posts = select(func.count(), func.max(POSTS.c.sent_at)).where(
                POSTS.c.thread_id == thread_id
            )
            count, last = connection.execute(posts).one()
            values: dict[str, Any] = {"post_count": count}
            if last is not None:
                values["last_activity_at"] = last
            connection.execute(update(THREADS).where(THREADS.c.id == thread_id).values(**values))


def import_mbox(
    ctx: Context, slug: str, path: Path, progress: Callable[[int, int], None] | None = None
) -> MboxReport:
    """Import ``path`` into community ``slug``; ``progress(done, total)`` is called per batch."""
    if not path.is_file():
        raise InvalidInput(f"{path}: no such file")
    with ctx.session() as session:
        community = get_community(session, slug)
    keys, parents, total = plan_threads(path, ctx.settings.instance.domain)
    report = MboxReport(messages=total)
    importer = Importer(ctx, community, keys)
    batch: list[bytes] = []
    done = 0
    for raw in _messages(path):
        batch.append(raw)
        if len(batch) >= BATCH:
            with ctx.engine.begin() as connection:
                importer.store(connection, batch, report)
            done += len(batch)
            batch = []
            if progress:
                progress(done, total)
    with ctx.engine.begin() as connection:
        if batch:
            importer.store(connection, batch, report)
        importer.link_parents(connection, parents)
        importer.count_threads(connection)
    if progress:
        progress(total, total)
    report.threads = len(set(keys.values()))
    return report
