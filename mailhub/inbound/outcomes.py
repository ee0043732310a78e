"""What the pipeline hands between its steps, and what a route for one address kind gets."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import Session

from mailhub.addresses import Destination
from mailhub.context import Context
from mailhub.inbound.parse import ParsedMessage
from mailhub.inbound.recipients import Recipient
from mailhub.inbound.spool import SpoolRow
from mailhub.models import Community


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


@dataclass(frozen=True)
class DigestReply:
    """A reply to a whole digest: the item it was matched to (its post), or else why it must
    wait for a moderator whatever the rules say, and the note owed to its sender."""

    parent_id: int | None = None
    hold_reason: str | None = None
    note: str | None = None


@dataclass
class Prepared:
    """A row after the CPU-bound steps; `outcome` is set when no write beyond the spool is due."""

    row: SpoolRow
    outcome: Outcome | None = None
    parsed: ParsedMessage | None = None
    message_id: str = ""
    community: Community | None = None
    destination: Destination | None = None
    body_text: str = ""
    msg_class: str | None = None  # set for machine mail that a class route acts on
    # What the digest-reply step made of a reply to a whole digest (digest/replies.py).
    digest_reply: DigestReply | None = None
    # Every destination when the message has more than one: the row is split (recipients.py).
    split: list[Recipient] | None = None


@dataclass
class Incoming:
    """A message for a route (commands, decisions, ...): the parsed mail, where it was sent,
    and the open write transaction to act in."""

    ctx: Context
    session: Session
    item: Prepared

    @property
    def parsed(self) -> ParsedMessage:
        assert self.item.parsed is not None
        return self.item.parsed

    @property
    def community(self) -> Community:
        assert self.item.community is not None
        return self.item.community

    @property
    def destination(self) -> Destination:
        assert self.item.destination is not None
        return self.item.destination

    def outcome(self, msg_class: str, reason: str, state: str = "done") -> Outcome:
        community = self.item.community
        return Outcome(
            state, msg_class, reason, self.item.message_id, community.id if community else None
        )
