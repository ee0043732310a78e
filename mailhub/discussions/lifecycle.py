"""A discussion's life: draft → scheduled → open → closed → summarised, or cancelled.

Each transition claims the discussion's row (see claims.py) and does all its work — the
state, the thread, every mail in the outbox — in one transaction, so a crash leaves it
undone rather than half done, and doing it again (a second scheduler, a restart) finds it
done. The dedup keys of the outbox make a repeated fan-out queue nothing twice as well.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from mailhub.communities import known_theme_slugs
from mailhub.config import DiscussionSettings
from mailhub.context import Context
from mailhub.discussions import mails, synopsis
from mailhub.discussions.claims import claim
from mailhub.errors import Conflict, InvalidInput, NotFound
from mailhub.models import Community, Discussion, DiscussionState, Membership, Person
from mailhub.search.queue import mark_discussion

State = DiscussionState
MODERATING_ROLES = ("moderator", "admin")


@dataclass
class Plan:
    """What a person asks for when creating a discussion."""

    title: str
    question: str
    moderator_email: str
    opens_at: datetime | None = None
    closes_at: datetime | None = None
    days: int | None = None
    themes: list[str] = field(default_factory=list)


def _check_moderator(session: Session, community: Community, email: str) -> Person:
    person = session.exec(select(Person).where(Person.email == email.strip().lower())).first()
    membership = (
        session.exec(
            select(Membership).where(
                Membership.community_id == community.id, Membership.person_id == person.id
            )
        ).first()
        if person
        else None
    )
    if person is None or membership is None or membership.status != "active":
        raise InvalidInput(f"--moderator: {email} is not an active member of {community.slug}")
    if membership.role not in MODERATING_ROLES:
        raise InvalidInput(f"--moderator: {email} is not a moderator or admin of {community.slug}")
    return person


def reminder_time(
    settings: DiscussionSettings, opens_at: datetime | None, closes_at: datetime
) -> datetime | None:
    """The reminder's time before closing; none when that falls before the opening."""
    remind_at = closes_at - timedelta(hours=settings.reminder_before_hours)
    if settings.reminder_before_hours == 0 or (opens_at is not None and remind_at <= opens_at):
        return None
    return remind_at


def create(
    session: Session, settings: DiscussionSettings, community: Community, plan: Plan, now: datetime
) -> Discussion:
    """A new discussion: scheduled when it has an opening time, a draft otherwise."""
    if not plan.title.strip():
        raise InvalidInput("--title: must not be empty")
    if not plan.question.strip():
        raise InvalidInput("--question-file: the question is empty")
    moderator = _check_moderator(session, community, plan.moderator_email)
    unknown = sorted(set(plan.themes) - known_theme_slugs(session))
    if unknown:
        listed = ", ".join(unknown)
        raise InvalidInput(f"--theme: unknown theme {listed} (see 'mailhub theme list')")
    start = plan.opens_at or now
    closes_at = plan.closes_at or start + timedelta(days=plan.days or settings.default_days)
    if closes_at <= start:
        raise InvalidInput("--closes: the closing time must be after the opening time")
    assert community.id is not None
    discussion = Discussion(
        community_id=community.id,
        title=plan.title.strip(),
        question=plan.question.strip() + "\n",
        moderator_id=moderator.id,
        themes=list(dict.fromkeys(plan.themes)),
        state=(State.SCHEDULED if plan.opens_at else State.DRAFT).value,
        opens_at=plan.opens_at,
        closes_at=closes_at,
        remind_at=reminder_time(settings, plan.opens_at, closes_at),
        created_at=now,
    )
    session.add(discussion)
    session.flush()
    mark_discussion(session, discussion.id)
    return discussion


def schedule(ctx: Context, discussion_id: int, opens_at: datetime) -> Discussion:
    """Give a draft its opening time; the scheduler opens it then."""
    with ctx.session() as session:
        discussion = claim(session, discussion_id, Discussion.state == State.DRAFT.value, wait=True)
        if discussion is None:
            state = get(session, discussion_id).state
            raise Conflict(f"discussion {discussion_id} is {state}; only a draft is scheduled")
        if discussion.closes_at is not None and discussion.closes_at <= opens_at:
            raise InvalidInput("--opens: the opening time must be before the closing time")
        discussion.opens_at = opens_at
        discussion.state = State.SCHEDULED.value
        if discussion.closes_at is not None:
            discussion.remind_at = reminder_time(
                ctx.settings.discussions, opens_at, discussion.closes_at
            )
        session.add(discussion)
        mark_discussion(session, discussion.id)
        return discussion


def get(session: Session, discussion_id: int) -> Discussion:
    found = session.get(Discussion, discussion_id)
    if found is None:
        raise NotFound(f"no discussion {discussion_id}")
    return found


@dataclass(frozen=True)
class Due:
    """Ids of the discussions whose next step is due."""

    to_open: list[int]
    to_remind: list[int]
    to_close: list[int]


def due(session: Session, now: datetime) -> Due:
    def ids(*conditions: Any) -> list[int]:
        query = select(Discussion.id).where(*conditions).order_by(col(Discussion.id))
        return [i for i in session.exec(query).all() if i is not None]

    return Due(
        to_open=ids(Discussion.state == State.SCHEDULED.value, col(Discussion.opens_at) <= now),
        to_remind=ids(
            Discussion.state == State.OPEN.value,
            col(Discussion.reminded_at).is_(None),
            col(Discussion.remind_at) <= now,
            col(Discussion.closes_at) > now,
        ),
        to_close=ids(Discussion.state == State.OPEN.value, col(Discussion.closes_at) <= now),
    )


def _community(session: Session, discussion: Discussion) -> Community:
    community = session.get(Community, discussion.community_id)
    assert community is not None
    return community


def open_discussion(
    ctx: Context,
    discussion_id: int,
    *,
    when_due: bool = True,
    closes_at: datetime | None = None,
) -> int | None:
    """Open a scheduled discussion (or, by hand, a draft now), closing at closes_at when
    given (a draft opened weeks after it was made needs a new end); return the
    announcements queued, or None when it was not this call's to open."""
    now = ctx.now()
    conditions: list[Any]
    if when_due:
        conditions = [Discussion.state == State.SCHEDULED.value, col(Discussion.opens_at) <= now]
    else:
        conditions = [col(Discussion.state).in_((State.DRAFT.value, State.SCHEDULED.value))]
    with ctx.session() as session:
        discussion = claim(session, discussion_id, *conditions)
        if discussion is None:
            return None
        if closes_at is not None:
            discussion.closes_at = closes_at
            discussion.remind_at = reminder_time(ctx.settings.discussions, now, closes_at)
        community = _community(session, discussion)
        root = mails.root_post(ctx, session, community, discussion, now)
        sent = mails.announce(ctx, session, community, discussion, root)
        # The state changes last, in the same transaction as the announcements.
        discussion.state = State.OPEN.value
        discussion.opened_at = now
        discussion.root_message_id = root.message_id
        if discussion.opens_at is None or discussion.opens_at > now:
            discussion.opens_at = now
        session.add(discussion)
        mark_discussion(session, discussion.id)
        return sent


def remind(ctx: Context, discussion_id: int) -> int | None:
    """Send the due reminder of an open discussion, once."""
    now = ctx.now()
    with ctx.session() as session:
        discussion = claim(
            session,
            discussion_id,
            Discussion.state == State.OPEN.value,
            col(Discussion.reminded_at).is_(None),
            col(Discussion.remind_at) <= now,
        )
        if discussion is None:
            return None
        community = _community(session, discussion)
        root = mails.root_post(ctx, session, community, discussion, now)
        sent = mails.remind(ctx, session, community, discussion, root)
        discussion.reminded_at = now
        session.add(discussion)
        mark_discussion(session, discussion.id)
        return sent


def close(ctx: Context, discussion_id: int, *, when_due: bool = True) -> bool:
    """Close an open discussion and ask its moderator for the synopsis, once."""
    now = ctx.now()
    conditions: list[Any] = [Discussion.state == State.OPEN.value]
    if when_due:
        conditions.append(col(Discussion.closes_at) <= now)
    with ctx.session() as session:
        discussion = claim(session, discussion_id, *conditions)
        if discussion is None:
            return False
        discussion.state = State.CLOSED.value
        discussion.closed_at = now
        if discussion.closes_at is None or discussion.closes_at > now:
            discussion.closes_at = now
        session.add(discussion)
        mark_discussion(session, discussion.id)
        synopsis.request(ctx, session, _community(session, discussion), discussion)
        return True


def cancel(ctx: Context, discussion_id: int) -> Discussion:
    """Call off a discussion that has not closed; nothing more is sent for it."""
    live = (State.DRAFT.value, State.SCHEDULED.value, State.OPEN.value)
    with ctx.session() as session:
        discussion = claim(session, discussion_id, col(Discussion.state).in_(live), wait=True)
        if discussion is None:
            state = get(session, discussion_id).state
            raise Conflict(
                f"discussion {discussion_id} is {state}; only one not yet closed can be cancelled"
            )
        discussion.state = State.CANCELLED.value
        session.add(discussion)
        mark_discussion(session, discussion.id)
        return discussion
