"""`mailhub member subscribe|unsubscribe|delivery|themes`: what members do by mail, for admins.

These share their implementation with the mail commands and the web pages
(mailhub.subscriptions), so the rules are the same: subscribing mails a confirmation and
changes nothing until it is answered, a banned address is never changed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from mailhub.choices import Delivery
from mailhub.cli.common import instance, out, theme_slugs
from mailhub.cli.member import COMMUNITY_HELP, member_app, resolve_community
from mailhub.errors import Conflict, NotFound

# The store's modules (SQLAlchemy, the models, templates, the outbox) are imported by the
# commands that use them, so that `member list` starts without them (see bench/cli.py).
if TYPE_CHECKING:
    from sqlmodel import Session

    from mailhub.subscriptions import Member, Result

COMMUNITY = typer.Option(None, "--community", "-c", help=COMMUNITY_HELP)
EMAIL = typer.Argument(..., help="The member's e-mail address.")


def _member(session: Session, community: str | None, email: str) -> Member:
    from mailhub.members import check_email
    from mailhub.subscriptions import find_member

    target = resolve_community(session, community)
    member = find_member(session, target, check_email(email))
    if member is None:
        raise NotFound(f"{check_email(email)} is not a member of {target.slug}")
    return member


def _refuse(member: Member, result: Result) -> None:
    """Turn a refusal into the one-line error an admin reads (admins may know of bans)."""
    from mailhub.subscriptions import Result

    email, status = member.person.email, member.membership.status
    if result is Result.REFUSED:
        raise Conflict(f"{email} is banned from {member.community.slug}; nothing changed")
    if result is Result.NOT_MEMBER:
        raise Conflict(f"{email} is not an active member (status {status}); nothing changed")


@member_app.command("subscribe")
def subscribe(
    ctx: typer.Context,
    email: str = EMAIL,
    community: str | None = COMMUNITY,
    name: str = typer.Option("", help="Full name, for a new person."),
    newsletter: bool = typer.Option(
        False, "--newsletter", help="Only the newsletter and the event digest, no posts."
    ),
) -> None:
    """Invite an address: mail it a confirmation; it joins once that is answered."""
    from mailhub.subscriptions import Result, request_subscription

    app = instance(ctx)
    wanted = Delivery.NEWSLETTER.value if newsletter else None
    with app.session() as session:
        target = resolve_community(session, community)
        result, member = request_subscription(
            app, session, target, email, name=name, delivery=wanted
        )
        _refuse(member, result)
        address = member.person.email
        if result is Result.ALREADY:
            raise Conflict(f"{address} is already a member of {target.slug}")
        if result is Result.LIMITED:
            raise Conflict(f"{address} had enough confirmation mails today; try tomorrow")
    out.print(f"confirmation sent to {address} for {target.slug}", markup=False)


@member_app.command("unsubscribe")
def unsubscribe_(
    ctx: typer.Context,
    email: str = EMAIL,
    community: str | None = COMMUNITY,
    notify: bool = typer.Option(False, "--notify", help="Mail the member that they have left."),
) -> None:
    """Unsubscribe a member at once (the membership is kept as unsubscribed)."""
    from mailhub.subscriptions import LEAVE, Result, change_name, notify_change, unsubscribe

    app = instance(ctx)
    with app.session() as session:
        member = _member(session, community, email)
        result = unsubscribe(member, app.now())
        _refuse(member, result)
        session.flush()
        address, slug = member.person.email, member.community.slug
        if notify and result is Result.DONE:
            stamp = int(app.now().timestamp())
            notify_change(
                app,
                session,
                member.community,
                address,
                change_name(LEAVE, result),
                kind="unsubscribe-notice",
                dedup_key=f"unsubscribe-notice:{member.membership.id}:{stamp}",
                person_id=member.person.id,
            )
    done = "unsubscribed" if result is Result.DONE else "already unsubscribed:"
    out.print(f"{done} {address} from {slug}", markup=False)


@member_app.command("delivery")
def delivery(
    ctx: typer.Context,
    email: str = EMAIL,
    mode: Delivery = typer.Argument(
        ..., help="each (every post), digest, newsletter (no posts) or none."
    ),
    community: str | None = COMMUNITY,
) -> None:
    """Set how an active member receives posts."""
    from mailhub.subscriptions import Result, set_delivery

    app = instance(ctx)
    with app.session() as session:
        member = _member(session, community, email)
        result = set_delivery(member, mode.value, app.now())
        _refuse(member, result)
        address = member.person.email
    verb = "already receives" if result is Result.ALREADY else "now receives"
    out.print(f"{address} {verb} {mode.value}", markup=False)


@member_app.command("themes")
def themes(
    ctx: typer.Context,
    email: str = EMAIL,
    slugs: list[str] | None = typer.Argument(
        None, metavar="SLUG", help="Theme slugs; none to show them."
    ),
    community: str | None = COMMUNITY,
    clear: bool = typer.Option(False, "--clear", help="Remove all the member's themes."),
) -> None:
    """Show or replace an active member's themes."""
    from mailhub.communities import known_theme_slugs
    from mailhub.subscriptions import set_themes

    app = instance(ctx)
    with app.session() as session:
        member = _member(session, community, email)
        if not slugs and not clear:
            mine = ", ".join(member.membership.themes) or "(none)"
            known = ", ".join(sorted(known_theme_slugs(session))) or "(none)"
            out.print(f"{member.person.email}: {mine}\navailable: {known}", markup=False)
            return
        result = set_themes(session, member, [] if clear else theme_slugs(slugs or []), app.now())
        _refuse(member, result)
        address, chosen = member.person.email, ", ".join(member.membership.themes) or "(none)"
    out.print(f"{address} themes: {chosen}", markup=False)
