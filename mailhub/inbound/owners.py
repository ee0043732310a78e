"""Mail to `<list>-owner@` and `postmaster@`: forwarded to the people who run them.

`<list>-owner@` reaches the community's active moderators and admins, as GNU Mailman's
-owner does (the instance's admins when the community has none); `postmaster@<domain>`,
which RFC 5321 requires every mail domain to accept, reaches the instance's admins: every
active admin of a community and `instance.admin_email`. Every notice that invites a
question names the -owner address, so this is how someone who was refused, confused or
bounced reaches a person rather than a program.

Each person gets one forward through the outbox, from the address written to, with the
writer's name on it and the writer as Reply-To, so an answer goes to the writer and not
back here. The text is inline and attachments are only named: the message as it arrived
stays in the spool (`mailhub inbound show ID --raw`). The dedup key holds the Message-ID,
so mail that arrives twice is forwarded once.

Never forwarded, so that no two services can pass mail back and forth: bounces,
auto-replies and mail carrying our loop marker (the pipeline classifies these before this
route), mail from the null sender (notifications of delivery) and mail from one of our own
addresses. The writer gets no copy of their own mail. A message with nobody to forward it
to is quarantined with the reason, for an admin to read with `mailhub inbound list`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from mailhub.addresses import InvalidAddress, Kind, normalise_address
from mailhub.inbound.imap import SOURCE as IMAP_SOURCE
from mailhub.inbound.outcomes import Incoming, Outcome
from mailhub.members import admin_addresses
from mailhub.models import Community, InboundState
from mailhub.moderation.team import moderators
from mailhub.outbound.compose import Notice, send_notice
from mailhub.outbound.headers import mailbox, short_name
from mailhub.rendering import one_line, render

NULL_SENDER = "<>"
Team = list[tuple[str, int | None]]


def handle_owner(incoming: Incoming) -> Outcome:
    """Route for Kind.OWNER: the community's moderators and admins."""
    community = incoming.community
    team: Team = [(p.email, p.id) for p in moderators(incoming.session, community)]
    audience = f"the moderators and admins of {community.name}"
    if not team:
        team = _instance_admins(incoming)
        audience = f"the administrators, as {community.name} has no moderator or admin yet"
    return _forward(incoming, community, team, audience)


def handle_postmaster(incoming: Incoming) -> Outcome:
    """Route for Kind.POSTMASTER: the instance's admins."""
    audience = "the administrators of this mailing list service"
    return _forward(incoming, None, _instance_admins(incoming), audience)


def _instance_admins(incoming: Incoming) -> Team:
    return admin_addresses(incoming.session, None, incoming.ctx.settings.instance.admin_email)


@dataclass(frozen=True)
class Writer:
    """Who wrote, as the forward shows them, and where an answer to them goes."""

    address: str
    name: str
    reply_to: str


def _forward(incoming: Incoming, community: Community | None, team: Team, audience: str) -> Outcome:
    msg_class = Kind.OWNER.value if community else Kind.POSTMASTER.value
    writer = _writer(incoming)
    if isinstance(writer, str):
        return incoming.outcome(msg_class, f"not forwarded: {writer}")
    people = [(email, person_id) for email, person_id in team if email != writer.address]
    if not people:
        if team:
            return incoming.outcome(msg_class, "not forwarded: written by its only reader")
        reason = "nobody to forward it to: no moderator or admin, no instance.admin_email"
        return incoming.outcome(msg_class, reason, InboundState.QUARANTINED.value)
    _send(incoming, community, writer, people, audience)
    return incoming.outcome(msg_class, f"forwarded to {', '.join(e for e, _ in people)}")


def _send(
    incoming: Incoming, community: Community | None, writer: Writer, people: Team, audience: str
) -> None:
    """Queue one forward per person, each once per Message-ID."""
    ctx, parsed = incoming.ctx, incoming.parsed
    book = ctx.address_book(incoming.session)
    address = book.address(community.slug, Kind.OWNER) if community else book.postmaster()
    text = render(
        "notices/owner-forward.txt",
        ctx.settings.templates_override,
        writer=f"{writer.name} <{writer.address}>" if writer.name else writer.address,
        address=address,
        audience=audience,
        readers=[email for email, _ in people],
        reply_to=writer.reply_to,
        subject=parsed.subject or "(no subject)",
        text=parsed.text,
        attachments=parsed.attachments,
        inbound_id=incoming.item.row.id,
    )
    where = f"the owners of {community.name}" if community else address
    key = hashlib.sha256(incoming.item.message_id.encode()).hexdigest()[:24]
    scope = community.id if community else "instance"
    for email, person_id in people:
        notice = Notice(
            to=email,
            subject=f"To {where}: {one_line(parsed.subject) or '(no subject)'}",
            text=text,
            kind="owner-forward",
            dedup_key=f"owner-forward:{scope}:{key}:{email}",
            person_id=person_id,
            reply_to=mailbox(writer.name, writer.reply_to),
            from_kind=Kind.OWNER,
            from_name=f"{writer.name or writer.address} via "
            + (community.name if community else "postmaster"),
        )
        send_notice(ctx, incoming.session, community, notice)


def _writer(incoming: Incoming) -> Writer | str:
    """Who wrote, or why their mail is not forwarded."""
    row, parsed = incoming.item.row, incoming.parsed
    # IMAP has no envelope: an empty sender there means no Return-Path, not a null sender.
    if row.mail_from.strip() == NULL_SENDER or (
        not row.mail_from.strip() and row.source != IMAP_SOURCE
    ):
        return "from the null sender (a notification of delivery)"
    try:
        address = normalise_address(parsed.from_address or row.mail_from)
    except InvalidAddress:
        return "no usable From address to answer"
    book = incoming.ctx.address_book(incoming.session)
    if book.resolve(address) is not None or book.resolve(row.mail_from) is not None:
        return "from one of our own addresses"
    # An answer goes where the writer asked, unless that is one of our addresses (the list).
    asked = [a for a in parsed.reply_to if book.resolve(a) is None]
    return Writer(address, short_name(parsed.from_name), asked[0] if asked else address)
