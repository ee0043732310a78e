"""Communities and themes: creating them, finding them, and seeding them from config."""

from __future__ import annotations

import re
from datetime import datetime

from sqlmodel import Session, select

from mailhub.addresses import POSTMASTER
from mailhub.config import SLUG_PATTERN, Settings
from mailhub.errors import Conflict, InvalidInput, NotFound
from mailhub.models import Community, Theme

MODERATION_POLICIES = ("all", "first-post", "none")
NONMEMBER_POLICIES = ("hold", "reject", "discard")


def check_slug(slug: str, what: str = "slug") -> str:
    if not re.fullmatch(SLUG_PATTERN, slug):
        raise InvalidInput(
            f"{what} {slug!r}: use lower-case letters, digits, '.', '_' or '-' (e.g. 'irnet')"
        )
    return slug


def get_community(session: Session, slug: str) -> Community:
    community = session.exec(select(Community).where(Community.slug == slug)).first()
    if community is None:
        known = ", ".join(session.exec(select(Community.slug)).all()) or "none yet"
        raise NotFound(f"no community {slug!r} (known: {known})")
    return community


def list_communities(session: Session) -> list[Community]:
    return list(session.exec(select(Community).order_by(Community.slug)))


def create_community(
    session: Session,
    *,
    slug: str,
    name: str,
    now: datetime,
    local_part: str | None = None,
    description: str = "",
    tag: str | None = None,
    timezone: str = "UTC",
    moderation: str = "all",
    nonmember_policy: str = "hold",
) -> Community:
    """Create a community; its list address is ``local_part@domain`` (the slug by default)."""
    check_slug(slug)
    local = check_slug((local_part or slug).lower(), "local part")
    if local == POSTMASTER:
        # RFC 5321 reserves it for the people who run the mail service of the domain.
        raise InvalidInput(f"the local part {POSTMASTER!r} is the instance's own address")
    if moderation not in MODERATION_POLICIES:
        raise InvalidInput(f"moderation must be one of {', '.join(MODERATION_POLICIES)}")
    if nonmember_policy not in NONMEMBER_POLICIES:
        raise InvalidInput(f"non-member policy must be one of {', '.join(NONMEMBER_POLICIES)}")
    clash = session.exec(
        select(Community).where((Community.slug == slug) | (Community.local_part == local))
    ).first()
    if clash is not None:
        raise Conflict(f"community {clash.slug!r} already uses that slug or address")
    community = Community(
        slug=slug,
        name=name,
        local_part=local,
        description=description,
        tag=tag if tag is not None else f"[{name}]",
        timezone=timezone,
        moderation=moderation,
        nonmember_policy=nonmember_policy,
        created_at=now,
    )
    session.add(community)
    session.flush()
    session.info.pop("address_book", None)
    return community


def list_themes(session: Session) -> list[Theme]:
    return list(session.exec(select(Theme).order_by(Theme.slug)))


def add_theme(session: Session, slug: str, name: str) -> Theme:
    check_slug(slug, "theme")
    if session.exec(select(Theme).where(Theme.slug == slug)).first():
        raise Conflict(f"theme {slug!r} exists already")
    theme = Theme(slug=slug, name=name)
    session.add(theme)
    session.flush()
    return theme


def known_theme_slugs(session: Session) -> set[str]:
    return set(session.exec(select(Theme.slug)).all())


def seed_from_settings(session: Session, settings: Settings, now: datetime) -> list[str]:
    """Create the communities and themes config names that the store lacks; say what was made."""
    made: list[str] = []
    themes = known_theme_slugs(session)
    for theme in settings.themes:
        if theme.slug not in themes:
            add_theme(session, theme.slug, theme.name)
            made.append(f"theme {theme.slug}")
    existing = {c.slug for c in list_communities(session)}
    for item in settings.communities:
        if item.slug in existing:
            continue
        create_community(
            session,
            slug=item.slug,
            name=item.name,
            now=now,
            local_part=item.local_part,
            description=item.description,
            tag=item.tag,
            timezone=item.timezone,
            moderation=item.moderation,
            nonmember_policy=item.nonmember_policy,
        )
        made.append(f"community {item.slug}")
    return made
