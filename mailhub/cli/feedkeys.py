"""`mailhub member feed-url|feed-revoke`: a member's private feed addresses, for feed
readers and calendar programs that cannot sign in (see mailhub/portal/feedkeys.py)."""

from __future__ import annotations

import typer

from mailhub.cli.common import instance, out
from mailhub.cli.member import COMMUNITY_HELP, member_app, resolve_community
from mailhub.errors import Conflict, InvalidInput, NotFound
from mailhub.portal import links

EMAIL = typer.Argument(..., help="The member's e-mail address.")


@member_app.command("feed-url")
def feed_url(
    ctx: typer.Context,
    email: str = EMAIL,
    community: str | None = typer.Option(None, "--community", "-c", help=COMMUNITY_HELP),
) -> None:
    """Print a member's private addresses of a community's feeds (posts, synopses, events);
    a new key each time: the addresses printed before stop working."""
    # The store's modules load when the command runs: `member list` shares this area.
    from mailhub.members import check_email, find_person
    from mailhub.portal.access import viewer_for
    from mailhub.portal.feedkeys import mint

    app = instance(ctx)
    base = links.base_url(app.settings)
    if base is None:
        raise InvalidInput("instance.public_url is not set: feed addresses need the portal's")
    with app.session() as session:
        target = resolve_community(session, community)
        person = find_person(session, email)
        if person is None:
            raise NotFound(f"{check_email(email)} is not known")
        if not viewer_for(session, person).can_read(target):
            raise Conflict(f"{person.email} may not read {target.slug} on the web; no key made")
        key = mint(session, person, app.now())
        slug = target.slug
    paths = (
        links.community_feed_path(slug),
        links.synopses_feed_path(slug),
        links.community_calendar_path(slug),
    )
    for path in paths:
        out.print(f"{base}{path}?key={key}", markup=False, soft_wrap=True)
    out.print(
        "The same key opens every feed this member may read (a conversation's, a theme's):"
        " add ?key=... to its address. Keep these addresses private.",
        markup=False,
    )


@member_app.command("feed-revoke")
def feed_revoke(ctx: typer.Context, email: str = EMAIL) -> None:
    """Revoke a member's feed key: their private feed addresses stop working at once."""
    from mailhub.members import check_email, find_person
    from mailhub.portal.feedkeys import revoke

    app = instance(ctx)
    with app.session() as session:
        person = find_person(session, email)
        if person is None:
            raise NotFound(f"{check_email(email)} is not known")
        count = revoke(session, person, app.now())
        address = person.email
    if count == 0:
        out.print(f"{address} has no feed key; nothing to revoke", markup=False)
    else:
        out.print(f"revoked the feed key of {address}", markup=False)
