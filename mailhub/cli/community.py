"""`mailhub community` and `mailhub theme`: the communities and the common tagging system."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from sqlalchemy import func
from sqlmodel import Session, select

from mailhub.addresses import Kind
from mailhub.cli.common import err, instance, make_app, out, print_json, print_record, print_table
from mailhub.communities import (
    SETTINGS,
    add_theme,
    create_community,
    get_community,
    list_communities,
    list_themes,
    merge_theme,
    remove_theme,
    rename_theme,
    update_community,
)
from mailhub.errors import InvalidInput
from mailhub.models import Community, Membership

community_app = make_app("Create, change and inspect communities.")


@contextmanager
def options_named() -> Iterator[None]:
    """A setting's problem names the option typed (`--digest-cron:`), not the setting's
    key as config.toml writes it (`digest_cron:`)."""
    try:
        yield
    except InvalidInput as exc:
        setting, colon, rest = str(exc).partition(":")
        if colon and setting in SETTINGS:
            raise InvalidInput(f"--{setting.replace('_', '-')}:{rest}") from None
        raise


theme_app = make_app("The common themes that members, posts, news and resources are tagged with.")


def community_record(
    session: Session, community: Community, addresses: dict[str, str]
) -> dict[str, Any]:
    counts = session.exec(
        select(Membership.role, Membership.status, func.count())
        .where(Membership.community_id == community.id)
        .group_by(Membership.role, Membership.status)
    ).all()
    active = sum(n for _role, status, n in counts if status == "active")
    moderators = sum(n for role, status, n in counts if role != "member" and status == "active")
    return {
        "slug": community.slug,
        "name": community.name,
        "address": addresses["post"],
        "request_address": addresses["request"],
        "news_address": addresses["news"],
        "events_address": addresses["events"],
        "tag": community.tag,
        "timezone": community.timezone,
        "moderation": community.moderation,
        "nonmember_policy": community.nonmember_policy,
        "digest_cron": community.digest_cron,
        "archive": community.archive,
        "target_mix": community.target_mix,
        "description": community.description,
        "active_members": active,
        "moderators": moderators,
    }


def _addresses(ctx: typer.Context, session: Session, slug: str) -> dict[str, str]:
    book = instance(ctx).address_book(session)
    return {
        "post": book.address(slug),
        "request": book.address(slug, Kind.REQUEST),
        "news": book.address(slug, Kind.NEWS),
        "events": book.address(slug, Kind.EVENTS),
    }


TIMEZONE_HELP = "IANA time zone for schedules and dates, e.g. Asia/Bangkok."
MODERATION_HELP = "Which posts are reviewed: all, first-post or none."
NONMEMBER_HELP = "Posts from non-members: hold, reject or discard."
CRON_HELP = "When digests go out, in the community's zone (default '0 8 * * mon')."
ARCHIVE_HELP = "Who reads it on the web portal: public, members or none."
TARGET_HELP = (
    "The planned people per affiliation, e.g. 'government=20 workers=20 employers=20 "
    "staff=25' (reports set members against it; '' clears it)."
)


@community_app.command("create")
def create(
    ctx: typer.Context,
    slug: str = typer.Argument(
        ..., help="Short name, e.g. irnet; also the list address's local part."
    ),
    name: str = typer.Option(..., "--name", help="Display name, e.g. IRNet."),
    local_part: str | None = typer.Option(
        None, help="List address local part (default: the slug); fixed once created."
    ),
    description: str = typer.Option("", help="One paragraph shown in help mails and digests."),
    tag: str | None = typer.Option(None, help="Subject tag (default: [Name])."),
    timezone: str = typer.Option("UTC", help=TIMEZONE_HELP),
    moderation: str = typer.Option("all", help=MODERATION_HELP),
    nonmember_policy: str = typer.Option("hold", help=NONMEMBER_HELP),
    digest_cron: str = typer.Option("0 8 * * mon", help=CRON_HELP),
    archive: str = typer.Option("members", help=ARCHIVE_HELP),
    target_mix: str = typer.Option("", help=TARGET_HELP),
) -> None:
    """Create a community with its addresses."""
    app = instance(ctx)
    with app.session() as session, options_named():
        community = create_community(
            session,
            slug=slug,
            name=name,
            now=app.now(),
            local_part=local_part,
            addresses=app.settings.addresses,
            description=description,
            tag=tag,
            timezone=timezone,
            moderation=moderation,
            nonmember_policy=nonmember_policy,
            digest_cron=digest_cron,
            archive=archive,
            target_mix=target_mix,
        )
        address = _addresses(ctx, session, community.slug)["post"]
    out.print(f"created community {slug} <{address}>", markup=False)
    refresh_mta_maps(ctx)


@community_app.command("update")
def update(
    ctx: typer.Context,
    slug: str = typer.Argument(..., help="The community's slug."),
    name: str | None = typer.Option(None, "--name", help="Display name."),
    description: str | None = typer.Option(None, help="One paragraph about the community."),
    tag: str | None = typer.Option(None, help="Subject tag."),
    timezone: str | None = typer.Option(None, help=TIMEZONE_HELP),
    moderation: str | None = typer.Option(None, help=MODERATION_HELP),
    nonmember_policy: str | None = typer.Option(None, help=NONMEMBER_HELP),
    digest_cron: str | None = typer.Option(None, help=CRON_HELP),
    archive: str | None = typer.Option(None, help=ARCHIVE_HELP),
    target_mix: str | None = typer.Option(None, help=TARGET_HELP),
) -> None:
    """Change a community's settings (those given; the list address stays)."""
    asked = {
        "name": name,
        "description": description,
        "tag": tag,
        "timezone": timezone,
        "moderation": moderation,
        "nonmember_policy": nonmember_policy,
        "digest_cron": digest_cron,
        "archive": archive,
        "target_mix": target_mix,
    }
    changes = {key: value for key, value in asked.items() if value is not None}
    if not changes:
        raise InvalidInput("nothing to change: give at least one setting (see --help)")
    with instance(ctx).session() as session, options_named():
        made = update_community(session, get_community(session, slug), changes)
    for change in made:
        out.print(f"changed {change}", markup=False)
    if not made:
        out.print(f"{slug}: nothing changed (the settings were already so)", markup=False)
    refresh_mta_maps(ctx)


def refresh_mta_maps(ctx: typer.Context) -> None:
    """With [mta] postfix_dir set, rewrite the Postfix maps so the MTA knows the addresses
    (Mailman's postfix_lmtp does the same on every list change)."""
    app = instance(ctx)
    if app.settings.mta.postfix_dir is None:
        return
    from mailhub.mta.postfix import refresh

    with app.session() as session:
        book = app.address_book(session)
    written = refresh(app.settings, book)
    if written is None:
        return
    if written.changed:
        out.print(f"postfix maps rewritten in {written.folder}", markup=False)
    for problem in written.problems:
        err.print(f"error: postfix maps: {problem}", markup=False)


@community_app.command("list")
def list_(
    ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="Print JSON.")
) -> None:
    """List communities with their addresses and member counts."""
    with instance(ctx).session() as session:
        records = [
            community_record(session, c, _addresses(ctx, session, c.slug))
            for c in list_communities(session)
        ]
    if as_json:
        print_json(records)
        return
    print_table(
        ("slug", "name", "address", "moderation", "members", "moderators"),
        (
            (
                r["slug"],
                r["name"],
                r["address"],
                r["moderation"],
                r["active_members"],
                r["moderators"],
            )
            for r in records
        ),
    )


@community_app.command("show")
def show(
    ctx: typer.Context,
    slug: str = typer.Argument(..., help="The community's slug."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show one community's settings, addresses and counts."""
    with instance(ctx).session() as session:
        community = get_community(session, slug)
        record = community_record(session, community, _addresses(ctx, session, slug))
    if as_json:
        print_json(record)
    else:
        print_record(record)


@theme_app.command("list")
def theme_list(
    ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="Print JSON.")
) -> None:
    """List the themes."""
    with instance(ctx).session() as session:
        themes = [{"slug": t.slug, "name": t.name} for t in list_themes(session)]
    if as_json:
        print_json(themes)
    else:
        print_table(("slug", "name"), ((t["slug"], t["name"]) for t in themes))


@theme_app.command("add")
def theme_add(
    ctx: typer.Context,
    slug: str = typer.Argument(..., help="Short tag, e.g. youth-employment."),
    name: str = typer.Argument(..., help="Display name, e.g. 'Youth employment'."),
) -> None:
    """Add a theme."""
    with instance(ctx).session() as session:
        add_theme(session, slug, name)
    out.print(f"added theme {slug}", markup=False)


@theme_app.command("rename")
def theme_rename(
    ctx: typer.Context,
    slug: str = typer.Argument(..., help="The theme's slug now."),
    new_slug: str = typer.Argument(..., help="Its new slug."),
    name: str | None = typer.Option(None, "--name", help="A new display name too."),
) -> None:
    """Rename a theme; members, threads, discussions, news, events and resources follow."""
    with instance(ctx).session() as session:
        changed = rename_theme(session, slug, new_slug, name)
    out.print(f"renamed theme {slug} to {new_slug}; {changed} item(s) retagged", markup=False)


@theme_app.command("merge")
def theme_merge(
    ctx: typer.Context,
    slug: str = typer.Argument(..., help="The theme to fold away."),
    into: str = typer.Argument(..., help="The theme its items carry from now on."),
) -> None:
    """Merge one theme into another; the first is removed, its items keep a tag (the second)."""
    with instance(ctx).session() as session:
        changed = merge_theme(session, slug, into)
    out.print(f"merged theme {slug} into {into}; {changed} item(s) retagged", markup=False)


@theme_app.command("remove")
def theme_remove(
    ctx: typer.Context, slug: str = typer.Argument(..., help="The theme to remove.")
) -> None:
    """Remove a theme, and its tag from every item that carries it."""
    with instance(ctx).session() as session:
        changed = remove_theme(session, slug)
    out.print(f"removed theme {slug}; {changed} item(s) untagged", markup=False)
