"""Pausing a member's delivery after too many bounces, and telling them and the admins.

The member is told even though their address bounces: the failure may be temporary (a full
mailbox), and the notice says how to turn delivery back on.
"""

from __future__ import annotations

from sqlmodel import Session, select

from mailhub import rendering
from mailhub.addresses import Kind
from mailhub.context import Context
from mailhub.models import Community, Membership, MembershipStatus, Person, Role
from mailhub.outbound.compose import Notice, send_notice

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
        .join(Community, Community.id == Membership.community_id)  # type: ignore[arg-type]
        .where(
            Membership.person_id == person.id,
            Membership.status == MembershipStatus.ACTIVE.value,
            Membership.delivery_disabled_reason.is_(None),  # type: ignore[union-attr]
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
    override = settings.templates_override
    send_notice(
        ctx,
        session,
        community,
        Notice(
            to=person.email,
            subject=f"Mail from {community.name} is paused: your address bounces",
            text=rendering.render("delivery/bounce_disabled.txt", override, **values),
            kind="bounce_disabled",
            dedup_key=f"bounce-disabled:{person.id}:{day}",
            person_id=person.id,
        ),
    )
    text = rendering.render("delivery/bounce_admin.txt", override, **values)
    for address, admin_id in _admins(ctx, session, paused):
        send_notice(
            ctx,
            session,
            community,
            Notice(
                to=address,
                subject=f"Delivery paused for {person.email} (bounces)",
                text=text,
                kind="bounce_admin",
                dedup_key=f"bounce-disabled:{person.id}:{day}:admin:{address}",
                person_id=admin_id,
            ),
        )


def _admins(
    ctx: Context, session: Session, paused: list[Community]
) -> list[tuple[str, int | None]]:
    """Admins of the communities concerned, and the instance's admin address, once each."""
    rows = session.exec(
        select(Person.email, Person.id)
        .join(Membership, Membership.person_id == Person.id)  # type: ignore[arg-type]
        .where(
            Membership.community_id.in_([c.id for c in paused]),  # type: ignore[attr-defined]
            Membership.role == Role.ADMIN.value,
            Membership.status == MembershipStatus.ACTIVE.value,
        )
    ).all()
    found: dict[str, int | None] = {email: pid for email, pid in rows}
    extra = ctx.settings.instance.admin_email
    if extra:
        found.setdefault(extra.lower(), None)
    return sorted(found.items())
