"""A community's published posts as an mboxrd file: a conversation, a month (UTC, by when
the post arrived, like the portal's month pages) or everything, oldest first.

Only what the portal shows goes in: approved and imported posts, never a held, rejected or
discarded one, nor a news or event submission. Posts are read in batches, each in its own
short session, and written as they are read, so a year of a busy community streams to a
browser or a file in flat memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from mailhub.addresses import Kind
from mailhub.context import Context
from mailhub.exports import mboxrd
from mailhub.exports.postmail import FileReader, Sender, rebuilt
from mailhub.models import Attachment, Community, InboundMessage, Person, Post
from mailhub.portal import links
from mailhub.portal.queries import author_of, published
from mailhub.portal.web import hide_addresses

BATCH = 200


@dataclass(frozen=True)
class Selection:
    """Which posts of a community: one thread's, a month's, or all of them."""

    community_id: int
    thread_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None


def post_ids(session: Session, selection: Selection) -> list[int]:
    """The selected published posts' ids, oldest first. A thread's posts are its
    community's: naming the community as well could make SQLite walk the whole
    community's posts (by a community index) instead of the thread's."""
    query = select(Post.id).where(*published())
    if selection.thread_id is not None:
        query = query.where(Post.thread_id == selection.thread_id)
    else:
        query = query.where(Post.community_id == selection.community_id)
    if selection.since is not None and selection.until is not None:
        query = query.where(Post.received_at >= selection.since, Post.received_at < selection.until)
    query = query.order_by(col(Post.received_at), col(Post.id))
    return [i for i in session.exec(query) if i is not None]


class MboxWriter:
    """Writes posts of one community as mboxrd entries: ``as_received`` (admins) keeps the
    original bytes and addresses; otherwise the archive's view, with addresses hidden."""

    def __init__(
        self, ctx: Context, community: Community, read: FileReader, *, as_received: bool
    ) -> None:
        self.ctx = ctx
        self.community = community
        self.read = read
        self.as_received = as_received
        # Archived-At is written when the community has a web archive at a known address.
        has_archive = links.archive_url(ctx.settings, community) is not None
        self.base = links.base_url(ctx.settings) if has_archive else None

    def chunks(self, ids: list[int]) -> Iterator[bytes]:
        """The mbox, a batch of posts at a time."""
        for start in range(0, len(ids), BATCH):
            with self.ctx.session() as session:
                yield b"".join(self._entries(session, ids[start : start + BATCH]))

    def _entries(self, session: Session, ids: list[int]) -> Iterator[bytes]:
        rows = session.exec(
            select(Post, Person)
            .outerjoin(Person, col(Person.id) == col(Post.person_id))
            .where(col(Post.id).in_(ids))
            .order_by(col(Post.received_at), col(Post.id))
        ).all()
        files: dict[int, list[Attachment]] = {}
        for item in session.exec(
            select(Attachment).where(col(Attachment.post_id).in_(ids)).order_by(col(Attachment.id))
        ):
            files.setdefault(item.post_id, []).append(item)
        raws = self._raws(session, [p.inbound_id for p, _ in rows if p.inbound_id])
        parent_ids = {p.parent_id for p, _ in rows if p.parent_id}
        parents = dict(
            session.exec(select(Post.id, Post.message_id).where(col(Post.id).in_(parent_ids))).all()
        )
        list_address = self.ctx.address_book(session).address(self.community.slug, Kind.POST)
        for post, person in rows:
            raw = raws.get(post.inbound_id or 0)
            if raw:
                yield mboxrd.entry(raw, post.author_email, post.received_at)
                continue
            parent = parents.get(post.parent_id) if post.parent_id else None
            message = self._rebuilt(post, person, list_address, files.get(post.id or 0, []), parent)
            yield mboxrd.entry(
                message,
                post.author_email if self.as_received else list_address,
                post.received_at,
            )

    def _raws(self, session: Session, inbound_ids: list[int]) -> dict[int, bytes]:
        if not self.as_received or not inbound_ids:
            return {}
        query = select(InboundMessage.id, InboundMessage.raw).where(
            col(InboundMessage.id).in_(inbound_ids)
        )
        return {i: raw for i, raw in session.exec(query) if i is not None}

    def _rebuilt(
        self,
        post: Post,
        person: Person | None,
        list_address: str,
        attachments: list[Attachment],
        parent: str | None,
    ) -> bytes:
        text = post.full_text or post.body_text
        if self.as_received:
            sender = Sender(post.author_name, post.author_email or list_address)
        else:
            sender = Sender(author_of(post, person).name, list_address)
            text = hide_addresses(text)
        path = links.post_path(self.community.slug, post.thread_id, post.id)
        archived = self.base + path if self.base else None
        return rebuilt(post, sender, list_address, text, attachments, self.read, archived, parent)
