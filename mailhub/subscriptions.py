"""Joining, leaving and choosing what to receive: one implementation for mail commands, the
web pages and the CLI.

Joining is double opt-in: a request mails a confirmation and changes nothing else that
matters (a new membership waits as pending, an old one stays as it was); only the answer
to that mail makes the membership active. Tokens carry the membership and the person id,
so a token for a removed membership can never act on another one that reuses its id. A
banned address is never changed by anything here.

A join may name the delivery it asks for (`subscribe newsletter`): the confirmation token
carries it, so the membership changes to it only when the join is confirmed. The tokens
themselves are minted and read in member_tokens.py; a confirmation acts once, and only for
the community whose address or page it reached.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import func
from sqlalchemy.orm import object_session
from sqlmodel import Session, col, select

from mailhub import member_tokens, tokens
from mailhub.addresses import Kind
from mailhub.communities import known_theme_slugs
from mailhub.context import Context
from mailhub.countries import check_country
from mailhub.errors import InvalidInput, MailhubError
from mailhub.member_tokens import CONFIRM_DAYS, JOIN, LEAVE
from mailhub.members import (
    AFFILIATIONS,
    DIGEST_FORMATS,
    check_choice,
    check_email,
    check_themes,
    find_person,
    membership_of,
    resume_delivery,
    start_digests_now,
)
from mailhub.models import (
    Community,
    Delivery,
    Membership,
    MembershipStatus,
    OutboundMessage,
    Person,
)
from mailhub.outbound.compose import Notice, send_rendered
from mailhub.search.queue import mark_people

# A stranger can ask us to mail a confirmation to any address; this keeps it to a few a day.
CONFIRMATIONS_PER_DAY = 3


class Result(StrEnum):
    """What a request came to."""

    DONE = "done"
    SENT = "sent"  # a confirmation was mailed
    LIMITED = "limited"  # no confirmation: enough went to this address today
    ALREADY = "already"  # nothing to change
    NOT_MEMBER = "not-member"
    REFUSED = "refused"  # banned: nothing changes, and we do not say why
    USED = "used"  # a confirmation answered before: nothing changes again


class BadToken(MailhubError):
    """A confirmation or unsubscribe token that is malformed, forged, expired or stale."""

    exit_code = 2


@dataclass(frozen=True)
class Member:
    """One membership with its person and community, as every request here needs them."""

    community: Community
    person: Person
    membership: Membership

    @property
    def banned(self) -> bool:
        return self.membership.status == MembershipStatus.BANNED.value

    @property
    def active(self) -> bool:
        return self.membership.status == MembershipStatus.ACTIVE.value


def find_member(session: Session, community: Community, email: str) -> Member | None:
    person = find_person(session, email)
    membership = membership_of(session, community, person) if person else None
    if person is None or membership is None:
        return None
    return Member(community, person, membership)


# Tokens and links


def confirmation_token(
    ctx: Context, membership: Membership, action: str, delivery: str | None = None
) -> str:
    assert membership.id is not None
    return member_tokens.confirmation_token(
        ctx.secret, membership.id, membership.person_id, action, ctx.now(), delivery
    )


def unsubscribe_token(ctx: Context, membership: Membership) -> str:
    """No expiry: the link in a mail years old must still let its reader leave."""
    assert membership.id is not None
    return member_tokens.unsubscribe_token(ctx.secret, membership.id, membership.person_id)


def _public(ctx: Context, path: str) -> str | None:
    base = ctx.settings.instance.public_url
    return f"{base.rstrip('/')}/{path}" if base else None


def confirm_url(ctx: Context, token: str) -> str | None:
    """The web page answering a confirmation; None when no public URL is configured."""
    return _public(ctx, f"confirm/{token}")


def unsubscribe_url(ctx: Context, membership: Membership) -> str | None:
    """The one-click unsubscribe link (RFC 8058); None when no public URL is configured."""
    return _public(ctx, f"unsubscribe/{unsubscribe_token(ctx, membership)}")


def member_for_token(
    ctx: Context,
    session: Session,
    purpose: str,
    token: str,
    community: Community | None = None,
) -> tuple[Member, member_tokens.MembershipToken]:
    """The member a token names and what it says; BadToken when it cannot be trusted, or
    when it arrived at another ``community``'s address than its membership's."""
    try:
        found = member_tokens.read(ctx.secret, purpose, token, ctx.now())
    except member_tokens.UnusableToken as exc:
        raise BadToken(str(exc)) from None
    membership = session.get(Membership, found.membership_id)
    if membership is None or membership.person_id != found.person_id:
        raise BadToken("this link no longer applies: the membership it was for is gone")
    if community is not None and membership.community_id != community.id:
        raise BadToken(f"this link is not for {community.name}")
    person = session.get(Person, found.person_id)
    owner = session.get(Community, membership.community_id)
    assert person is not None and owner is not None
    return Member(owner, person, membership), found


# Confirmation mail


def mails_since(session: Session, recipient: str, kinds: tuple[str, ...], since: datetime) -> int:
    """How many mails of these kinds the outbox holds for one address since a time."""
    query = (
        select(func.count())
        .select_from(OutboundMessage)
        .where(
            OutboundMessage.recipient == recipient,
            col(OutboundMessage.kind).in_(kinds),
            OutboundMessage.created_at >= since,
        )
    )
    return int(session.exec(query).one())


def send_confirmation(
    ctx: Context, session: Session, member: Member, action: str, delivery: str | None = None
) -> Result:
    """Mail the person a confirmation for ``action``: reply to it, or open the link."""
    email = member.person.email
    since = ctx.now() - timedelta(days=1)
    if mails_since(session, email, ("confirmation",), since) >= CONFIRMATIONS_PER_DAY:
        return Result.LIMITED
    community = member.community
    token = confirmation_token(ctx, member.membership, action, delivery)
    address = ctx.address_book(session).address(community.slug, Kind.CONFIRM, token)
    verb = "join" if action == JOIN else "leave"
    notice = Notice(
        to=email,
        subject=f"Confirm: {verb} {community.name}",
        kind="confirmation",
        dedup_key=f"confirmation:{token}",
        person_id=member.person.id,
        reply_to=address,
    )
    send_rendered(
        ctx,
        session,
        community,
        "notices/confirm.txt",
        notice,
        email=email,
        action=action,
        newsletter=delivery == Delivery.NEWSLETTER.value,
        address=address,
        url=confirm_url(ctx, token),
        days=CONFIRM_DAYS,
    )
    return Result.SENT


# Changes


def request_subscription(
    ctx: Context,
    session: Session,
    community: Community,
    email: str,
    *,
    name: str = "",
    delivery: str | None = None,
) -> tuple[Result, Member]:
    """Ask to join: create the person and a pending membership if needed, mail a confirmation.

    Nothing becomes active here. An unsubscribed membership stays unsubscribed until the
    confirmation is answered, so a forged request cannot bring back someone who left.
    ``delivery`` is `newsletter` for a newsletter-only join; a plain join by someone who
    was newsletter-only before asks for every post again.
    """
    address = check_email(email)
    now = ctx.now()
    person = find_person(session, address)
    if person is None:
        person = Person(email=address, name=name.strip(), created_at=now)
        session.add(person)
        session.flush()
    membership = membership_of(session, community, person)
    if membership is None:
        assert community.id is not None and person.id is not None
        membership = Membership(
            community_id=community.id,
            person_id=person.id,
            status=MembershipStatus.PENDING.value,
            joined_at=now,
            updated_at=now,
        )
        session.add(membership)
        session.flush()
    member = Member(community, person, membership)
    if member.banned:
        return Result.REFUSED, member
    if member.active:
        return Result.ALREADY, member
    if delivery is None and membership.delivery == Delivery.NEWSLETTER.value:
        delivery = Delivery.EACH.value
    return send_confirmation(ctx, session, member, JOIN, delivery), member


def request_unsubscription(
    ctx: Context, session: Session, community: Community, email: str
) -> Result:
    """Ask, on someone else's behalf, that an address leave: the address itself confirms."""
    member = find_member(session, community, check_email(email))
    if member is None or member.membership.status == MembershipStatus.UNSUBSCRIBED.value:
        return Result.NOT_MEMBER
    if member.banned:
        return Result.REFUSED
    return send_confirmation(ctx, session, member, LEAVE)


def activate(member: Member, now: datetime, delivery: str | None = None) -> Result:
    """Make a confirmed membership active, with the delivery its join asked for, if any."""
    membership = member.membership
    if member.banned:
        return Result.REFUSED
    if member.active:
        return Result.ALREADY
    if membership.status == MembershipStatus.PENDING.value:
        membership.joined_at = now
    membership.status = MembershipStatus.ACTIVE.value
    if delivery is not None:
        membership.delivery = delivery
    membership.updated_at = now
    # A member back after leaving gets news from now, not a digest of their absence.
    start_digests_now(membership, now)
    return Result.DONE


def unsubscribe(member: Member, now: datetime) -> Result:
    """Leave at once (a pending request is withdrawn the same way)."""
    membership = member.membership
    if member.banned:
        return Result.REFUSED
    if membership.status == MembershipStatus.UNSUBSCRIBED.value:
        return Result.ALREADY
    membership.status = MembershipStatus.UNSUBSCRIBED.value
    membership.updated_at = now
    return Result.DONE


def confirm(
    ctx: Context, session: Session, token: str, community: Community | None = None
) -> tuple[Result, Member, str]:
    """Carry out what a confirmation token confirms, once; BadToken when it cannot be
    trusted or belongs to another ``community``. A token used before answers USED."""
    member, found = member_for_token(ctx, session, tokens.CONFIRM, token, community)
    now = ctx.now()
    if not member_tokens.consume(session.connection(), tokens.CONFIRM, token, now):
        return Result.USED, member, found.action
    if found.action == JOIN:
        result = activate(member, now, found.delivery)
    else:
        result = unsubscribe(member, now)
    session.flush()
    return result, member, found.action


def confirmation_used(session: Session, token: str) -> bool:
    """Whether a confirmation has acted already (the page then says so, with no button)."""
    return member_tokens.is_used(session.connection(), token)


def set_delivery(member: Member, delivery: str, now: datetime) -> Result:
    """each, digest, newsletter or none; only for active members."""
    Delivery(delivery)
    if not member.active:
        return Result.REFUSED if member.banned else Result.NOT_MEMBER
    paused = member.membership.delivery_disabled_reason is not None
    if member.membership.delivery == delivery and not paused:
        return Result.ALREADY
    if delivery == Delivery.DIGEST.value and member.membership.delivery != delivery:
        start_digests_now(member.membership, now)
    member.membership.delivery = delivery
    member.membership.updated_at = now
    if paused:
        resume_delivery(member.person, member.membership)
    return Result.DONE


def set_themes(session: Session, member: Member, slugs: list[str], now: datetime) -> Result:
    """Replace the member's themes; InvalidInput (naming the known ones) for unknown slugs."""
    if not member.active:
        return Result.REFUSED if member.banned else Result.NOT_MEMBER
    themes = check_themes(slugs, known_theme_slugs(session))
    if list(member.membership.themes) == themes:
        return Result.ALREADY
    member.membership.themes = themes
    member.membership.updated_at = now
    return Result.DONE


def set_preferences(
    member: Member,
    now: datetime,
    *,
    digest_format: str | None = None,
    only_my_themes: bool | None = None,
    event_reminders: bool | None = None,
) -> Result:
    """The digest format, "only my themes" and event reminders; only for active members."""
    if not member.active:
        return Result.REFUSED if member.banned else Result.NOT_MEMBER
    wanted = {
        "digest_format": check_choice("format", digest_format, DIGEST_FORMATS)
        if digest_format is not None
        else None,
        "only_my_themes": only_my_themes,
        "event_reminders": event_reminders,
    }
    membership = member.membership
    changes = {k: v for k, v in wanted.items() if v is not None and getattr(membership, k) != v}
    for key, value in changes.items():
        setattr(membership, key, value)
    if not changes:
        return Result.ALREADY
    membership.updated_at = now
    return Result.DONE


PROFILE_FIELDS = ("affiliation", "country", "organisation", "name")


def set_profile(member: Member, values: dict[str, str]) -> Result:
    """A member's own affiliation, country, organisation and name (what the participation
    figures count); InvalidInput naming a bad field. Only for active members."""
    if not member.active:
        return Result.REFUSED if member.banned else Result.NOT_MEMBER
    unknown = sorted(set(values) - set(PROFILE_FIELDS))
    if unknown:
        raise InvalidInput(f"{unknown[0]}: not a profile field ({', '.join(PROFILE_FIELDS)})")
    checked: dict[str, str | None] = {}
    if "affiliation" in values:
        checked["affiliation"] = check_choice("affiliation", values["affiliation"], AFFILIATIONS)
    if "country" in values:
        checked["country"] = check_country(values["country"])
    for key in ("organisation", "name"):
        if key in values:
            checked[key] = " ".join(values[key].split())[:200]
    person = member.person
    changes = {k: v for k, v in checked.items() if getattr(person, k) != v}
    for key, value in changes.items():
        setattr(person, key, value)
    session = object_session(person)
    if changes and session is not None:
        mark_people(session.connection(), [person.id], changes)
    return Result.DONE if changes else Result.ALREADY


def notify_change(
    ctx: Context,
    session: Session,
    community: Community,
    to: str,
    change: str,
    *,
    kind: str,
    dedup_key: str,
    person_id: int | None = None,
    reason: str = "",
    delivery: str = "",
) -> bool:
    """Tell someone what became of their membership (joined, left, refused, bad link)."""
    subjects = {"joined": "Welcome to", "left": "You have left"}
    notice = Notice(
        to=to,
        subject=f"{subjects.get(change, 'Your membership of')} {community.name}",
        kind=kind,
        dedup_key=dedup_key,
        person_id=person_id,
    )
    template = "notices/membership-change.txt"
    return send_rendered(
        ctx,
        session,
        community,
        template,
        notice,
        change=change,
        email=to,
        reason=reason,
        delivery=delivery,
        me_url=_public(ctx, "me"),
    )


CHANGES = {
    (JOIN, Result.USED): "used",
    (LEAVE, Result.USED): "used",
    (JOIN, Result.DONE): "joined",
    (JOIN, Result.ALREADY): "already-member",
    (LEAVE, Result.DONE): "left",
    (LEAVE, Result.ALREADY): "already-left",
}


def change_name(action: str, result: Result) -> str:
    """The membership-change notice that tells the outcome of ``action``."""
    return CHANGES.get((action, result), "refused")
