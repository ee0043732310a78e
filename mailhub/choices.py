"""The values of the store's choice columns (affiliation, role, delivery, states), apart
from the models: the command line offers them as choices without importing SQLModel."""

from __future__ import annotations

from enum import StrEnum


class Affiliation(StrEnum):
    GOVERNMENT = "government"
    WORKERS = "workers"
    EMPLOYERS = "employers"
    STAFF = "staff"
    ACADEMIC = "academic"
    OTHER = "other"


class Role(StrEnum):
    MEMBER = "member"
    MODERATOR = "moderator"
    ADMIN = "admin"


class Delivery(StrEnum):
    EACH = "each"
    DIGEST = "digest"
    NONE = "none"
    NEWSLETTER = "newsletter"  # the newsletter and the event digest only, no posts


class MembershipStatus(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    UNSUBSCRIBED = "unsubscribed"
    BANNED = "banned"


class InboundState(StrEnum):
    NEW = "new"
    PROCESSING = "processing"
    DONE = "done"
    QUARANTINED = "quarantined"
    FAILED = "failed"


class PostStatus(StrEnum):
    HELD = "held"
    APPROVED = "approved"
    REJECTED = "rejected"
    DISCARDED = "discarded"
    ARCHIVED = "archived"


class DiscussionState(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    OPEN = "open"
    CLOSED = "closed"
    SUMMARISED = "summarised"
    CANCELLED = "cancelled"


class OutboundState(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
