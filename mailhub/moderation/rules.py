"""The moderation policy: one ordered table of small rules, for posts and submissions alike.

Each rule looks at the facts of one post (gathered once per batch, `facts.py`) and either
says nothing (None) or gives a verdict: accept, hold, reject or discard, with a reason a
person can read. The first rule that rejects or discards decides; a hold does not stop the
table, so the moderator sees every reason to look at a post (as GNU Mailman's chains
collect them); the community's policy speaks only when nothing else did. The table at the
bottom is the whole policy, in order.

Loops are not here: a mail carrying our own X-Loop is classified as a loop before it can
become a post (`inbound/classify.py`), so no post ever reaches these rules with one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from mailhub.models import SUBMISSION_KINDS, Community, Discussion, Membership, Person, Post
from mailhub.threads.subjects import normalise_subject


class Action(StrEnum):
    ACCEPT = "accept"
    HOLD = "hold"
    REJECT = "reject"
    DISCARD = "discard"


@dataclass(frozen=True)
class Verdict:
    action: Action
    reason: str
    rule: str = ""
    tell_sender: str | None = None  # name of the notice template owed to the sender, if any


@dataclass
class Facts:
    """What the rules may look at; gathered once per post."""

    community: Community
    post: Post
    person: Person | None
    membership: Membership | None
    approved_before: int
    size: int
    max_size: int
    discussion: Discussion | None = None
    attachment_concerns: list[str] = field(default_factory=list)
    # Why a reply to a whole digest could not be matched to one item (digest/replies.py).
    unmatched_digest_reply: str | None = None


Rule = Callable[[Facts], Verdict | None]


def banned_sender(facts: Facts) -> Verdict | None:
    if facts.membership is not None and facts.membership.status == "banned":
        return Verdict(Action.DISCARD, f"{facts.post.author_email} is banned from this community")
    return None


def non_member(facts: Facts) -> Verdict | None:
    if facts.membership is not None and facts.membership.status == "active":
        return None
    who = facts.post.author_email or "the sender"
    policy = facts.community.nonmember_policy
    if policy == "discard":
        return Verdict(Action.DISCARD, f"{who} is not a member")
    if policy == "reject":
        return Verdict(Action.REJECT, f"{who} is not a member", tell_sender="nonmember")
    return Verdict(Action.HOLD, f"{who} is not a member")


# A whole subject or line that asks to join, leave or change delivery: meant for the
# -request address, not for every member (GNU Mailman's "administrivia" check).
MEMBERSHIP_COMMAND = re.compile(
    r"(?:please\s+)?(?:un-?subscribe|subscribe|remove|sign-?off|leave|help|nomail|digest)"
    r"(?:\s+me)?(?:\s+(?:from\s+)?(?:this|the)\s+(?:list|group|network))?[\s.!]*",
    re.IGNORECASE,
)
# A message longer than this (lines of the sender's own text) is a post, whatever its subject.
COMMAND_MESSAGE_LINES = 3


def membership_command(facts: Facts) -> Verdict | None:
    post = facts.post
    if post.kind in SUBMISSION_KINDS:
        return None
    lines = [line.strip() for line in post.body_text.splitlines() if line.strip()]
    if len(lines) > COMMAND_MESSAGE_LINES:
        return None
    said = [normalise_subject(post.subject), *lines[:1]]
    if not any(MEMBERSHIP_COMMAND.fullmatch(text) for text in said if text):
        return None
    reason = "it looks like a membership command (subscribe, unsubscribe, help) sent to the list"
    return Verdict(Action.HOLD, reason, tell_sender="command-to-list")


def moderated_member(facts: Facts) -> Verdict | None:
    if facts.membership is not None and facts.membership.moderated:
        return Verdict(Action.HOLD, "the sender's posts are moderated")
    return None


def late_contribution(facts: Facts) -> Verdict | None:
    discussion = facts.discussion
    if discussion is not None and discussion.state in ("closed", "summarised"):
        reason = f"late contribution: the discussion \u201c{discussion.title}\u201d has closed"
        return Verdict(Action.HOLD, reason, tell_sender="late")
    return None


def submission(facts: Facts) -> Verdict | None:
    if facts.post.kind in SUBMISSION_KINDS:
        return Verdict(Action.HOLD, "news and events are reviewed before they are published")
    return None


def unmatched_digest_reply(facts: Facts) -> Verdict | None:
    if facts.unmatched_digest_reply:
        return Verdict(Action.HOLD, facts.unmatched_digest_reply)
    return None


def too_large(facts: Facts) -> Verdict | None:
    if facts.size > facts.max_size:
        return Verdict(
            Action.HOLD, f"the message is {facts.size:,} bytes (limit {facts.max_size:,})"
        )
    return None


def attachment_not_allowed(facts: Facts) -> Verdict | None:
    if facts.attachment_concerns:
        return Verdict(Action.HOLD, "; ".join(facts.attachment_concerns))
    return None


def first_post(facts: Facts) -> Verdict | None:
    if facts.community.moderation == "first-post" and facts.approved_before == 0:
        return Verdict(Action.HOLD, "the sender's first post to this community")
    return None


def community_policy(facts: Facts) -> Verdict:
    if facts.community.moderation == "all":
        return Verdict(Action.HOLD, "every post in this community is reviewed")
    return Verdict(Action.ACCEPT, f"the community's policy is '{facts.community.moderation}'")


DEFAULT = "community policy"
CHAIN: tuple[tuple[str, Rule], ...] = (
    ("banned sender", banned_sender),
    ("non-member", non_member),
    ("digest reply", unmatched_digest_reply),
    ("membership command", membership_command),
    ("moderated member", moderated_member),
    ("closed discussion", late_contribution),
    ("submission", submission),
    ("too large", too_large),
    ("attachment not allowed", attachment_not_allowed),
    ("first post", first_post),
    (DEFAULT, community_policy),
)


def decide(facts: Facts) -> Verdict:
    """Run the table once: a reject or discard ends it; holds are collected, every reason
    kept; the community's policy decides only a post no other rule spoke about."""
    holds: list[Verdict] = []
    for name, rule in CHAIN:
        if name == DEFAULT and holds:
            break
        verdict = rule(facts)
        if verdict is None:
            continue
        named = Verdict(verdict.action, verdict.reason, name, verdict.tell_sender)
        if named.action is not Action.HOLD:
            return named
        holds.append(named)
    if not holds:
        raise AssertionError("the community policy rule always decides")
    return Verdict(
        Action.HOLD,
        "; ".join(v.reason for v in holds),
        ", ".join(v.rule for v in holds),
        next((v.tell_sender for v in holds if v.tell_sender), None),
    )
