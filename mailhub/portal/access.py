"""Who may read what on the portal.

A community's `archive` setting decides: "public" is read by anyone, "members" by its
active members, moderators and admins, "none" by no one (its moderators still have their
queue). Whatever a viewer may not read answers 404, exactly like what does not exist, so
a members-only community's threads, files and events do not even reveal that they exist.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from mailhub.models import Community, Membership, MembershipStatus, Person

MODERATING = ("moderator", "admin")


@dataclass(frozen=True)
class Viewer:
    """The person behind a request (None: an anonymous visitor) and their active roles."""

    person: Person | None = None
    roles: dict[int, str] = field(default_factory=dict)  # community id -> role

    @property
    def signed_in(self) -> bool:
        return self.person is not None

    def can_read(self, community: Community) -> bool:
        if community.archive == "public":
            return True
        return community.archive == "members" and (community.id or 0) in self.roles

    def can_moderate(self, community: Community) -> bool:
        return self.roles.get(community.id or 0) in MODERATING


ANONYMOUS = Viewer()


def viewer_for(session: Session, person: Person | None) -> Viewer:
    """The viewer a signed-in person is: their active memberships' roles."""
    if person is None:
        return ANONYMOUS
    rows = session.exec(
        select(Membership.community_id, Membership.role).where(
            Membership.person_id == person.id,
            Membership.status == MembershipStatus.ACTIVE.value,
        )
    ).all()
    return Viewer(person, dict(rows))


def readable(session: Session, viewer: Viewer) -> list[Community]:
    """The communities this viewer may read, by name."""
    communities = session.exec(select(Community).order_by(col(Community.name))).all()
    return [c for c in communities if viewer.can_read(c)]


def readable_community(session: Session, viewer: Viewer, slug: str) -> Community | None:
    """The community of a URL, or None when it does not exist or may not be read."""
    community = session.exec(select(Community).where(Community.slug == slug)).first()
    if community is None or not viewer.can_read(community):
        return None
    return community
