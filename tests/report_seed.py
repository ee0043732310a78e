"""A community with known participation figures for February 2026 (UTC), for the report
tests: every number those tests assert is worked out by hand in test_reports.py from what
is seeded here, including what must not count (a held and a rejected post, a post after the
period, a January thread's start, a member who joined after the period, a failed digest).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session

from mailhub.communities import get_community, update_community
from mailhub.context import Context
from mailhub.members import MemberFields, add_member
from mailhub.models import (
    Community,
    Discussion,
    InboundMessage,
    NewsItem,
    OutboundMessage,
    Post,
    Resource,
    Thread,
)

SINCE = datetime(2026, 2, 1, tzinfo=UTC)
UNTIL = datetime(2026, 3, 1, tzinfo=UTC)
TARGET_MIX = "government=20 workers=20 employers=20 staff=25"
MODERATOR = "s1@example.org"

# name: affiliation, country, joined (2026, month, day), role, status
PEOPLE: dict[str, tuple[str, str | None, tuple[int, int], str, str]] = {
    "g1": ("government", "TH", (1, 10), "member", "active"),
    "g2": ("government", "TH", (1, 10), "member", "active"),
    "g3": ("government", "VN", (1, 10), "member", "active"),
    "w1": ("workers", "TH", (1, 10), "member", "active"),
    "w2": ("workers", "ID", (2, 5), "member", "active"),
    "e1": ("employers", "VN", (2, 10), "member", "active"),
    "s1": ("staff", "CH", (1, 10), "moderator", "active"),
    "a1": ("academic", None, (2, 15), "member", "active"),
    "u1": ("workers", "TH", (1, 5), "member", "unsubscribed"),
    "late": ("government", "ID", (3, 1), "member", "active"),
}


def at(month: int, day: int, hour: int = 9) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


@dataclass
class Seeded:
    people: dict[str, int] = field(default_factory=dict)
    threads: dict[str, int] = field(default_factory=dict)
    discussion: int = 0


class Builder:
    def __init__(self, session: Session, community: Community) -> None:
        self.session, self.community, self.seeded = session, community, Seeded()
        self.count = 0

    def people(self) -> None:
        for name, (affiliation, country, (month, day), role, status) in PEOPLE.items():
            fields = MemberFields(
                email=f"{name}@example.org", name=name.upper(), affiliation=affiliation,
                country=country, role=role,
            )  # fmt: skip
            joined = at(month, day, 10)
            person, membership = add_member(self.session, self.community, fields, joined)
            membership.status = status
            membership.updated_at = at(2, 20) if status == "unsubscribed" else joined
            self.session.add(membership)
            self.seeded.people[name] = person.id or 0

    def thread(self, name: str, themes: list[str], **values: Any) -> Thread:
        thread = Thread(
            community_id=self.community.id or 0, subject=name, normalised_subject=name,
            themes=themes, created_at=SINCE, last_activity_at=SINCE, **values,
        )  # fmt: skip
        self.session.add(thread)
        self.session.flush()
        self.seeded.threads[name] = thread.id or 0
        return thread

    def post(self, thread: Thread, who: str | None, when: datetime, **values: Any) -> None:
        self.count += 1
        email = f"{who}@example.org" if who else "outsider@example.net"
        self.session.add(
            Post(
                community_id=thread.community_id,
                thread_id=thread.id,
                message_id=f"r{self.count}@example.org",
                author_email=email,
                person_id=self.seeded.people[who] if who else None,
                received_at=when,
                **{"status": "approved", **values},
            )
        )


def _conversations(b: Builder) -> None:
    t1 = b.thread("T1", ["skills"])
    b.post(t1, "g1", at(2, 2, 10))
    b.post(t1, "w1", at(2, 2, 13))
    b.post(t1, "g2", at(2, 3, 10))
    b.post(t1, None, at(2, 7, 10))
    b.post(t1, "g1", at(2, 8, 10))
    b.post(t1, "g2", datetime(2026, 3, 1, 8, tzinfo=UTC))  # after the period
    t2 = b.thread("T2", ["skills", "green-jobs"])
    b.post(t2, "w1", at(2, 4, 9))
    b.post(t2, "g1", at(2, 4, 15))
    b.post(t2, "e1", at(2, 11, 9))
    t3 = b.thread("T3", [])
    b.post(t3, "a1", at(2, 16, 8))
    b.post(t3, "w2", at(2, 16, 9), status="rejected")
    t4 = b.thread("T4", ["green-jobs"])
    b.post(t4, "g1", at(2, 20, 12))
    b.post(t4, "w1", at(2, 21, 12), status="held")
    t5 = b.thread("T5", ["skills"])
    b.post(t5, "g3", at(1, 20, 10))  # started before the period
    b.post(t5, "g1", at(2, 6, 10))


def _discussions(b: Builder) -> None:
    s = b.session
    cid = b.community.id or 0
    held = Discussion(
        community_id=cid, title="Minimum wages", question="?", state="summarised",
        opens_at=at(2, 9), opened_at=at(2, 9), closes_at=at(2, 16), closed_at=at(2, 16),
        synopsis="S", synopsis_at=at(2, 19, 21), synopsis_version=1, created_at=at(2, 1),
    )  # fmt: skip
    earlier = Discussion(
        community_id=cid, title="January", question="?", state="closed",
        opened_at=at(1, 11), closed_at=at(1, 25), created_at=at(1, 10),
    )  # fmt: skip
    draft = Discussion(community_id=cid, title="Draft", question="?", created_at=at(2, 1))
    running = Discussion(
        community_id=cid, title="Green skills", question="?", state="open",
        opened_at=at(2, 25), created_at=at(2, 20),
    )  # fmt: skip
    s.add_all([held, earlier, draft, running])
    s.flush()
    b.seeded.discussion = held.id or 0
    td = b.thread("TD", [], discussion_id=held.id)
    b.post(td, "s1", at(2, 9), kind="discussion")
    b.post(td, "g2", at(2, 10))
    b.post(td, "w1", at(2, 11))


def _library(b: Builder) -> None:
    cid, people = b.community.id or 0, b.seeded.people
    for title, who, when, themes, country in (
        ("R1", "g1", at(2, 5), ["skills"], "VN"),
        ("R2", "w1", at(2, 12), ["green-jobs"], "TH"),
        ("R3", "g1", at(2, 13), [], None),
        ("R4", None, at(2, 14), ["skills"], None),
        ("R5", "g1", at(1, 15), [], None),
    ):
        added_by = people[who] if who else None
        b.session.add(
            Resource(
                community_id=cid,
                title=title,
                url="https://example.org/r",
                themes=themes,
                country=country,
                added_by=added_by,
                created_at=when,
            )
        )
    for title, who, when, status in (
        ("N1", "e1", at(2, 3), "approved"),
        ("N2", None, at(2, 17), "approved"),
        ("N3", "g2", at(2, 18), "held"),
    ):
        b.session.add(
            NewsItem(
                community_id=cid,
                title=title,
                person_id=people[who] if who else None,
                status=status,
                created_at=when,
            )
        )


def _reach(b: Builder) -> None:
    cid = b.community.id or 0
    for number, (kind, state, when) in enumerate(
        [
            ("digest", "sent", at(2, 10)),
            ("digest", "sent", at(2, 10)),
            ("digest", "sent", at(3, 2)),
            ("digest", "failed", None),
            ("newsletter", "sent", at(2, 15)),
            ("newsletter", "sent", at(2, 15)),
            ("newsletter", "sent", at(2, 15)),
        ]
    ):
        b.session.add(
            OutboundMessage(
                dedup_key=f"seed:{number}",
                kind=kind,
                community_id=cid,
                recipient="x@example.org",
                envelope_from="irnet@lists.example.org",
                raw=b"x",
                state=state,
                next_attempt_at=at(2, 10),
                created_at=at(2, 10),
                sent_at=when,
            )
        )
    for number, when in enumerate([at(2, 12), at(2, 12), at(1, 30)]):
        b.session.add(
            InboundMessage(
                source="smtp",
                raw=b"x",
                sha256=f"bounce{number}",
                community_id=cid,
                msg_class="bounce",
                state="done",
                received_at=when,
            )
        )


def seed_reports(ctx: Context, slug: str = "irnet") -> Seeded:
    """The February world in community ``slug``, with its target mix set."""
    with ctx.session() as session:
        community = get_community(session, slug)
        update_community(session, community, {"target_mix": TARGET_MIX})
        builder = Builder(session, community)
        builder.people()
        _conversations(builder)
        _discussions(builder)
        _library(builder)
        _reach(builder)
        return builder.seeded
