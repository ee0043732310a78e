"""Every kind of mail mailhub sends, by the name its outbox rows carry.

One list, so that a new kind of mail cannot be sent without being named here
(`outbox.enqueue_many` refuses an unknown kind), and `tests/test_mail_contract.py` builds a
mail of every kind named here and acts on every address and link it carries: a kind added
here without that test's story producing it fails the test.
"""

from __future__ import annotations

# To every member who receives mail, one copy each.
LIST_MAIL = frozenset(
    {
        "post",  # an approved post
        "digest",  # MIME or RFC 1153
        "newsletter",
        "event-digest",
        "event-reminder",
        "discussion",  # a discussion's announcement
        "discussion-reminder",
        "synopsis",
        "synopsis-correction",
    }
)

# To one person: moderators, admins, a sender, a (would-be) member.
NOTICES = frozenset(
    {
        "held",  # to moderators: an item waits for a decision
        "fyi",  # to the other moderators: one of them decided
        "reminder",  # to moderators: the queue of held items
        "resource-offer",  # to moderators: a post's attachments for the library
        "moderation-reply",  # to a moderator: what became of a decision by mail
        "discussion-status",  # to a discussion's moderator, with the reminder
        "synopsis-request",  # to a discussion's moderator, with the draft
        "synopsis-reply",  # to whoever mailed a synopsis address
        "rejected",  # to a post's author
        "nonmember",  # to a non-member whose post was refused
        "late",  # to a late contributor to a closed discussion
        "command-to-list",  # to whoever sent "unsubscribe" and the like to the list
        "digest-reply",  # to a member who replied to a whole digest
        "submission-reply",  # to whoever mailed -news@ or -events@ unreadably
        "confirmation",  # a join or leave to confirm
        "confirmation-reply",  # what a confirmation did
        "unsubscribe-reply",  # what a mail to the +u- address did
        "unsubscribe-notice",  # an admin removed a member
        "command-reply",  # the answer to -request@ commands
        "search-reply",  # the results of "search ..." to -request@
        "bounce_disabled",  # to a member: delivery paused after bounces
        "bounce_admin",  # to the admins: a member's delivery was paused
        "owner-forward",  # mail to -owner@ or postmaster@, to the people behind it
        "sign-in",  # to a member: a link and a code to sign in to the portal
        "report",  # to moderators: the monthly participation report
    }
)

ALL = LIST_MAIL | NOTICES


def check(kind: str) -> str:
    """``kind`` itself, or ValueError when no such kind of mail is known."""
    if kind not in ALL:
        raise ValueError(f"unknown kind of mail {kind!r}: name it in mailhub/outbound/kinds.py")
    return kind
