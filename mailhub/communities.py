"""Communities and themes: creating them, finding them, and seeding them from config."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import String, cast
from sqlmodel import Session, col, select

from mailhub.addresses import POSTMASTER
from mailhub.config import SLUG_PATTERN, AddressSettings, Settings, check_timezone
from mailhub.cron import trigger
from mailhub.errors import Conflict, InvalidInput, NotFound
from mailhub.models import (
    Community,
    Discussion,
    Event,
    Membership,
    NewsItem,
    Resource,
    Theme,
    Thread,
    table_of,
)
from mailhub.reports.targets import canonical
from mailhub.roster import unknown_community
from mailhub.search.queue import mark, mark_discussion, mark_threads

MODERATION_POLICIES = ("all", "first-post", "none")
NONMEMBER_POLICIES = ("hold", "reject", "discard")
ARCHIVE_MODES = ("public", "members", "none")


def check_slug(slug: str, what: str = "slug") -> str:
    if not re.fullmatch(SLUG_PATTERN, slug):
        raise InvalidInput(
            f"{what} {slug!r}: use lower-case letters, digits, '.', '_' or '-' (e.g. 'irnet')"
        )
    return slug


def get_community(session: Session, slug: str) -> Community:
    community = session.exec(select(Community).where(Community.slug == slug)).first()
    if community is None:
        known = session.exec(select(Community.slug).order_by(col(Community.slug))).all()
        raise unknown_community(slug, known)
    return community


def community_ids(session: Session) -> list[int]:
    """Every community's id, in order: what each scheduled job goes through."""
    return [i for i in session.exec(select(Community.id).order_by(col(Community.id))) if i]


def list_communities(session: Session) -> list[Community]:
    return list(session.exec(select(Community).order_by(Community.slug)))


# What a community's admins may change after creation, in config.toml, `community update`
# and `community show` alike. The list address (local part) is not among them: mail already
# sent carries it in every reply and unsubscribe address.
SETTINGS = (
    "name",
    "description",
    "tag",
    "timezone",
    "moderation",
    "nonmember_policy",
    "digest_cron",
    "archive",
    "target_mix",
)


@dataclass(frozen=True)
class Change:
    """One setting of one community that differs, or differed, from what was asked."""

    community: str
    setting: str
    old: str | None
    new: str | None

    def __str__(self) -> str:
        return f"{self.community}: {self.setting} {self.old!r} -> {self.new!r}"


def check_setting(setting: str, value: str | None) -> str | None:
    """The value a community setting takes, or InvalidInput naming the setting."""
    if setting not in SETTINGS:
        raise InvalidInput(f"{setting}: not a community setting (one of {', '.join(SETTINGS)})")
    if setting == "name" and not (value or "").strip():
        raise InvalidInput("name: must not be empty")
    if setting == "timezone":
        try:
            check_timezone(value or "")
        except ValueError as exc:
            raise InvalidInput(f"timezone: {exc}") from None
    if setting == "moderation" and value not in MODERATION_POLICIES:
        raise InvalidInput(f"moderation: one of {', '.join(MODERATION_POLICIES)}")
    if setting == "nonmember_policy" and value not in NONMEMBER_POLICIES:
        raise InvalidInput(f"nonmember_policy: one of {', '.join(NONMEMBER_POLICIES)}")
    if setting == "archive" and value not in ARCHIVE_MODES:
        raise InvalidInput(f"archive: one of {', '.join(ARCHIVE_MODES)}")
    if setting == "target_mix":
        try:
            return canonical(value or "")
        except ValueError as exc:
            raise InvalidInput(f"target_mix: {exc}") from None
    if setting == "digest_cron":
        try:
            trigger(value or "", "UTC")
        except ValueError as exc:
            raise InvalidInput(
                f"digest_cron: {value!r} is not a cron line (e.g. '0 8 * * mon'): {exc}"
            ) from None
    return value.strip() if isinstance(value, str) and setting != "description" else value


def create_community(
    session: Session,
    *,
    slug: str,
    name: str,
    now: datetime,
    local_part: str | None = None,
    addresses: AddressSettings | None = None,
    **settings: str | None,
) -> Community:
    """Create a community; its list address is ``local_part@domain`` (the slug by default);
    ``settings`` are any of SETTINGS (the rest take their defaults). Given the instance's
    ``addresses``, a list address that is another community's -news@ (or whose -news@ is
    another's list address, and so on) is refused: one of the two would never get its mail."""
    check_slug(slug)
    local = check_slug((local_part or slug).lower(), "local part")
    if local == POSTMASTER:
        # RFC 5321 reserves it for the people who run the mail service of the domain.
        raise InvalidInput(f"the local part {POSTMASTER!r} is the instance's own address")
    values = {key: check_setting(key, value) for key, value in {"name": name, **settings}.items()}
    clash = session.exec(
        select(Community).where((Community.slug == slug) | (Community.local_part == local))
    ).first()
    if clash is not None:
        raise Conflict(f"community {clash.slug!r} already uses that slug or address")
    if addresses is not None:
        _check_address_clash(session, local, addresses)
    if values.get("tag") is None:
        values["tag"] = f"[{name}]"
    community = Community(slug=slug, name=name, local_part=local, created_at=now)
    for key, value in values.items():
        setattr(community, key, value)
    session.add(community)
    session.flush()
    session.info.pop("address_book", None)
    return community


def _check_address_clash(session: Session, local: str, addresses: AddressSettings) -> None:
    suffixes = (
        addresses.request_suffix,
        addresses.news_suffix,
        addresses.events_suffix,
        addresses.owner_suffix,
    )
    for other in session.exec(select(Community)):
        for suffix in (s.lower() for s in suffixes):
            if local == other.local_part + suffix:
                raise Conflict(
                    f"the list address {local}@ is community {other.slug}'s {suffix} address;"
                    " choose another --local-part"
                )
            if other.local_part == local + suffix:
                raise Conflict(
                    f"{local}{suffix}@ would be this community's {suffix} address, but it is"
                    f" community {other.slug}'s list address; choose another --local-part"
                )


def update_community(
    session: Session, community: Community, changes: Mapping[str, str | None]
) -> list[Change]:
    """Change some SETTINGS of a community; the changes made (none when nothing differs)."""
    checked = {key: check_setting(key, value) for key, value in changes.items()}
    made = []
    for key, value in checked.items():
        old = getattr(community, key)
        if old != value:
            setattr(community, key, value)
            made.append(Change(community.slug, key, old, value))
    if made:
        session.add(community)
        session.flush()
    return made


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


# Every table whose rows carry theme slugs (JSON lists).
Tagged = Membership | Thread | Discussion | NewsItem | Event | Resource
TAGGED: tuple[type[Tagged], ...] = (Membership, Thread, Discussion, NewsItem, Event, Resource)


def _theme(session: Session, slug: str) -> Theme:
    theme = session.exec(select(Theme).where(Theme.slug == slug)).first()
    if theme is None:
        known = ", ".join(sorted(known_theme_slugs(session))) or "none yet"
        raise NotFound(f"no theme {slug!r} (known: {known})")
    return theme


def _retag(session: Session, old: str, new: str | None) -> int:
    """Replace the slug ``old`` by ``new`` (or drop it) in every tagged row; how many rows."""
    changed = 0
    for model in TAGGED:
        column = table_of(model).c.themes
        rows = session.exec(select(model).where(cast(column, String).like(f'%"{old}"%'))).all()
        for row in rows:
            # select() of a union of models is typed as plain SQLModel; this narrows it back.
            assert isinstance(row, TAGGED)
            tags = [new if tag == old else tag for tag in row.themes]
            row.themes = list(dict.fromkeys(t for t in tags if t))
            session.add(row)
            changed += 1
            _requeue(session, row)
    session.flush()
    return changed


def _requeue(session: Session, row: Tagged) -> None:
    """Items whose themes changed are indexed again (theme: filters read the index)."""
    if isinstance(row, Thread):
        mark_threads(session, [row.id])
    elif isinstance(row, Discussion):
        mark_discussion(session, row.id)
    elif not isinstance(row, Membership):
        mark(session, {NewsItem: "news", Event: "event", Resource: "resource"}[type(row)], [row.id])


def rename_theme(session: Session, slug: str, new_slug: str, name: str | None = None) -> int:
    """Give a theme a new slug (and name); every tagged item follows. Rows retagged."""
    theme = _theme(session, slug)
    check_slug(new_slug, "theme")
    if new_slug != slug and session.exec(select(Theme).where(Theme.slug == new_slug)).first():
        raise Conflict(f"theme {new_slug!r} exists already: merge into it instead")
    theme.slug = new_slug
    theme.name = name or theme.name
    session.add(theme)
    return _retag(session, slug, new_slug) if new_slug != slug else 0


def merge_theme(session: Session, slug: str, into: str) -> int:
    """Fold one theme into another: its items carry ``into`` instead; it is removed."""
    if slug == into:
        raise InvalidInput("a theme cannot be merged into itself")
    theme, _target = _theme(session, slug), _theme(session, into)
    changed = _retag(session, slug, into)
    session.delete(theme)
    return changed


def remove_theme(session: Session, slug: str) -> int:
    """Remove a theme and its tag from every item."""
    theme = _theme(session, slug)
    changed = _retag(session, slug, None)
    session.delete(theme)
    return changed


def known_theme_slugs(session: Session) -> set[str]:
    return set(session.exec(select(Theme.slug)).all())


@dataclass(frozen=True)
class MissingTheme:
    """A theme config.toml names that the store no longer has: renamed, merged or removed
    by `mailhub theme` since the store was made, unless it is new in the file."""

    slug: str

    def __str__(self) -> str:
        return (
            f"theme {self.slug}: in config.toml, not in the store (renamed, merged or removed?"
            " take it out of config.toml; --apply adds it)"
        )


@dataclass
class Seeded:
    """What `seed_from_settings` made, and where the store and config.toml disagree."""

    made: list[str] = field(default_factory=list)
    differences: list[Change | MissingTheme] = field(default_factory=list)
    applied: bool = False


def seed_from_settings(
    session: Session, settings: Settings, now: datetime, *, apply: bool = False
) -> Seeded:
    """Create the communities config names that the store lacks, and its themes in a new
    store; compare the settings config.toml gives for existing communities with
    the store's, and with ``apply`` make the store follow. Only what config.toml names is
    compared, so a setting changed with `community update` stays unless the file names
    another value. A theme missing from a store that has themes was renamed, merged or
    removed by an admin (`make run` runs init every time): reported, added back only with
    ``apply``."""
    seeded = Seeded(applied=apply)
    themes = known_theme_slugs(session)
    first = session.exec(select(Community.id)).first() is None  # a new store
    for theme in settings.themes:
        if theme.slug in themes:
            continue
        if first or apply:
            add_theme(session, theme.slug, theme.name)
            seeded.made.append(f"theme {theme.slug}")
        else:
            seeded.differences.append(MissingTheme(theme.slug))
    existing = {c.slug: c for c in list_communities(session)}
    for item in settings.communities:
        named = {key: getattr(item, key) for key in SETTINGS if key in item.model_fields_set}
        community = existing.get(item.slug)
        if community is None:
            create_community(
                session,
                slug=item.slug,
                now=now,
                local_part=item.local_part,
                addresses=settings.addresses,
                **named,
            )
            seeded.made.append(f"community {item.slug}")
            continue
        differing = {k: v for k, v in named.items() if getattr(community, k) != v}
        if apply:
            seeded.differences += update_community(session, community, differing)
        else:
            seeded.differences += [
                Change(item.slug, k, getattr(community, k), v) for k, v in differing.items()
            ]
    return seeded
