"""`mailhub member`: add, import, list, show, update and remove members of a community.

The store's modules are imported by the commands that use them: `member list` reads the
store through mailhub/roster.py alone and starts in a fraction of the time (bench/cli.py).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from mailhub import roster
from mailhub.choices import Affiliation, Delivery, MembershipStatus, Role
from mailhub.cli.common import (
    err,
    instance,
    make_app,
    out,
    print_json,
    print_record,
    print_table,
    settings,
    theme_slugs,
)
from mailhub.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from sqlmodel import Session

    from mailhub.members import MemberFields
    from mailhub.models import Community

T = TypeVar("T")

member_app = make_app("Add, import, list, show, update and remove members.")

COMMUNITY_HELP = "Community slug (may be left out when there is only one)."


def resolve_community(session: Session, slug: str | None) -> Community:
    """The community named, or the only one there is, from one read of the communities."""
    from mailhub.communities import list_communities

    found = {community.slug: community for community in list_communities(session)}
    return found[roster.choose_community(list(found), slug)]


def _fields(
    session: Session,
    email: str,
    *,
    name: str | None,
    affiliation: Affiliation | None,
    country: str | None,
    organisation: str | None,
    themes: list[str] | None,
    role: Role | None,
    delivery: Delivery | None,
    moderated: bool | None,
    status: MembershipStatus | None = None,
    digest_format: str | None = None,
    only_my_themes: bool | None = None,
    event_reminders: bool | None = None,
) -> MemberFields:
    from mailhub.communities import known_theme_slugs
    from mailhub.countries import check_country
    from mailhub.members import (
        DIGEST_FORMATS,
        MemberFields,
        check_choice,
        check_email,
        check_themes,
    )

    return MemberFields(
        email=check_email(email),
        name=name,
        affiliation=affiliation.value if affiliation else None,
        country=_as_option("--country", check_country, country) if country else None,
        clear_country=country == "",
        organisation=organisation,
        themes=_as_option("--theme", check_themes, theme_slugs(themes), known_theme_slugs(session))
        if themes is not None
        else None,
        role=role.value if role else None,
        delivery=delivery.value if delivery else None,
        moderated=moderated,
        status=status.value if status else None,
        digest_format=check_choice("--digest-format", digest_format, DIGEST_FORMATS)
        if digest_format is not None
        else None,
        only_my_themes=only_my_themes,
        event_reminders=event_reminders,
    )


def _as_option(option: str, check: Callable[..., T], *args: Any) -> T:
    """A value checked as the CSV import checks it, its problem named by the option."""
    try:
        return check(*args)
    except InvalidInput as exc:
        said = str(exc).removeprefix(f"{option.lstrip('-')} ")  # "country 'XX': ..."
        raise InvalidInput(f"{option}: {said}") from None


NAME = typer.Option(None, help="Full name.")
AFFILIATION = typer.Option(None, help="Constituency the member belongs to.")
COUNTRY = typer.Option(None, help="ISO 3166-1 alpha-2 country code, e.g. TH.")
ORGANISATION = typer.Option(None, help="Organisation or ministry.")
THEMES = typer.Option(None, "--theme", metavar="SLUG", help="Theme slug; repeat for several.")
ROLE = typer.Option(None, help="member, moderator or admin.")
DELIVERY = typer.Option(
    None, help="each (every post), digest, newsletter (newsletter and event digest only) or none."
)
MODERATED = typer.Option(None, "--moderated/--unmoderated", help="Hold every post of this member.")
DIGEST_FORMAT = typer.Option(
    None, help="mime (text and HTML) or rfc1153 (one plain-text digest of messages)."
)
ONLY_MY_THEMES = typer.Option(
    None, "--only-my-themes/--all-themes", help="Digests only of posts tagged with their themes."
)
EVENT_REMINDERS = typer.Option(
    None, "--event-reminders/--no-event-reminders", help="A reminder before each event."
)


@member_app.command("add")
def add(
    ctx: typer.Context,
    email: str = typer.Argument(..., help="The member's e-mail address."),
    community: str | None = typer.Option(None, "--community", "-c", help=COMMUNITY_HELP),
    name: str | None = NAME,
    affiliation: Affiliation | None = AFFILIATION,
    country: str | None = COUNTRY,
    organisation: str | None = ORGANISATION,
    themes: list[str] | None = THEMES,
    role: Role | None = ROLE,
    delivery: Delivery | None = DELIVERY,
    moderated: bool | None = MODERATED,
    digest_format: str | None = DIGEST_FORMAT,
    only_my_themes: bool | None = ONLY_MY_THEMES,
    event_reminders: bool | None = EVENT_REMINDERS,
) -> None:
    """Add one member (an admin adds directly: no confirmation mail)."""
    from mailhub.members import add_member

    app = instance(ctx)
    with app.session() as session:
        target = resolve_community(session, community)
        fields = _fields(
            session,
            email,
            name=name,
            affiliation=affiliation,
            country=country,
            organisation=organisation,
            themes=themes,
            role=role,
            delivery=delivery,
            moderated=moderated,
            digest_format=digest_format,
            only_my_themes=only_my_themes,
            event_reminders=event_reminders,
        )
        person, _membership = add_member(session, target, fields, app.now())
    out.print(f"added {person.email} to {target.slug}", markup=False)


@member_app.command("update")
def update(
    ctx: typer.Context,
    email: str = typer.Argument(..., help="The member's e-mail address."),
    community: str | None = typer.Option(None, "--community", "-c", help=COMMUNITY_HELP),
    name: str | None = NAME,
    affiliation: Affiliation | None = AFFILIATION,
    country: str | None = typer.Option(None, help="ISO 3166-1 alpha-2 code; '' clears it."),
    organisation: str | None = ORGANISATION,
    themes: list[str] | None = THEMES,
    role: Role | None = ROLE,
    delivery: Delivery | None = DELIVERY,
    moderated: bool | None = MODERATED,
    status: MembershipStatus | None = typer.Option(
        None, help="active, pending, unsubscribed or banned."
    ),
    digest_format: str | None = DIGEST_FORMAT,
    only_my_themes: bool | None = ONLY_MY_THEMES,
    event_reminders: bool | None = EVENT_REMINDERS,
) -> None:
    """Change the given fields of a member; the others stay as they are."""
    from mailhub.members import update_member

    given = (name, affiliation, country, organisation, themes, role, delivery, moderated)
    if all(v is None for v in (*given, status, digest_format, only_my_themes, event_reminders)):
        raise InvalidInput("nothing to change: give at least one field to change (see --help)")
    app = instance(ctx)
    with app.session() as session:
        target = resolve_community(session, community)
        fields = _fields(
            session,
            email,
            name=name,
            affiliation=affiliation,
            country=country,
            organisation=organisation,
            themes=themes,
            role=role,
            delivery=delivery,
            moderated=moderated,
            status=status,
            digest_format=digest_format,
            only_my_themes=only_my_themes,
            event_reminders=event_reminders,
        )
        person, _m, changed = update_member(session, target, fields, app.now())
    out.print(f"{'updated' if changed else 'nothing to change for'} {person.email}", markup=False)


@member_app.command("remove")
def remove(
    ctx: typer.Context,
    email: str = typer.Argument(..., help="The member's e-mail address."),
    community: str | None = typer.Option(None, "--community", "-c", help=COMMUNITY_HELP),
    ban: bool = typer.Option(
        False, "--ban", help="Keep the address as banned: its mail is discarded."
    ),
) -> None:
    """Remove a member from a community (or ban them)."""
    from mailhub.members import check_email, remove_member

    app = instance(ctx)
    with app.session() as session:
        target = resolve_community(session, community)
        remove_member(session, target, email, app.now(), ban=ban)
    out.print(
        f"{'banned' if ban else 'removed'} {check_email(email)} from {target.slug}", markup=False
    )


@member_app.command("import")
def import_(
    ctx: typer.Context,
    path: Path = typer.Argument(..., help="CSV file with a header row; 'email' is required."),
    community: str | None = typer.Option(None, "--community", "-c", help=COMMUNITY_HELP),
) -> None:
    """Import members from CSV: good rows are applied, bad rows reported by line; re-running
    the same file changes nothing. Columns: email, name, affiliation, country, organisation,
    themes (separated by ';', ',' or spaces), role, delivery, moderated, status."""
    from rich.progress import Progress

    from mailhub.member_import import import_members

    app = instance(ctx)
    with app.session() as session:
        target = resolve_community(session, community)
        with Progress(
            console=err, transient=True, redirect_stdout=False, redirect_stderr=False
        ) as progress:
            task = progress.add_task(f"importing into {target.slug}", total=None)
            report = import_members(
                session, target, path, app.now(), lambda n: progress.advance(task, n)
            )
    if report.separator != ",":
        err.print(f"{path}: columns separated by {report.separator!r}", markup=False)
    for bad in report.bad:
        err.print(f"{path}:{bad.line}: {bad.reason}", markup=False)
    out.print(
        f"{report.created} added, {report.updated} updated, {report.unchanged} unchanged, "
        f"{len(report.bad)} bad row(s)",
        markup=False,
    )
    if report.bad:
        raise typer.Exit(1)


@member_app.command("list")
def list_(
    ctx: typer.Context,
    community: str | None = typer.Option(None, "--community", "-c", help=COMMUNITY_HELP),
    role: Role | None = typer.Option(None, help="Only this role."),
    delivery: Delivery | None = typer.Option(None, help="Only this delivery mode."),
    status: MembershipStatus | None = typer.Option(None, help="Only this status."),
    affiliation: Affiliation | None = typer.Option(None, help="Only this affiliation."),
    country: str | None = typer.Option(None, help="Only this country (ISO code)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List the members of a community."""
    if country:
        from mailhub.countries import check_country

        country = check_country(country)
    with roster.reader(settings(ctx).database_url) as run:
        filters = roster.Filters(
            community=roster.choose_community(roster.community_slugs(run), community),
            role=role.value if role else None,
            delivery=delivery.value if delivery else None,
            status=status.value if status else None,
            affiliation=affiliation.value if affiliation else None,
            country=country,
        )
        records = roster.members(run, filters)
    for record in records:
        del record["community"]
    if as_json:
        print_json(records)
        return
    print_table(
        ("email", "name", "affiliation", "country", "role", "delivery", "status"),
        (
            (
                r["email"],
                r["name"],
                r["affiliation"],
                r["country"],
                r["role"],
                r["delivery"],
                r["status"],
            )
            for r in records
        ),
    )


@member_app.command("show")
def show(
    ctx: typer.Context,
    email: str = typer.Argument(..., help="The member's e-mail address."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show a person and each of their memberships."""
    from mailhub.members import check_email, find_person

    with instance(ctx).session() as session:
        person = find_person(session, email)
        if person is None:
            raise NotFound(f"no member with address {check_email(email)}")
        run = roster.on_connection(session.connection())
        records = roster.members(run, roster.Filters(email=person.email))
    for record in records:
        # The community comes last, as it always has.
        record["community"] = record.pop("community")
    if as_json:
        print_json(records)
        return
    for record in records:
        print_record(record)
        out.print()
