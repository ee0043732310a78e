"""Signed-in browsers: a server-side session per sign-in, named by a random cookie.

The cookie holds 32 random bytes; the store keeps only their sha256, so the store (or a
backup of it) signs no one in. A session ends when it expires, when its member signs out,
or when its row is revoked. The cookie is HttpOnly and SameSite=Lax, and Secure whenever
the portal's public address is https. Forms of a signed-in member carry a CSRF token
derived from the session, so another site cannot post them.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, select

from mailhub.config import Settings
from mailhub.models import Person, WebSession

COOKIE = "mailhub_session"
# Writing last_seen_at on every page would make every read a write.
SEEN_EVERY = timedelta(hours=1)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(session: Session, person: Person, now: datetime, days: int) -> str:
    """A new session for ``person``; returns the cookie value (never stored)."""
    assert person.id is not None
    token = secrets.token_urlsafe(32)
    session.add(
        WebSession(
            digest=digest(token),
            person_id=person.id,
            created_at=now,
            expires_at=now + timedelta(days=days),
            last_seen_at=now,
        )
    )
    session.flush()
    return token


def find(session: Session, token: str | None, now: datetime) -> WebSession | None:
    """The live session a cookie names, or None (unknown, expired or revoked)."""
    if not token or len(token) > 100:
        return None
    row = session.exec(select(WebSession).where(WebSession.digest == digest(token))).first()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    if now - row.last_seen_at > SEEN_EVERY:
        row.last_seen_at = now
        session.add(row)
    return row


def person_for(session: Session, token: str | None, now: datetime) -> Person | None:
    row = find(session, token, now)
    return session.get(Person, row.person_id) if row else None


def revoke(session: Session, token: str | None, now: datetime) -> bool:
    """End the session a cookie names; True when there was one."""
    row = find(session, token, now)
    if row is None:
        return False
    row.revoked_at = now
    session.add(row)
    return True


def cookie_options(settings: Settings, days: int | None) -> dict[str, Any]:
    """How the cookie is set (or, with ``days`` None, cleared)."""
    public = settings.instance.public_url or ""
    return {
        "key": COOKIE,
        "httponly": True,
        "samesite": "lax",
        "secure": public.startswith("https://"),
        "path": "/",
        **({"max_age": days * 86400} if days else {}),
    }


def csrf_token(secret: str, token: str | None) -> str:
    """The CSRF token of a session's forms ("" without a session)."""
    if not token:
        return ""
    return hmac.new(secret.encode(), b"csrf:" + digest(token).encode(), "sha256").hexdigest()


def csrf_ok(secret: str, token: str | None, given: str | None) -> bool:
    expected = csrf_token(secret, token)
    return bool(expected) and hmac.compare_digest(expected, given or "")
