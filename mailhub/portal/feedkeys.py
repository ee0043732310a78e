"""Members' feed keys: how a feed reader, which carries no session cookie, reads the feeds
of a members-only community.

A key is 32 random bytes in the feed's address (``?key=...``); the store keeps only its
sha256, so a copy of the store opens no feed. A key is bound to one person and to one
purpose: it opens feeds (Atom and calendar), never a page, a download or a form. It reads
what its person may read at the moment of the request, so a member who leaves a community
loses that community's feeds with it. One live key per person: minting a new one revokes
the earlier ones, and an admin can revoke them all.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlmodel import Session, col, select

from mailhub.models import FeedKey, Person
from mailhub.portal.access import ANONYMOUS, Viewer, viewer_for

PURPOSE = "feed"
# Longer values are not keys we minted; they are not even hashed.
LONGEST = 100


def digest(key: str) -> str:
    return hashlib.sha256(f"{PURPOSE}:{key}".encode()).hexdigest()


def mint(session: Session, person: Person, now: datetime) -> str:
    """A new key for ``person`` (earlier ones stop working); returns it, never stored."""
    assert person.id is not None
    revoke(session, person, now)
    key = secrets.token_urlsafe(32)
    session.add(FeedKey(digest=digest(key), person_id=person.id, purpose=PURPOSE, created_at=now))
    session.flush()
    return key


def revoke(session: Session, person: Person, now: datetime) -> int:
    """Revoke every live key of ``person``; returns how many there were."""
    live = session.exec(
        select(FeedKey).where(FeedKey.person_id == person.id, col(FeedKey.revoked_at).is_(None))
    ).all()
    for row in live:
        row.revoked_at = now
        session.add(row)
    return len(live)


def viewer_for_key(session: Session, key: str | None) -> Viewer:
    """The reader a key stands for: its person's roles today, or an anonymous visitor
    when the key is missing, unknown or revoked (a revoked key reads only what is public)."""
    if not key or len(key) > LONGEST:
        return ANONYMOUS
    row = session.exec(
        select(FeedKey).where(FeedKey.digest == digest(key), FeedKey.purpose == PURPOSE)
    ).first()
    if row is None or row.revoked_at is not None:
        return ANONYMOUS
    return viewer_for(session, session.get(Person, row.person_id))
