"""Signing members in by mail: a link and a 6-digit code, either of which works once.

A request records a row whatever the address (known or not, so rate limits treat every
address alike and the answer never tells who is a member) and mails a link and a code
only to a person with an active membership. The link carries 32 random bytes; the store
keeps their sha256 and an HMAC of the code, never the secrets. Either is consumed by a
POST (a link's GET only shows a button, since mail scanners open every link), within
`portal.sign_in_minutes`, once; a code is refused after MAX_ATTEMPTS wrong guesses.
Requests are limited per address and per IP address per hour.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from mailhub.context import Context
from mailhub.members import find_person
from mailhub.models import Membership, MembershipStatus, Person, SignIn, table_of
from mailhub.outbound.compose import Notice, send_rendered
from mailhub.portal import links

MAX_ATTEMPTS = 5
HOUR = timedelta(hours=1)
SIGN_INS = table_of(SignIn)


class Limited(Exception):
    """Too many sign-in requests from this address or IP address this hour."""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _code_digest(secret: str, link_digest: str, code: str) -> str:
    return hmac.new(secret.encode(), f"{link_digest}:{code}".encode(), "sha256").hexdigest()


def normalised(email: str) -> str:
    return email.strip().lower()[:320]


def _member(session: Session, email: str) -> Person | None:
    """The person behind an address, when they have an active membership."""
    person = find_person(session, email) if "@" in email else None
    if person is None:
        return None
    active = session.exec(
        select(Membership.id).where(
            Membership.person_id == person.id,
            Membership.status == MembershipStatus.ACTIVE.value,
        )
    ).first()
    return person if active else None


def _check_limits(ctx: Context, session: Session, email: str, ip: str) -> None:
    since = ctx.now() - HOUR
    limits = ctx.settings.portal
    by_address = session.exec(
        select(func.count()).where(SignIn.email == email, SignIn.created_at > since)
    ).one()
    by_ip = session.exec(
        select(func.count()).where(SignIn.ip == ip, SignIn.created_at > since)
    ).one()
    if by_address >= limits.sign_ins_per_address_hour or by_ip >= limits.sign_ins_per_ip_hour:
        raise Limited()


def request(ctx: Context, session: Session, email: str, ip: str, next_path: str) -> None:
    """Record a sign-in request and, for a member, mail the link and the code; Limited when
    the address or the IP address asked too often. Says nothing about who is a member."""
    email = normalised(email)
    _check_limits(ctx, session, email, ip)
    token, code = secrets.token_urlsafe(32), f"{secrets.randbelow(10**6):06d}"
    link_digest = _digest(token)
    person = _member(session, email)
    now = ctx.now()
    row = SignIn(
        link_digest=link_digest,
        code_digest=_code_digest(ctx.secret, link_digest, code),
        email=email,
        person_id=person.id if person else None,
        ip=ip[:64],
        created_at=now,
        expires_at=now + timedelta(minutes=ctx.settings.portal.sign_in_minutes),
    )
    session.add(row)
    session.flush()
    if person is None:
        return
    base = links.base_url(ctx.settings) or ""
    link = base + links.signin_path(next_path, token) if base else ""
    notice = Notice(
        to=person.email,
        subject=f"Sign in to {ctx.settings.instance.name}: code {code}",
        kind="sign-in",
        dedup_key=f"sign-in:{row.id}",
        person_id=person.id,
    )
    send_rendered(
        ctx,
        session,
        None,
        "portal/sign-in.txt",
        notice,
        site_name=ctx.settings.instance.name,
        link=link,
        code=code,
        minutes=ctx.settings.portal.sign_in_minutes,
    )


def _use(session: Session, row: SignIn, now: datetime) -> Person | None:
    """Mark a row used, unless another request used it first; its person."""
    used = session.connection().execute(
        update(SIGN_INS)
        .where(SIGN_INS.c.id == row.id, SIGN_INS.c.used_at.is_(None))
        .values(used_at=now)
    )
    if used.rowcount != 1 or row.person_id is None:
        return None
    return session.get(Person, row.person_id)


def by_link(ctx: Context, session: Session, token: str) -> Person | None:
    """The person a sign-in link signs in, once; None when unknown, used or expired."""
    if not token or len(token) > 100:
        return None
    now = ctx.now()
    row = session.exec(select(SignIn).where(SignIn.link_digest == _digest(token))).first()
    if row is None or row.used_at is not None or row.expires_at <= now:
        return None
    return _use(session, row, now)


def by_code(ctx: Context, session: Session, email: str, code: str) -> Person | None:
    """The person a code signs in, once; a wrong code counts against every open request of
    the address, and a request with MAX_ATTEMPTS wrong guesses is dead."""
    email, code, now = normalised(email), code.strip(), ctx.now()
    rows = session.exec(
        select(SignIn)
        .where(SignIn.email == email, col(SignIn.used_at).is_(None), SignIn.expires_at > now)
        .where(SignIn.attempts < MAX_ATTEMPTS)
        .order_by(col(SignIn.id).desc())
    ).all()
    for row in rows:
        expected = _code_digest(ctx.secret, row.link_digest, code)
        if hmac.compare_digest(expected, row.code_digest):
            return _use(session, row, now)
    for row in rows:
        row.attempts += 1
        session.add(row)
    return None
