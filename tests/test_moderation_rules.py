"""The moderation table (`rules.CHAIN`), rule by rule and as a whole: each row of the table
below is the facts of one post and the verdict the table must reach, with every hold
reason collected."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from mailhub.models import Community, Discussion, Membership, Person, Post
from mailhub.moderation.rules import CHAIN, DEFAULT, Action, Facts, decide

NOW = datetime(2026, 3, 2, tzinfo=UTC)


def facts(
    *,
    status: str | None = "active",
    moderated: bool = False,
    policy: str = "none",
    nonmember: str = "hold",
    kind: str = "post",
    discussion: str | None = None,
    size: int = 100,
    concerns: tuple[str, ...] = (),
    approved_before: int = 3,
    digest: str | None = None,
    subject: str = "Wage councils",
    body: str = "How do your wage councils work?",
) -> Facts:
    community = Community(
        slug="irnet",
        name="IRNet",
        local_part="irnet",
        moderation=policy,
        nonmember_policy=nonmember,
        created_at=NOW,
    )
    post = Post(
        community_id=1,
        message_id="m@example.org",
        author_email="amina@example.org",
        kind=kind,
        received_at=NOW,
        subject=subject,
        body_text=body,
    )
    membership = None
    if status is not None:
        membership = Membership(
            community_id=1,
            person_id=1,
            status=status,
            moderated=moderated,
            joined_at=NOW,
            updated_at=NOW,
        )
    talk = None
    if discussion is not None:
        talk = Discussion(
            community_id=1, title="Wages", question="?", state=discussion, created_at=NOW
        )
    return Facts(
        community=community,
        post=post,
        person=Person(email="amina@example.org", created_at=NOW),
        membership=membership,
        approved_before=approved_before,
        size=size,
        max_size=1000,
        discussion=talk,
        attachment_concerns=list(concerns),
        unmatched_digest_reply=digest,
    )


CASES: list[tuple[str, dict[str, Any], Action, str, str | None]] = [
    # name, facts, action, rules that spoke, notice owed to the sender
    ("a member, open community", {}, Action.ACCEPT, DEFAULT, None),
    ("every post reviewed", {"policy": "all"}, Action.HOLD, DEFAULT, None),
    ("banned", {"status": "banned", "size": 5000}, Action.DISCARD, "banned sender", None),
    ("non-member held", {"status": None}, Action.HOLD, "non-member", None),
    ("non-member rejected", {"status": None, "nonmember": "reject"}, Action.REJECT,
     "non-member", "nonmember"),
    ("non-member discarded", {"status": None, "nonmember": "discard"}, Action.DISCARD,
     "non-member", None),
    ("unsubscribed is a non-member", {"status": "unsubscribed"}, Action.HOLD, "non-member",
     None),
    ("moderated member", {"moderated": True}, Action.HOLD, "moderated member", None),
    ("late contribution", {"discussion": "closed"}, Action.HOLD, "closed discussion", "late"),
    ("open discussion", {"discussion": "open"}, Action.ACCEPT, DEFAULT, None),
    ("a news submission", {"kind": "news"}, Action.HOLD, "submission", None),
    ("an event submission", {"kind": "event"}, Action.HOLD, "submission", None),
    ("whole-digest reply", {"digest": "reply to a whole digest"}, Action.HOLD, "digest reply",
     None),
    ("unsubscribe to the list", {"subject": "Re: [IRNet] unsubscribe", "body": ""},
     Action.HOLD, "membership command", "command-to-list"),
    ("a first line asking", {"subject": "Re: [IRNet] Wages", "body": "Please remove me."},
     Action.HOLD, "membership command", "command-to-list"),
    ("a post about help", {"subject": "Help", "body": "Who has data on\nwages\nin\nTH?"},
     Action.ACCEPT, DEFAULT, None),
    ("a post asking for help", {"subject": "Help needed: wage data", "body": "Anyone?"},
     Action.ACCEPT, DEFAULT, None),
    ("a news item called Help", {"kind": "news", "subject": "help"}, Action.HOLD, "submission",
     None),
    ("too large", {"size": 5000}, Action.HOLD, "too large", None),
    ("attachment", {"concerns": ("x.exe: not allowed",)}, Action.HOLD,
     "attachment not allowed", None),
    ("first post", {"policy": "first-post", "approved_before": 0}, Action.HOLD, "first post",
     None),
    ("later post", {"policy": "first-post", "approved_before": 2}, Action.ACCEPT, DEFAULT, None),
    ("every hold reason collected",
     {"moderated": True, "size": 5000, "concerns": ("x.exe: not allowed",), "policy": "all"},
     Action.HOLD, "moderated member, too large, attachment not allowed", None),
    ("a refusal beats the holds", {"status": None, "nonmember": "reject", "size": 5000},
     Action.REJECT, "non-member", "nonmember"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "given", "action", "rules", "notice"), CASES, ids=[c[0] for c in CASES]
)
def test_the_table(
    name: str, given: dict[str, Any], action: Action, rules: str, notice: str | None
) -> None:
    verdict = decide(facts(**given))
    assert (verdict.action, verdict.rule, verdict.tell_sender) == (action, rules, notice)
    assert verdict.reason and verdict.reason.count(";") == rules.count(",")


def test_every_rule_of_the_table_is_exercised_above() -> None:
    spoken = {rule for case in CASES for rule in case[3].split(", ")}
    assert spoken == {name for name, _ in CHAIN}
