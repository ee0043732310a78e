"""The store: one schema for communities, people, posts, discussions, news, events and mail.

Times are stored as naive UTC and always handed back timezone-aware, so SQLite and
PostgreSQL behave alike. Lists of theme slugs are JSON columns: they are read as a whole,
never joined on.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Index,
    LargeBinary,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy import DateTime as SADateTime
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

# The values of the choice columns live apart, so the command line can offer them without
# importing SQLModel; they are imported from here as much as from there.
from mailhub.choices import Affiliation as Affiliation
from mailhub.choices import Delivery as Delivery
from mailhub.choices import DiscussionState as DiscussionState
from mailhub.choices import InboundState as InboundState
from mailhub.choices import MembershipStatus as MembershipStatus
from mailhub.choices import OutboundState as OutboundState
from mailhub.choices import PostStatus as PostStatus
from mailhub.choices import Role as Role


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as naive UTC and returned as an aware UTC datetime."""

    impl = SADateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def naive_utc(value: datetime) -> datetime:
    """A time as UTC without its zone: for comparing in memory with raw values read from
    the store. Statements never need it: the UTCDateTime column type converts both ways."""
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def utc_column(*, nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, index=index)


def json_list() -> Any:
    return Field(default_factory=list, sa_column=Column(JSON, nullable=False))


def text_column(nullable: bool = True) -> Any:
    return Field(default=None, sa_column=Column(Text, nullable=nullable))


class Community(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(unique=True, index=True)
    name: str
    local_part: str = Field(unique=True)
    description: str = ""
    tag: str | None = None
    timezone: str = "UTC"
    moderation: str = "all"
    nonmember_policy: str = "hold"
    digest_cron: str = "0 8 * * mon"
    # Who may read the community on the web portal: "public", "members" or "none".
    archive: str = Field(default="members", sa_column_kwargs={"server_default": "members"})
    # The membership the community plans, as "government=20 workers=20 ..." (people per
    # affiliation); participation reports set the members against it. Empty: no target.
    target_mix: str = Field(default="", sa_column_kwargs={"server_default": ""})
    created_at: datetime = utc_column(nullable=False)


class Person(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(unique=True, index=True)
    name: str = ""
    affiliation: str = Affiliation.OTHER.value
    country: str | None = None
    organisation: str = ""
    bounce_score: float = 0.0
    last_bounce_at: datetime | None = utc_column()
    created_at: datetime = utc_column(nullable=False)


class Theme(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(unique=True, index=True)
    name: str


class Membership(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("community_id", "person_id"),)

    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    role: str = Role.MEMBER.value
    delivery: str = Delivery.EACH.value
    digest_format: str = "mime"
    moderated: bool = False
    status: str = MembershipStatus.ACTIVE.value
    themes: list[str] = json_list()
    only_my_themes: bool = False
    event_reminders: bool = True
    delivery_disabled_reason: str | None = None
    last_digest_at: datetime | None = utc_column()
    joined_at: datetime = utc_column(nullable=False)
    updated_at: datetime = utc_column(nullable=False)


class InboundMessage(SQLModel, table=True):
    """The spool: raw bytes and envelope, committed before a message is acknowledged."""

    __tablename__ = "inbound_message"
    __table_args__ = (Index("ix_inbound_state_id", "state", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    source: str
    source_ref: str | None = Field(default=None, index=True)
    mail_from: str = ""
    rcpt_to: list[str] = json_list()
    raw: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    size: int = 0
    sha256: str = Field(index=True)
    message_id: str | None = Field(default=None, index=True)
    community_id: int | None = Field(default=None, foreign_key="community.id")
    msg_class: str | None = None
    state: str = InboundState.NEW.value
    error: str | None = text_column()
    attempts: int = 0
    lease_until: datetime | None = utc_column()
    post_id: int | None = None
    received_at: datetime = utc_column(nullable=False)
    processed_at: datetime | None = utc_column()


class Thread(SQLModel, table=True):
    # The portal lists a community's conversations newest first, and by month.
    __table_args__ = (Index("ix_thread_community_activity", "community_id", "last_activity_at"),)

    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    subject: str = ""
    normalised_subject: str = Field(default="", index=True)
    root_message_id: str | None = None
    discussion_id: int | None = Field(default=None, foreign_key="discussion.id")
    # Set by moderators; a post's themes are its thread's and its discussion's. The server
    # default lets bulk inserts (mbox import) leave it out.
    themes: list[str] = Field(
        default_factory=list,
        sa_column=Column(JSON, nullable=False, server_default=text("'[]'")),
    )
    post_count: int = 0
    created_at: datetime = utc_column(nullable=False)
    last_activity_at: datetime = utc_column(nullable=False)


class ThreadRef(SQLModel, table=True):
    """Every Message-ID a community's posts name (their own and their references), with the
    thread it belongs to: how a reply finds its thread before its parent arrives, and how a
    late parent finds the replies that were waiting for it."""

    __tablename__ = "thread_ref"
    __table_args__ = (UniqueConstraint("community_id", "message_id"),)

    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id")
    message_id: str
    thread_id: int = Field(foreign_key="thread.id", index=True)


class Post(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("community_id", "message_id"),
        # A conversation's posts in order, read by the portal.
        Index("ix_post_thread_status", "thread_id", "status", "received_at"),
        # Participation reports read a community's posts by time and thread by thread from
        # these alone, never from the table (bench/report.py: 200,000 posts in under 2 s);
        # the first also gives a community's newest posts (its feed) and a month's (mbox).
        Index("ix_post_report_time", "community_id", "received_at", "status", "kind", "person_id"),
        Index(
            "ix_post_report_thread",
            "community_id",
            "thread_id",
            "received_at",
            "id",
            "status",
            "kind",
            "person_id",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    thread_id: int | None = Field(default=None, foreign_key="thread.id", index=True)
    parent_id: int | None = Field(default=None, foreign_key="post.id")
    inbound_id: int | None = Field(default=None, foreign_key="inbound_message.id")
    person_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    message_id: str = Field(index=True)
    in_reply_to: str | None = None
    references: list[str] = json_list()
    kind: str = "post"
    author_email: str = ""
    author_name: str = ""
    subject: str = ""
    status: str = Field(default=PostStatus.HELD.value, index=True)
    reason: str | None = text_column()
    body_text: str = Field(default="", sa_column=Column(Text, nullable=False))
    full_text: str = Field(default="", sa_column=Column(Text, nullable=False))
    html: str | None = text_column()
    sent_at: datetime | None = utc_column()
    received_at: datetime = utc_column(nullable=False)
    decided_at: datetime | None = utc_column()
    decided_by: int | None = Field(default=None, foreign_key="person.id")


# The kinds of post that are news and events sent to -news@ and -events@: held like posts,
# published in newsletters and the calendar, never sent to the list.
SUBMISSION_KINDS = ("news", "event")

# The statuses of a post that readers see (the portal, its feeds, search): approved for
# the list, or imported from an earlier archive. Never held, rejected or discarded.
PUBLISHED = (PostStatus.APPROVED.value, PostStatus.ARCHIVED.value)


class Attachment(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    post_id: int = Field(foreign_key="post.id", index=True)
    filename: str
    content_type: str
    size: int
    sha256: str = Field(index=True)


class Decision(SQLModel, table=True):
    """Every moderation decision: who, when, how, what."""

    id: int | None = Field(default=None, primary_key=True)
    post_id: int = Field(foreign_key="post.id", index=True)
    person_id: int | None = Field(default=None, foreign_key="person.id")
    action: str
    reason: str | None = None
    via: str = "cli"
    decided_at: datetime = utc_column(nullable=False)


class Discussion(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    title: str
    question: str = Field(sa_column=Column(Text, nullable=False))
    moderator_id: int | None = Field(default=None, foreign_key="person.id")
    themes: list[str] = json_list()
    state: str = Field(default=DiscussionState.DRAFT.value, index=True)
    opens_at: datetime | None = utc_column(index=True)
    closes_at: datetime | None = utc_column(index=True)
    remind_at: datetime | None = utc_column()
    opened_at: datetime | None = utc_column()
    reminded_at: datetime | None = utc_column()
    closed_at: datetime | None = utc_column()
    root_message_id: str | None = None
    synopsis: str | None = text_column()
    synopsis_at: datetime | None = utc_column()
    synopsis_version: int = 0
    created_at: datetime = utc_column(nullable=False)


class SynopsisVersion(SQLModel, table=True):
    """Every version a discussion's synopsis had, the first and each correction: the lasting
    record keeps what members were sent, not only the newest text."""

    __tablename__ = "synopsis_version"
    __table_args__ = (UniqueConstraint("discussion_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    discussion_id: int = Field(foreign_key="discussion.id", index=True)
    version: int
    text: str = Field(sa_column=Column(Text, nullable=False))
    set_at: datetime = utc_column(nullable=False)


class PortalMark(SQLModel, table=True):
    """One row counting the changes to what the portal shows, bumped by triggers in the
    store (migration 0006) whoever writes: pages cached under an older count are stale."""

    __tablename__ = "portal_mark"

    id: int | None = Field(default=None, primary_key=True)
    changes: int = Field(default=0, sa_type=BigInteger)


class NewsItem(SQLModel, table=True):
    __tablename__ = "news_item"

    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    post_id: int | None = Field(default=None, foreign_key="post.id")
    person_id: int | None = Field(default=None, foreign_key="person.id")
    title: str
    body: str = Field(default="", sa_column=Column(Text, nullable=False))
    url: str | None = None
    themes: list[str] = json_list()
    status: str = PostStatus.HELD.value
    created_at: datetime = utc_column(nullable=False)
    published_at: datetime | None = utc_column()


class Event(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    post_id: int | None = Field(default=None, foreign_key="post.id")
    person_id: int | None = Field(default=None, foreign_key="person.id")
    uid: str = Field(unique=True)
    title: str
    description: str = Field(default="", sa_column=Column(Text, nullable=False))
    starts_at: datetime = utc_column(nullable=False, index=True)
    ends_at: datetime | None = utc_column()
    timezone: str = "UTC"
    location: str = ""
    url: str | None = None
    themes: list[str] = json_list()
    status: str = PostStatus.HELD.value
    reminded_at: datetime | None = utc_column()
    created_at: datetime = utc_column(nullable=False)


class Resource(SQLModel, table=True):
    """A library entry: a web link (`url`) or a stored file (`sha256` names its bytes under
    data_dir/attachments). A file taken from an approved post keeps its attachment and post,
    and an attachment becomes a resource at most once."""

    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    title: str
    url: str | None = None
    sha256: str | None = None
    filename: str | None = None
    content_type: str | None = None
    size: int | None = None
    attachment_id: int | None = Field(default=None, foreign_key="attachment.id", unique=True)
    post_id: int | None = Field(default=None, foreign_key="post.id")
    kind: str = "other"
    description: str = Field(default="", sa_column=Column(Text, nullable=False))
    themes: list[str] = json_list()
    country: str | None = None
    added_by: int | None = Field(default=None, foreign_key="person.id")
    added_via: str = "cli"
    created_at: datetime = utc_column(nullable=False)


class OutboundMessage(SQLModel, table=True):
    """The outbox: one row per mail to one recipient, unique by its dedup key."""

    __tablename__ = "outbound_message"
    __table_args__ = (Index("ix_outbound_due", "state", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    dedup_key: str = Field(unique=True)
    kind: str
    community_id: int | None = Field(default=None, foreign_key="community.id")
    person_id: int | None = Field(default=None, foreign_key="person.id")
    recipient: str
    envelope_from: str
    raw: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    state: str = OutboundState.QUEUED.value
    attempts: int = 0
    next_attempt_at: datetime = utc_column(nullable=False)
    lease_until: datetime | None = utc_column()
    last_error: str | None = text_column()
    created_at: datetime = utc_column(nullable=False)
    sent_at: datetime | None = utc_column()


class DigestIssue(SQLModel, table=True):
    """One scheduled digest run of a community, so a run happens once."""

    __tablename__ = "digest_issue"
    __table_args__ = (UniqueConstraint("community_id", "due_at"),)

    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id")
    due_at: datetime = utc_column(nullable=False)
    post_count: int = 0
    recipients: int = 0
    created_at: datetime = utc_column(nullable=False)


class EventDigestRun(SQLModel, table=True):
    """One scheduled event digest of a community, so a due time is sent once."""

    __tablename__ = "event_digest_run"
    __table_args__ = (UniqueConstraint("community_id", "due_at"),)

    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id")
    due_at: datetime = utc_column(nullable=False)
    events: int = 0
    recipients: int = 0
    created_at: datetime = utc_column(nullable=False)


class NewsletterIssue(SQLModel, table=True):
    __tablename__ = "newsletter_issue"
    __table_args__ = (UniqueConstraint("community_id", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id")
    number: int
    title: str
    since: datetime = utc_column(nullable=False)
    until: datetime = utc_column(nullable=False)
    text: str = Field(default="", sa_column=Column(Text, nullable=False))
    html: str = Field(default="", sa_column=Column(Text, nullable=False))
    state: str = "draft"
    built_at: datetime = utc_column(nullable=False)
    sent_at: datetime | None = utc_column()


class SpoolSegment(SQLModel, table=True):
    """How far the worker has read one segment of the SQLite spool log (inbound/filespool.py);
    advanced in the transaction that stores what it read, so each record is stored once."""

    __tablename__ = "spool_segment"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    offset: int = Field(default=0, sa_type=BigInteger)


class MailboxState(SQLModel, table=True):
    """Where an IMAP poller stopped: UIDVALIDITY and the last UID committed."""

    __tablename__ = "mailbox_state"

    id: int | None = Field(default=None, primary_key=True)
    mailbox: str = Field(unique=True)
    uidvalidity: int | None = Field(default=None, sa_type=BigInteger)
    last_uid: int = Field(default=0, sa_type=BigInteger)
    updated_at: datetime = utc_column(nullable=False)


class UsedToken(SQLModel, table=True):
    """A single-use token that has acted (a confirmation): only its sha256 is kept, so a
    replayed token is recognised and changes nothing (member_tokens.py)."""

    __tablename__ = "used_token"

    id: int | None = Field(default=None, primary_key=True)
    digest: str = Field(unique=True)
    purpose: str
    used_at: datetime = utc_column(nullable=False)


class SignIn(SQLModel, table=True):
    """One request to sign in to the portal: the hashes of the mailed link token and code,
    never the secrets; single-use, valid minutes. Rows for unknown addresses are kept too
    (with no person and nothing mailed), so rate limits treat every address alike."""

    __tablename__ = "sign_in"
    __table_args__ = (Index("ix_sign_in_email_created", "email", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    link_digest: str = Field(unique=True)
    code_digest: str
    email: str
    person_id: int | None = Field(default=None, foreign_key="person.id")
    ip: str = Field(default="", index=True)
    attempts: int = 0
    created_at: datetime = utc_column(nullable=False)
    expires_at: datetime = utc_column(nullable=False)
    used_at: datetime | None = utc_column()


class WebSession(SQLModel, table=True):
    """A signed-in browser: the cookie's sha256 only, so a copy of the store signs no one in;
    revoked by signing out (or by an admin deleting the row)."""

    __tablename__ = "web_session"

    id: int | None = Field(default=None, primary_key=True)
    digest: str = Field(unique=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    created_at: datetime = utc_column(nullable=False)
    expires_at: datetime = utc_column(nullable=False)
    last_seen_at: datetime = utc_column(nullable=False)
    revoked_at: datetime | None = utc_column()


class FeedKey(SQLModel, table=True):
    """A member's secret for feed readers, which carry no session: the key's sha256 only,
    bound to one person and one purpose (reading feeds), revoked by an admin or by minting
    a new one. It reads what the person may read today, so leaving a community closes it."""

    __tablename__ = "feed_key"

    id: int | None = Field(default=None, primary_key=True)
    digest: str = Field(unique=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    purpose: str = "feed"
    created_at: datetime = utc_column(nullable=False)
    revoked_at: datetime | None = utc_column()


def table_of(model: type[SQLModel]) -> Table:
    """The SQLAlchemy table of a model, for set-wise statements (bulk inserts and updates)."""
    table = model.__table__  # type: ignore[attr-defined]  # SQLModel sets it on table models
    assert isinstance(table, Table)
    return table


class SearchDoc(SQLModel, table=True):
    """One searchable item (a post, discussion, synopsis, news item, event or resource) as
    the index holds it: its title and text for snippets, and what results link to. The
    tokens themselves live in the backend's index (search/backends.py): an FTS5 table on
    SQLite, a tsvector column with a GIN index on PostgreSQL."""

    __tablename__ = "search_doc"
    __table_args__ = (UniqueConstraint("kind", "item_id"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str
    item_id: int
    community_id: int = Field(foreign_key="community.id", index=True)
    thread_id: int | None = None
    title: str = ""
    author: str = ""
    occurred_at: datetime = utc_column(nullable=False, index=True)
    body: str = Field(default="", sa_column=Column(Text, nullable=False))


class SearchPending(SQLModel, table=True):
    """An item changed (approved, edited, removed) and not yet (re)indexed: the one cheap
    insert the approving transaction pays; search/index.py catches up off the ingest path."""

    __tablename__ = "search_pending"

    id: int | None = Field(default=None, primary_key=True)
    kind: str
    item_id: int
