"""Pausing a member's delivery after too many bounces, and telling them and the admins.

The member is told even though their address bounces: the failure may be temporary (a full
mailbox), and the notice says how to turn delivery back on.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from mailhub.addresses import Kind
from mailhub.context import Context
from mailhub.members import admin_addresses
from mailhub.models import Community, Membership, MembershipStatus, Person
from mailhub.outbound.compose import Notice, send_rendered

DISABLED_REASON = "bounces"


def disable_delivery(
    ctx: Context, session: Session, community: Community, person: Person, reason: str
) -> list[str]:
    """Pause delivery in each active membership of ``person`` not paused yet; notify.

    Returns the slugs of the communities where delivery was paused now (none when it
    already was, so a later bounce sends no second round of notices).
    """
    now = ctx.now()
    rows = session.exec(
        select(Membership, Community)
        .join(Community, col(Community.id) == Membership.community_id)
        .where(
            Membership.person_id == person.id,
            Membership.status == MembershipStatus.ACTIVE.value,
            col(Membership.delivery_disabled_reason).is_(None),
        )
        .order_by(Community.slug)
    ).all()
    for membership, _ in rows:
        membership.delivery_disabled_reason = DISABLED_REASON
        membership.updated_at = now
        session.add(membership)
    session.flush()
    paused = [c for _, c in rows]
    if paused:
        _notify(ctx, session, community, person, paused, reason)
    return [c.slug for c in paused]


def _notify(
    ctx: Context,
    session: Session,
    community: Community,
    person: Person,
    paused: list[Community],
    reason: str,
) -> None:
    settings = ctx.settings
    book = ctx.address_book(session)
    # Names the templates (and an instance's own copies of them) have always used; the
    # owner address comes from `send_rendered`.
    values = {
        "member_name": person.name,
        "email": person.email,
        "community": community.name,
        "slug": community.slug,
        "communities": [c.name for c in paused],
        "score": person.bounce_score,
        "threshold": settings.delivery.bounce_threshold,
        "reason": reason,
        "request": book.address(community.slug, Kind.REQUEST),
    }
    day = ctx.now().strftime("%Y%m%d")
    notice = Notice(
        to=person.email,
        subject=f"Mail from {community.name} is paused: your address bounces",
        kind="bounce_disabled",
        dedup_key=f"bounce-disabled:{person.id}:{day}",
        person_id=person.id,
    )
    send_rendered(ctx, session, community, "delivery/bounce_disabled.txt", notice, **values)
    admins = admin_addresses(
        session, [c.id for c in paused if c.id], ctx.settings.instance.admin_email
    )
    for address, admin_id in admins:
        notice = Notice(
            to=address,
            subject=f"Delivery paused for {person.email} (bounces)",
            kind="bounce_admin",
            dedup_key=f"bounce-disabled:{person.id}:{day}:admin:{address}",
            person_id=admin_id,
        )
        send_rendered(ctx, session, community, "delivery/bounce_admin.txt", notice, **values)
