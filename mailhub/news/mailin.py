"""Mail to `<list>-news@` and `<list>-events@`: read the submission, hold it for moderation,
or tell the sender exactly what was missing or wrong (and store nothing).

Never answered: mail from our own addresses, and an address past `REPLIES_PER_DAY`
answers, so a broken auto-responder cannot keep us talking.
"""

from __future__ import annotations

import re
from datetime import timedelta

from sqlmodel import select

from mailhub.addresses import InvalidAddress, normalise_address
from mailhub.events.icsfile import read_ics
from mailhub.events.lines import FIELD_LINE, EventFields, Unreadable, read_event_lines
from mailhub.inbound.outcomes import Incoming, Outcome
from mailhub.inbound.parse import ParsedMessage
from mailhub.inbound.trim import trim_reply
from mailhub.models import Post
from mailhub.news.publish import submission_key
from mailhub.news.store import (
    NewsFields,
    Submitter,
    person_by_email,
    submit_event,
    submit_news,
    uid_taken,
)
from mailhub.outbound.compose import Notice, owner_reply_to, send_rendered
from mailhub.subscriptions import mails_since
from mailhub.weblinks import check_url

REPLIES_PER_DAY = 5
REPLY_KIND = "submission-reply"
_BARE_LINK = re.compile(r"^\s*<?(https?://\S+?)>?\s*$")


def read_news(subject: str, text: str) -> NewsFields:
    """Title from the subject, link from a `Link:` line or a first line that is only a link."""
    problems = []
    title = subject.strip()
    if not title:
        problems.append("no subject: the subject is the news item's title")
    url: str | None = None
    body: list[str] = []
    for line in trim_reply(text).text.splitlines():
        field = FIELD_LINE.match(line)
        bare = _BARE_LINK.match(line)
        if url is None and field and field.group(1).lower() in ("link", "url"):
            try:
                url = check_url(field.group(2))
            except ValueError as exc:
                problems.append(str(exc))
                url = ""
        elif url is None and bare and not any(b.strip() for b in body):
            url = bare.group(1)
        else:
            body.append(line)
    text_body = "\n".join(body).strip()
    if not text_body and not url:
        problems.append("no text: write the news item in the body of the mail")
    if problems:
        raise Unreadable(problems)
    return NewsFields(title=title[:300], body=text_body, url=url or None)


def read_event(parsed: ParsedMessage, default_zone: str) -> EventFields:
    """From an attached `.ics` file when there is one, else from the lines of the mail."""
    for part in parsed.attachments:
        name = (part.filename or "").lower()
        if name.endswith(".ics") or part.content_type.lower() == "text/calendar":
            return read_ics(part.data, default_zone)
    return read_event_lines(trim_reply(parsed.text).text, parsed.subject, default_zone)


def _submitter(incoming: Incoming, sender: str) -> Submitter:
    person = person_by_email(incoming.session, sender)
    return Submitter(
        email=sender,
        name=incoming.parsed.from_name or (person.name if person else ""),
        person_id=person.id if person else None,
        message_id=incoming.item.message_id,
        inbound_id=incoming.item.row.id,
        full_text=incoming.parsed.text,
    )


def _answer(incoming: Incoming, sender: str, what: str, problems: list[str]) -> bool:
    ctx, session, community = incoming.ctx, incoming.session, incoming.community
    if (
        mails_since(session, sender, (REPLY_KIND,), ctx.now() - timedelta(days=1))
        >= REPLIES_PER_DAY
    ):
        return False
    book = ctx.address_book(session)
    notice = Notice(
        to=sender,
        subject=f"Your {what} was not stored: {incoming.parsed.subject or '(no subject)'}",
        kind=REPLY_KIND,
        dedup_key=f"{REPLY_KIND}:{incoming.destination.kind}:{incoming.item.message_id}",
        in_reply_to=incoming.item.message_id,
        reply_to=owner_reply_to(book, community),
    )
    return send_rendered(
        ctx,
        session,
        community,
        "news/unreadable.txt",
        notice,
        what=what,
        problems=problems,
        address=book.address(community.slug, incoming.destination.kind),
    )


def _sender(incoming: Incoming) -> str | None:
    try:
        sender = normalise_address(incoming.parsed.from_address or "")
    except InvalidAddress:
        return None
    if incoming.ctx.address_book(incoming.session).resolve(sender) is not None:
        return None
    return sender


def _already(incoming: Incoming, kind: str) -> Post | None:
    key = submission_key(kind, incoming.item.message_id)
    query = select(Post).where(Post.community_id == incoming.community.id, Post.message_id == key)
    return incoming.session.exec(query).first()


def _receive(incoming: Incoming, what: str, msg_class: str) -> Outcome:
    sender = _sender(incoming)
    if sender is None:
        return incoming.outcome(msg_class, f"{what} from no usable or from our own address")
    earlier = _already(incoming, "news" if what == "news item" else "event")
    if earlier is not None:
        return incoming.outcome("duplicate", f"duplicate of item #{earlier.id}")
    community = incoming.community
    try:
        if what == "news item":
            fields = read_news(incoming.parsed.subject, incoming.parsed.text)
            stored_id = submit_news(
                incoming.ctx, incoming.session, community, fields, _submitter(incoming, sender)
            ).post_id
        else:
            event = read_event(incoming.parsed, community.timezone)
            if uid_taken(incoming.session, event.uid):
                raise Unreadable([f"an event with the same UID ({event.uid}) was sent before"])
            stored_id = submit_event(
                incoming.ctx, incoming.session, community, event, _submitter(incoming, sender)
            ).post_id
    except Unreadable as exc:
        answered = _answer(incoming, sender, what, exc.problems)
        note = "answered" if answered else "not answered (reply limit)"
        return incoming.outcome(msg_class, f"{what} not stored, {note}: {exc}")
    outcome = incoming.outcome(msg_class, f"{what} held for moderation as item #{stored_id}")
    outcome.post_id = stored_id
    return outcome


def handle_news(incoming: Incoming) -> Outcome:
    """Route for Kind.NEWS."""
    return _receive(incoming, "news item", "news")


def handle_event(incoming: Incoming) -> Outcome:
    """Route for Kind.EVENTS."""
    return _receive(incoming, "event", "event")
