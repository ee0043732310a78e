"""`mailhub community` and `mailhub theme`: the communities and the common tagging system."""

from __future__ import annotations

from typing import Any

import typer
from sqlalchemy import func
from sqlmodel import Session, select

from mailhub.addresses import Kind
from mailhub.cli.common import instance, make_app, out, print_json, print_record, print_table
from mailhub.communities import (
    add_theme,
    create_community,
    get_community,
    list_communities,
    list_themes,
)
from mailhub.config import check_timezone
from mailhub.errors import InvalidInput
from mailhub.models import Community, Membership

community_app = make_app("Create and inspect communities.")
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


@community_app.command("create")
def create(
    ctx: typer.Context,
    slug: str = typer.Argument(
        ..., help="Short name, e.g. irnet; also the list address's local part."
    ),
    name: str = typer.Option(..., "--name", help="Display name, e.g. IRNet."),
    local_part: str | None = typer.Option(
        None, help="List address local part (default: the slug)."
    ),
    description: str = typer.Option("", help="One paragraph shown in help mails and digests."),
    tag: str | None = typer.Option(None, help="Subject tag (default: [Name])."),
    timezone: str = typer.Option(
        "UTC", help="IANA time zone for schedules and dates, e.g. Africa/Nairobi."
    ),
    moderation: str = typer.Option(
        "all", help="Which posts are reviewed: all, first-post or none."
    ),
    nonmember_policy: str = typer.Option(
        "hold", help="Posts from non-members: hold, reject or discard."
    ),
) -> None:
    """Create a community with its addresses."""
    try:
        check_timezone(timezone)
    except ValueError as exc:
        raise InvalidInput(f"--timezone: {exc}") from None
    app = instance(ctx)
    with app.session() as session:
        community = create_community(
            session,
            slug=slug,
            name=name,
            now=app.now(),
            local_part=local_part,
            description=description,
            tag=tag,
            timezone=timezone,
            moderation=moderation,
            nonmember_policy=nonmember_policy,
        )
        address = _addresses(ctx, session, community.slug)["post"]
    out.print(f"created community {slug} <{address}>", markup=False)


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
