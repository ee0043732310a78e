"""The signed-in member's own page: per community what they receive (each post, a digest
and its format, the newsletter only, nothing), their themes, event reminders, leaving;
and the profile the participation figures count.

Every change goes through the one implementation that mail commands and the CLI use
(mailhub/subscriptions.py), by a POST carrying the session's CSRF token; then the browser
is sent back to the page (303), which reads the outcome from the store.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from mailhub.addresses import Kind
from mailhub.errors import InvalidInput
from mailhub.members import AFFILIATIONS, DELIVERIES, DIGEST_FORMATS
from mailhub.models import Community, Membership, MembershipStatus
from mailhub.portal import library, links
from mailhub.portal.access import Viewer
from mailhub.portal.csrf import Fields, checked_fields
from mailhub.portal.web import Page, Portal
from mailhub.subscriptions import (
    PROFILE_FIELDS,
    Member,
    set_delivery,
    set_preferences,
    set_profile,
    set_themes,
    unsubscribe,
)

PATH = "/me"
SHOWN = (MembershipStatus.ACTIVE.value, MembershipStatus.UNSUBSCRIBED.value)


def _member(session: Session, viewer: Viewer, slug: str | None) -> Member | None:
    """The viewer's active membership of the community ``slug`` (None: of any community,
    for the profile, which is the person's and is changed through any membership, as by
    mail)."""
    if viewer.person is None:
        return None
    query = (
        select(Membership, Community)
        .join(Community, col(Community.id) == col(Membership.community_id))
        .where(
            Membership.person_id == viewer.person.id,
            Membership.status == MembershipStatus.ACTIVE.value,
        )
    )
    if slug is not None:
        query = query.where(Community.slug == slug)
    found = session.exec(query.order_by(col(Membership.id))).first()
    return Member(found[1], viewer.person, found[0]) if found else None


def _done(anchor: str) -> RedirectResponse:
    return RedirectResponse(f"{PATH}?saved={anchor}#{anchor}", status_code=303)


def apply_settings(session: Session, member: Member, fields: Fields, now: datetime) -> None:
    """Delivery, digest format, themes and reminders, each by its one function."""
    given = dict(fields)
    set_delivery(member, given.get("delivery", ""), now)
    set_preferences(
        member,
        now,
        digest_format=given.get("digest_format", ""),
        only_my_themes=given.get("only_my_themes") == "yes",
        event_reminders=given.get("event_reminders") == "on",
    )
    set_themes(session, member, [value for name, value in fields if name == "themes"], now)


class MemberPages(Portal):
    """Routes of the member's page and its forms."""

    keep_for_visitors = False

    def _page(
        self, session: Session, viewer: Viewer, saved: str = "", problem: str = ""
    ) -> Page | Response:
        person = viewer.person
        if person is None:
            return RedirectResponse(links.signin_path(PATH), status_code=303)
        rows = session.exec(
            select(Membership, Community)
            .join(Community, col(Community.id) == col(Membership.community_id))
            .where(Membership.person_id == person.id, col(Membership.status).in_(SHOWN))
            .order_by(col(Community.name))
        ).all()
        book = self.ctx.address_book(session)
        values = {
            "person": person,
            "memberships": rows,
            "request_addresses": {c.slug: book.address(c.slug, Kind.REQUEST) for _, c in rows},
            # The profile is changed through an active membership, as by mail.
            "is_member": any(m.status == MembershipStatus.ACTIVE.value for m, _ in rows),
            "themes": library.themes(session),
            "deliveries": DELIVERIES,
            "formats": DIGEST_FORMATS,
            "affiliation_choices": AFFILIATIONS,
            "saved": saved,
            "problem": problem,
        }
        return Page("me", values, 400 if problem else 200)

    def _settings(
        self, session: Session, viewer: Viewer, slug: str, fields: Fields
    ) -> Page | Response | None:
        member = _member(session, viewer, slug)
        if member is None:
            return None
        try:
            apply_settings(session, member, fields, self.ctx.now())
        except (InvalidInput, ValueError) as exc:
            session.rollback()
            return self._page(session, viewer, problem=f"{member.community.name}: {exc}")
        return _done(slug)

    def _leave(self, session: Session, viewer: Viewer, slug: str) -> Response | None:
        member = _member(session, viewer, slug)
        if member is None:
            return None
        unsubscribe(member, self.ctx.now())
        return _done(slug)

    def _profile(self, session: Session, viewer: Viewer, fields: Fields) -> Page | Response | None:
        member = _member(session, viewer, None)
        if member is None:
            return None
        wanted = {name: value for name, value in fields if name in PROFILE_FIELDS}
        try:
            set_profile(member, wanted)
        except InvalidInput as exc:
            session.rollback()
            return self._page(session, viewer, problem=f"Profile: {exc}")
        return _done("profile")

    # Routes

    async def page(self, request: Request) -> Response:
        saved = request.query_params.get("saved", "")[:60]
        return await self.respond(request, self._page, saved)

    async def settings(self, request: Request) -> Response:
        fields = await checked_fields(request, self.ctx.secret)
        if fields is None:
            return await self.refuse(request)
        return await self.respond(request, self._settings, request.path_params["slug"], fields)

    async def leave(self, request: Request) -> Response:
        if await checked_fields(request, self.ctx.secret) is None:
            return await self.refuse(request)
        return await self.respond(request, self._leave, request.path_params["slug"])

    async def profile(self, request: Request) -> Response:
        fields = await checked_fields(request, self.ctx.secret)
        if fields is None:
            return await self.refuse(request)
        return await self.respond(request, self._profile, fields)
