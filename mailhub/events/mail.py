"""The mail about one or more events: text and HTML from the events templates, and each
event's `.ics` attached, so a member adds an event to their calendar in one click.

Shared by the event digest and event reminders; written once per run, addressed per member
(see newsletter/letter.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session

from mailhub import rendering
from mailhub.context import Context
from mailhub.digest.render import new_mark
from mailhub.events.icsfile import calendar_for
from mailhub.models import Community, Event
from mailhub.newsletter.contents import Item, when_text
from mailhub.newsletter.issues import links
from mailhub.newsletter.letter import Calendar, Letter, body
from mailhub.outbound.leave import leave_marker, leave_words
from mailhub.weblinks import web_link


def shown(event: Event, zone: str) -> Item:
    """An event as a mail lists it, its time in the community's ``zone``."""
    when = when_text(event, zone)
    return Item("Event", event.title, when, event.description, web_link(event.url), ())


def letter(
    ctx: Context,
    session: Session,
    community: Community,
    events: Sequence[Event],
    subject: str,
    intro: str,
    id_prefix: str,
) -> Letter:
    """One mail listing ``events`` with their calendar files, ready to address."""
    mark = new_mark()
    words = {
        "heading": subject,
        "community": community.name,
        "intro": intro,
        "events": [shown(e, community.timezone) for e in events],
        "request": links(ctx, session, community)["request"],
        **leave_words(ctx.settings, community.name, leave_marker(mark)),
    }
    override = ctx.settings.templates_override
    text = rendering.render("events/events.txt", override, **words)
    html = rendering.render("events/events.html", override, **words)
    calendars = [Calendar(f"event-{e.id}.ics", calendar_for(e)) for e in events]
    return Letter(
        settings=ctx.settings,
        book=ctx.address_book(session),
        community=community,
        sender_name=f"{community.name} events",
        subject=subject,
        date=ctx.now(),
        id_prefix=id_prefix,
        body=body(text, html, mark, calendars),
    )


def stamp(moment: datetime) -> str:
    return f"{moment:%Y%m%dT%H%MZ}"
