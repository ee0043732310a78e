"""The contract of every mail mailhub sends: every address and link in it works.

A story over the real SMTP listener, the real web server and the frozen clock makes a mail of
every kind named in `mailhub/outbound/kinds.py` (posts, digests in both formats, the
newsletter, the event digest and reminder, a discussion's announcement, reminder, status,
synopsis request, synopsis and correction, every notice, a portal sign-in, and the
moderators' monthly report). Then, for
one mail of each kind, every address of ours it carries (headers, bodies, its return path)
is mailed over SMTP as its reader would, and every link to our web endpoint is fetched (GET
and HEAD change nothing), its form posted, and, for unsubscribe links, the RFC 8058
one-click POST sent; each time the effect is read back from the store. Links into the
portal (List-Archive, a post's Archived-At, the archive line of digests and newsletters) are
opened as their reader does: refused to a visitor of the members-only community, then
signed in by mail and shown the page, with the post itself where the link names one.

It fails when a kind of mail is not made by the story, when a mail carries an address of ours
that reaches nothing or a link to a page this test does not know, and when an action does not
have its effect: a new kind of mail or link must be added here.
"""

from __future__ import annotations

import http.client
import re
import smtplib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from html.parser import HTMLParser
from itertools import count
from typing import Any
from urllib.parse import urlsplit

import pytest
from portal_client import Client, link_and_code
from smtp_server import running_listener
from sqlmodel import col, func, select
from test_web import running_web

from mailhub import member_tokens, tokens
from mailhub.addresses import Destination, Kind
from mailhub.clock import FrozenClock
from mailhub.communities import get_community
from mailhub.context import Context
from mailhub.digest.digests import send_due
from mailhub.discussions import lifecycle, synopsis
from mailhub.events.digest import send_digest
from mailhub.inbound import pipeline
from mailhub.members import MemberFields, add_member, find_person
from mailhub.models import (
    Attachment,
    Decision,
    Discussion,
    Event,
    InboundMessage,
    Membership,
    OutboundMessage,
    Person,
    Post,
    PostStatus,
    Resource,
    UsedToken,
    WebSession,
)
from mailhub.moderation.queue import send_reminders
from mailhub.news.publish import submission_key
from mailhub.newsletter import issues, sending
from mailhub.outbound import kinds
from mailhub.outbound.bounce_notices import disable_delivery
from mailhub.reports.mail import send_reports
from mailhub.reports.periods import month_before
from mailhub.scheduler import run_due

DOMAIN = "lists.example.org"
LIST, NEWS, EVENTS = f"irnet@{DOMAIN}", f"irnet-news@{DOMAIN}", f"irnet-events@{DOMAIN}"
REQUEST = f"irnet-request@{DOMAIN}"
MOD, MOD2 = "maria@ministry.example.org", "omar@union.example.org"
ADMIN, AMINA, BOB = "admin@example.org", "amina@example.org", "bob@example.org"
DEE, RFC, NELL = "dee@example.org", "rfc@example.org", "nell@example.org"
LEO, ZED, EVE = "leo@example.org", "zed@example.org", "eve@example.org"
NEWCOMER, STRANGER = "new@example.org", "stranger@example.net"
OUR_ADDRESS = re.compile(r"[A-Za-z0-9._%+=-]+@" + re.escape(DOMAIN), re.IGNORECASE)
LINK = re.compile(r"https?://[^\s<>\"')\]]+")
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


class Mailer:
    """Mail over real SMTP to the running listener, processed by the real pipeline."""

    def __init__(self, ctx: Context, port: int) -> None:
        self.ctx, self.port, self.numbers = ctx, port, count(1)

    def send(
        self,
        sender: str,
        to: str,
        subject: str,
        text: str,
        *,
        envelope_from: str | None = None,
        attachment: bytes | None = None,
        **headers: str,
    ) -> str:
        mail = EmailMessage()
        mail["From"] = sender
        mail["To"] = to
        mail["Subject"] = subject
        message_id = f"contract-{next(self.numbers)}@example.org"
        mail["Message-ID"] = f"<{message_id}>"
        for name, value in headers.items():
            mail[name.replace("_", "-")] = value
        mail.set_content(text)
        if attachment is not None:
            mail.add_attachment(
                attachment, maintype="application", subtype="pdf", filename="report.pdf"
            )
        with smtplib.SMTP("127.0.0.1", self.port) as smtp:
            smtp.sendmail(
                sender if envelope_from is None else envelope_from,
                [to],
                mail.as_bytes(policy=policy.SMTP),
            )
        pipeline.drain(self.ctx)
        return message_id


# --- the story: a mail of every kind -------------------------------------------------------


def rows(ctx: Context, kind: str | None = None, to: str | None = None) -> list[OutboundMessage]:
    with ctx.session() as session:
        query = select(OutboundMessage).order_by(col(OutboundMessage.id))
        if kind:
            query = query.where(OutboundMessage.kind == kind)
        if to:
            query = query.where(OutboundMessage.recipient == to)
        return list(session.exec(query))


def parsed(row: OutboundMessage) -> EmailMessage:
    message = BytesParser(policy=policy.default).parsebytes(row.raw)
    assert isinstance(message, EmailMessage)
    return message


def token_address(row: OutboundMessage, letter: str) -> str:
    found = re.search(rf"irnet\+{letter}-[a-z0-9.]+@{re.escape(DOMAIN)}", row.raw.decode())
    assert found, (row.kind, letter)
    return found.group(0)


def post_by(ctx: Context, message_id: str) -> Post | None:
    with ctx.session() as session:
        return session.exec(select(Post).where(Post.message_id == message_id)).first()


def seed_members(ctx: Context) -> None:
    with ctx.session() as session:
        irnet = get_community(session, "irnet")
        for fields in [
            MemberFields(email=MOD, name="Maria Mod", role="moderator", affiliation="government"),
            MemberFields(email=MOD2, name="Omar Mod", role="moderator", affiliation="workers"),
            MemberFields(email=ADMIN, name="Ada Admin", role="admin", delivery="none"),
            MemberFields(email=AMINA, name="Amina K", affiliation="workers", country="TH"),
            MemberFields(email=BOB, name="Bob B", affiliation="employers", country="VN"),
            MemberFields(email=LEO, name="Leo L", affiliation="government", country="ID"),
            MemberFields(email=ZED, name="Zed Z", affiliation="academic", country="PH"),
            MemberFields(email=EVE, name="Eve E", affiliation="workers", country="MY"),
            MemberFields(email=DEE, name="Dee Digest", delivery="digest"),
            MemberFields(email=RFC, name="Rafa Classic", delivery="digest"),
            MemberFields(email=NELL, name="Nell News", delivery="newsletter"),
        ]:
            _, membership = add_member(session, irnet, fields, ctx.now())
            if fields.email == RFC:
                membership.digest_format = "rfc1153"


def moderation_story(ctx: Context, mail: Mailer, clock: FrozenClock) -> None:
    """held, fyi, post, resource-offer, rejected, moderation-reply, nonmember, reminder,
    command-to-list."""
    first = mail.send(
        AMINA, LIST, "Wage councils", "How do your wage councils work?", attachment=PDF
    )
    decide = token_address(rows(ctx, "held", MOD)[-1], "m")
    mail.send(MOD, decide, "Re: held", "approve")
    post = post_by(ctx, first)
    assert post is not None and post.status == PostStatus.APPROVED.value
    assert rows(ctx, "post") and rows(ctx, "fyi", MOD2) and rows(ctx, "resource-offer", MOD)
    mail.send(MOD, decide, "Re: held", "reject")  # decided already: told so
    assert rows(ctx, "moderation-reply", MOD)
    bad = mail.send(BOB, LIST, "Buy now", "Cheap offers")
    mail.send(MOD, token_address(rows(ctx, "held", MOD)[-1], "m"), "Re: held", "reject spam")
    assert rows(ctx, "rejected", BOB) and post_by(ctx, bad) is not None
    with ctx.session() as session:
        get_community(session, "irnet").nonmember_policy = "reject"
    mail.send(STRANGER, LIST, "Hello", "Can I post?")
    assert rows(ctx, "nonmember", STRANGER)
    with ctx.session() as session:
        get_community(session, "irnet").nonmember_policy = "hold"
    mail.send(LEO, LIST, "A question that waits", "Anyone?")
    mail.send(LEO, LIST, "unsubscribe", "unsubscribe me")
    assert rows(ctx, "command-to-list", LEO)
    clock.advance(timedelta(days=1, hours=1))
    with ctx.session() as session:
        send_reminders(ctx, session)
    assert rows(ctx, "reminder", MOD)


def membership_story(ctx: Context, mail: Mailer, run_cli: Callable[..., Any]) -> None:
    """confirmation, command-reply, confirmation-reply, unsubscribe-reply,
    unsubscribe-notice, bounce_disabled, bounce_admin, submission-reply, owner-forward."""
    mail.send(NEWCOMER, REQUEST, "subscribe", "subscribe")
    assert rows(ctx, "command-reply", NEWCOMER)
    mail.send(NEWCOMER, token_address(rows(ctx, "confirmation", NEWCOMER)[-1], "c"), "Re", "yes")
    assert rows(ctx, "confirmation-reply", NEWCOMER)
    mail.send(LEO, token_address(rows(ctx, "post", LEO)[-1], "u"), "unsubscribe", "")
    assert rows(ctx, "unsubscribe-reply", LEO)
    result = run_cli("member", "unsubscribe", ZED, "--community", "irnet", "--notify")
    assert result.exit_code == 0, result.output
    assert rows(ctx, "unsubscribe-notice", ZED)
    with ctx.session() as session:
        bob = find_person(session, BOB)
        assert bob is not None
        bob.bounce_score = 5.0
        disable_delivery(ctx, session, get_community(session, "irnet"), bob, "550 5.1.1 unknown")
    assert rows(ctx, "bounce_disabled", BOB) and rows(ctx, "bounce_admin", ADMIN)
    mail.send(AMINA, EVENTS, "Something", "no title, no time, nothing to read")
    assert rows(ctx, "submission-reply", AMINA)
    mail.send(STRANGER, f"postmaster@{DOMAIN}", "Your server", "Who runs this list?")
    assert rows(ctx, "owner-forward", ADMIN)


def discussion_story(ctx: Context, mail: Mailer, clock: FrozenClock) -> None:
    """discussion, discussion-reminder, discussion-status, synopsis-request, late,
    synopsis-reply, synopsis, synopsis-correction (and the digests due meanwhile)."""
    opens = clock.now() + timedelta(hours=1)
    closes = opens + timedelta(days=5)
    with ctx.session() as session:
        talk = lifecycle.create(
            session,
            ctx.settings.discussions,
            get_community(session, "irnet"),
            lifecycle.Plan("Platform work", "How is platform work regulated?", MOD, opens, closes),
            clock.now(),
        )
        talk_id = talk.id
        remind_at = talk.remind_at
    assert talk_id is not None and remind_at is not None
    clock.set(opens)
    run_due(ctx)
    answer = mail.send(AMINA, token_address(rows(ctx, "discussion", AMINA)[-1], "r"), "Re", "Yes.")
    mail.send(MOD, token_address(rows(ctx, "held", MOD)[-1], "m"), "Re: held", "approve")
    assert (post_by(ctx, answer) or Post()).status == PostStatus.APPROVED.value
    clock.set(remind_at)
    run_due(ctx)
    assert rows(ctx, "discussion-reminder") and rows(ctx, "discussion-status", MOD)
    clock.set(closes)
    run_due(ctx)
    request = rows(ctx, "synopsis-request", MOD)[-1]
    mail.send(EVE, token_address(rows(ctx, "discussion", EVE)[-1], "r"), "Re", "Late, sorry.")
    assert rows(ctx, "late", EVE)
    mail.send(BOB, token_address(request, "s"), "Re", "My conclusions")
    assert rows(ctx, "synopsis-reply", BOB)
    mail.send(MOD, token_address(request, "s"), "Re", "Conclusions: codes of practice work.")
    assert rows(ctx, "synopsis")
    with ctx.session() as session:
        synopsis.set_synopsis(ctx, session, talk_id, "Corrected conclusions.", correction=True)
    assert rows(ctx, "synopsis-correction")


def search_story(ctx: Context, mail: Mailer) -> None:
    """search-reply: a member searches the archive by mail (indexed by the runs before)."""
    mail.send(AMINA, REQUEST, "Looking for", 'search "wage councils"')
    [answer] = rows(ctx, "search-reply", AMINA)
    text = decoded_text(parsed(answer))
    assert "1. Wage councils" in text and "/c/irnet/t/" in text, text
    assert not rows(ctx, "command-reply", AMINA)  # the results are the answer


def periodic_story(ctx: Context, mail: Mailer, clock: FrozenClock) -> None:
    """digest (MIME and RFC 1153), digest-reply, newsletter, event-digest, event-reminder,
    report."""
    now = clock.now()
    with ctx.session() as session:
        irnet = get_community(session, "irnet")
        assert irnet.id is not None
        irnet_id = irnet.id
        session.add(
            Event(
                community_id=irnet_id,
                uid="forum@example.org",
                title="Tripartite forum",
                starts_at=now + timedelta(hours=12),
                ends_at=now + timedelta(hours=15),
                timezone="Asia/Bangkok",
                location="Bangkok",
                status=PostStatus.APPROVED.value,
                created_at=now,
            )
        )
    run_due(ctx)  # the event reminder, and whatever digest fell due
    assert rows(ctx, "event-reminder")
    send_due(ctx, irnet_id, now + timedelta(days=7))
    assert rows(ctx, "digest", DEE) and rows(ctx, "digest", RFC)
    digest = parsed(rows(ctx, "digest", DEE)[-1])
    mail.send(DEE, LIST, f"Re: {digest['Subject']}", "Thanks for all of these!")
    assert rows(ctx, "digest-reply", DEE)
    with ctx.session() as session:
        issue = issues.build(ctx, session, get_community(session, "irnet"), clock.now(), None)
        issue_id = issue.id
    assert issue_id is not None
    sending.send(ctx, issue_id)
    assert rows(ctx, "newsletter", NELL)
    send_digest(ctx, irnet_id, 4, clock.now() - timedelta(hours=6))
    assert rows(ctx, "event-digest")
    with ctx.session() as session:
        irnet = get_community(session, "irnet")
        send_reports(ctx, session, irnet, month_before(clock.now(), irnet.timezone))
    assert rows(ctx, "report", MOD)


def portal_story(world: World) -> None:
    """sign-in: a member asks the portal for a sign-in link (last, so it is still valid)."""
    status, _, page = Client(world.web).post("/signin", {"email": AMINA, "next": "/c/irnet/"})
    assert status == 200 and "Check your mail" in page
    assert rows(world.ctx, "sign-in", AMINA)


# --- acting on what a mail carries ---------------------------------------------------------


@dataclass
class World:
    """The running instance: mail in over SMTP, pages on the web server."""

    ctx: Context
    mail: Mailer
    web: str  # the public URL, http://127.0.0.1:port
    done: list[str] = field(default_factory=list)  # what was acted on, for the report
    readers: dict[str, Client] = field(default_factory=dict)  # signed in, by address

    def resolve(self, address: str) -> Destination:
        with self.ctx.session() as session:
            found = self.ctx.address_book(session).resolve(address)
        assert found is not None, f"{address} is in a mail but reaches nothing"
        return found


def membership_row(ctx: Context, membership_id: int) -> Membership:
    with ctx.session() as session:
        found = session.get(Membership, membership_id)
        assert found is not None
        return found


def set_status(ctx: Context, membership_id: int, status: str) -> None:
    with ctx.session() as session:
        found = session.get(Membership, membership_id)
        assert found is not None
        found.status = status


def person(ctx: Context, person_id: int) -> Person:
    with ctx.session() as session:
        found = session.get(Person, person_id)
        assert found is not None
        return found


def count_rows(ctx: Context, kind: str, to: str) -> int:
    with ctx.session() as session:
        query = select(func.count()).where(
            OutboundMessage.kind == kind, OutboundMessage.recipient == to
        )
        return int(session.exec(query).one())


def verify(ctx: Context, purpose: str, token: str) -> tokens.Token | None:
    try:
        return tokens.verify(ctx.secret, purpose, token, now=ctx.now())
    except tokens.TokenError:
        return None


def mail_to_post(world: World, row: OutboundMessage, address: str, _: Destination) -> None:
    """A new post: stored for the community (held or not)."""
    message_id = world.mail.send(AMINA, address, "A new topic", "Starting a conversation.")
    assert post_by(world.ctx, message_id) is not None


def mail_to_reply(world: World, row: OutboundMessage, address: str, found: Destination) -> None:
    """A reply: a post in the thread of the post the address is for, by its person."""
    token = verify(world.ctx, tokens.REPLY, found.token or "")
    assert token is not None, address
    replied_to = token.int_value(0)
    sender = person(world.ctx, token.int_value(1)).email
    message_id = world.mail.send(sender, address, "Re: it", "My answer.")
    post = post_by(world.ctx, message_id)
    with world.ctx.session() as session:
        original = session.get(Post, replied_to)
    assert post is not None and original is not None
    assert post.thread_id == original.thread_id and post.person_id == token.int_value(1)


def mail_to_moderation(
    world: World, row: OutboundMessage, address: str, found: Destination
) -> None:
    """A moderator's answer: a decision recorded with who decided, or told why not."""
    ctx = world.ctx
    sender = row.recipient
    token = found.token or ""
    item = verify(ctx, tokens.MODERATION, token)
    if item is not None:
        post_id = item.int_value(0)
        with ctx.session() as session:
            before = session.get(Post, post_id)
            assert before is not None
            held = before.status == PostStatus.HELD.value
        replies = count_rows(ctx, "moderation-reply", sender)
        world.mail.send(sender, address, "Re: held", "approve")
        with ctx.session() as session:
            post = session.get(Post, post_id)
            decisions = session.exec(select(Decision).where(Decision.post_id == post_id)).all()
        assert post is not None
        if held:
            assert post.status == PostStatus.APPROVED.value
            assert [d.person_id for d in decisions][-1] == item.int_value(1)
        else:
            assert count_rows(ctx, "moderation-reply", sender) == replies + 1
        return
    queue = verify(ctx, tokens.QUEUE, token)
    if queue is not None:
        with ctx.session() as session:
            waiting = session.exec(
                select(Post).where(Post.status == PostStatus.HELD.value).order_by(col(Post.id))
            ).first()
        assert waiting is not None and waiting.id is not None
        world.mail.send(sender, address, "Re: reminder", f"defer {waiting.id}")
        with ctx.session() as session:
            decided = session.exec(
                select(Decision).where(Decision.post_id == waiting.id, Decision.action == "defer")
            ).all()
        assert decided and decided[-1].person_id == queue.int_value(1)
        return
    offer = verify(ctx, tokens.RESOURCE, token)
    assert offer is not None, f"{address}: a moderation address of no known purpose"
    world.mail.send(sender, address, "Re: attachments", "resource 1 kind=research")
    with ctx.session() as session:
        added = session.exec(select(Resource).where(Resource.post_id == offer.int_value(0))).all()
    assert len(added) == 1


def mail_to_synopsis(world: World, row: OutboundMessage, address: str, found: Destination) -> None:
    """The moderator's synopsis address: a synopsis stored, or (set already) told how to
    correct it."""
    token = verify(world.ctx, tokens.SYNOPSIS, found.token or "")
    assert token is not None
    with world.ctx.session() as session:
        talk = session.get(Discussion, token.int_value(0))
        assert talk is not None
        before = talk.synopsis
    replies = count_rows(world.ctx, "synopsis-reply", row.recipient)
    world.mail.send(row.recipient, address, "Re: synopsis", "Conclusions, again.")
    with world.ctx.session() as session:
        talk = session.get(Discussion, token.int_value(0))
        assert talk is not None
    if before is None:
        assert talk.synopsis is not None
    else:
        assert talk.synopsis == before
        assert count_rows(world.ctx, "synopsis-reply", row.recipient) == replies + 1


def mail_to_request(world: World, row: OutboundMessage, address: str, _: Destination) -> None:
    """Commands: the answer lists them."""
    asker = f"asker{len(world.done)}@example.net"
    world.mail.send(asker, address, "help", "help")
    [answer] = rows(world.ctx, "command-reply", asker)
    assert "subscribe" in answer.raw.decode()


def confirm_effect(world: World, token: str, act: Callable[[], None]) -> None:
    """A confirmation acts once: the first use changes the membership as it says, a later
    use changes nothing."""
    ctx = world.ctx
    read = member_tokens.read(ctx.secret, tokens.CONFIRM, token, ctx.now())
    with ctx.session() as session:
        used = member_tokens.is_used(session.connection(), token)
    before = membership_row(ctx, read.membership_id).status
    act()
    after = membership_row(ctx, read.membership_id).status
    if used:
        assert after == before, "a used confirmation acted again"
    else:
        assert after == ("active" if read.action == member_tokens.JOIN else "unsubscribed")
    with ctx.session() as session:
        assert session.exec(
            select(UsedToken).where(UsedToken.digest == member_tokens.digest(token))
        ).first()


def mail_to_confirm(world: World, row: OutboundMessage, address: str, found: Destination) -> None:
    confirm_effect(
        world,
        found.token or "",
        lambda: world.mail.send(row.recipient, address, "Re: confirm", "yes"),
    )


def unsubscribe_effect(world: World, token: str, act: Callable[[], None]) -> None:
    """An unsubscribe token leaves, every time it is used on an active membership."""
    read = member_tokens.read(world.ctx.secret, tokens.UNSUBSCRIBE, token, world.ctx.now())
    set_status(world.ctx, read.membership_id, "active")
    act()
    assert membership_row(world.ctx, read.membership_id).status == "unsubscribed"
    set_status(world.ctx, read.membership_id, "active")


def mail_to_unsubscribe(
    world: World, row: OutboundMessage, address: str, found: Destination
) -> None:
    unsubscribe_effect(
        world,
        found.token or "",
        lambda: world.mail.send(row.recipient, address, "unsubscribe", ""),
    )


def dsn(recipient: str) -> str:
    return (
        "This is the mail system at host mx.example.net.\n\n"
        f"<{recipient}>: host mx.example.net said: 550 5.1.1 User unknown\n"
    )


def mail_to_bounce(world: World, row: OutboundMessage, address: str, found: Destination) -> None:
    """A bounce to the return path counts against the person the mail went to (a mail to
    someone who is no member counts against nobody), and is never posted."""
    token = verify(world.ctx, tokens.BOUNCE, found.token or "")
    assert token is not None
    person_id = token.int_value(1)
    with world.ctx.session() as session:
        bounced = session.get(Person, person_id) if person_id else None
        if bounced is not None:
            bounced.bounce_score = 0.0  # a person's bounces count once a day: start afresh
            bounced.last_bounce_at = None
    message_id = world.mail.send(
        "MAILER-DAEMON@mx.example.net",
        address,
        "Undelivered Mail Returned to Sender",
        dsn(row.recipient),
        envelope_from="",
        Auto_Submitted="auto-replied",
    )
    with world.ctx.session() as session:
        inbound = session.exec(
            select(InboundMessage).where(InboundMessage.message_id == message_id)
        ).one()
    assert inbound.msg_class == "bounce" and post_by(world.ctx, message_id) is None
    if person_id:
        assert person(world.ctx, person_id).bounce_score > 0, inbound.error
    else:
        assert "not a member" in (inbound.error or "")


def mail_to_news(world: World, row: OutboundMessage, address: str, found: Destination) -> None:
    """A submission for the newsletter or the calendar, held for the moderators."""
    lines = "Title: Regional forum\nStarts: 2027-01-20 09:00\nWhere: Hanoi\n"
    text = lines if found.kind is Kind.EVENTS else "Title: New labour code\n\nIt passed."
    message_id = world.mail.send(AMINA, address, "Submission", text)
    kind = "event" if found.kind is Kind.EVENTS else "news"
    post = post_by(world.ctx, submission_key(kind, message_id))
    assert post is not None and post.status == PostStatus.HELD.value and post.kind == kind


def mail_to_owner(world: World, row: OutboundMessage, address: str, found: Destination) -> None:
    """-owner@ and postmaster@: forwarded to the people behind them."""
    asker = f"asker{len(world.done)}@example.net"
    before = len(rows(world.ctx, "owner-forward"))
    world.mail.send(asker, address, "A question for a person", "Who can I ask about this?")
    forwarded = rows(world.ctx, "owner-forward")[before:]
    assert forwarded and all(asker in r.raw.decode() for r in forwarded)
    moderators = {MOD, MOD2, ADMIN}
    assert {r.recipient for r in forwarded} <= moderators | {"postmaster@example.org"}


ADDRESS_ACTIONS: dict[Kind, Callable[[World, OutboundMessage, str, Destination], None]] = {
    Kind.POST: mail_to_post,
    Kind.REPLY: mail_to_reply,
    Kind.MODERATION: mail_to_moderation,
    Kind.SYNOPSIS: mail_to_synopsis,
    Kind.REQUEST: mail_to_request,
    Kind.CONFIRM: mail_to_confirm,
    Kind.BOUNCE: mail_to_bounce,
    Kind.NEWS: mail_to_news,
    Kind.EVENTS: mail_to_news,
    Kind.UNSUBSCRIBE: mail_to_unsubscribe,
    Kind.OWNER: mail_to_owner,
    Kind.POSTMASTER: mail_to_owner,
}


class Forms(HTMLParser):
    """The forms of a page: their method and action."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "form":
            self.forms.append(dict(attrs))


def fetch(
    url: str, method: str = "GET", body: bytes = b"", content_type: str = ""
) -> tuple[int, str]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    headers = {"Content-Type": content_type} if content_type else {}
    connection.request(method, parts.path, body=body or None, headers=headers)
    response = connection.getresponse()
    text = response.read().decode()
    connection.close()
    return response.status, text


def press_the_button(url: str, untouched: Callable[[], None]) -> str:
    """GET the page as a person opens it, and HEAD it as a link scanner would, checking
    that neither changed anything; then post its one form as the button does; the page
    after."""
    status, page = fetch(url)
    assert status == 200, (url, status, page[:300])
    assert fetch(url, "HEAD")[0] == 200
    untouched()
    finder = Forms()
    finder.feed(page)
    [form] = finder.forms
    assert (form.get("method") or "").lower() == "post"
    target = form.get("action") or url
    status, done = fetch(target, "POST", b"", "application/x-www-form-urlencoded")
    assert status == 200, (status, done[:300])
    return done


def open_unsubscribe_link(world: World, row: OutboundMessage, url: str) -> None:
    token = url.rsplit("/", 1)[1]
    read = member_tokens.read(world.ctx.secret, tokens.UNSUBSCRIBE, token, world.ctx.now())
    owner = person(world.ctx, membership_row(world.ctx, read.membership_id).person_id)
    assert owner.email == row.recipient, (row.kind, "the link is not its reader's own")

    def still_member() -> None:
        assert membership_row(world.ctx, read.membership_id).status == "active", "GET acted"

    unsubscribe_effect(world, token, lambda: press_the_button(url, still_member))

    def one_click() -> None:
        body = b"List-Unsubscribe=One-Click"
        status, _ = fetch(url, "POST", body, "application/x-www-form-urlencoded")
        assert status == 200

    unsubscribe_effect(world, token, one_click)


def open_confirm_link(world: World, row: OutboundMessage, url: str) -> None:
    token = url.rsplit("/", 1)[1]
    read = member_tokens.read(world.ctx.secret, tokens.CONFIRM, token, world.ctx.now())
    before = membership_row(world.ctx, read.membership_id).status

    def unchanged() -> None:
        assert membership_row(world.ctx, read.membership_id).status == before, "GET acted"

    def by_page() -> None:
        status, page = fetch(url)
        assert status == 200
        with world.ctx.session() as session:
            if member_tokens.is_used(session.connection(), token):
                assert "used already" in page and "<form" not in page
                return
        press_the_button(url, unchanged)

    confirm_effect(world, token, by_page)


def sessions_of(world: World, email: str) -> int:
    with world.ctx.session() as session:
        found = find_person(session, email)
        assert found is not None
        query = select(func.count()).where(WebSession.person_id == found.id)
        return int(session.exec(query).one())


def open_sign_in_link(world: World, row: OutboundMessage, url: str) -> None:
    """GET and HEAD show the button and sign no one in; its POST signs the reader in."""
    before = sessions_of(world, row.recipient)
    reader = Client(world.web)
    path = url[len(world.web) :]
    status, headers, page = reader.get(path)
    assert status == 200 and "set-cookie" not in headers
    assert reader.request("HEAD", path)[0] == 200
    assert sessions_of(world, row.recipient) == before, "GET signed in"
    finder = Forms()
    finder.feed(page)
    [form] = finder.forms
    assert (form.get("method") or "").lower() == "post" and not form.get("action")
    status, headers, _ = reader.post(path.split("?")[0], {"next": "/c/irnet/"})
    assert status == 303 and reader.cookie and headers["location"] == "/c/irnet/"
    assert sessions_of(world, row.recipient) == before + 1
    assert reader.get("/c/irnet/")[0] == 200


def reader_of(world: World, email: str) -> Client:
    """The mail's reader, signed in to the portal as they would: ask, read the code."""
    if email not in world.readers:
        reader = Client(world.web)
        assert reader.post("/signin", {"email": email})[0] == 200
        _, code = link_and_code(world.ctx, email)
        status, _, _ = reader.post("/signin/code", {"email": email, "code": code})
        assert status == 303 and reader.cookie, status
        world.readers[email] = reader
    return world.readers[email]


def open_portal_link(world: World, row: OutboundMessage, url: str) -> None:
    """A link into the members-only archive: a visitor is refused (404, as for what does
    not exist); the mail's reader, signed in, sees the page, and the post it names."""
    path, _, anchor = url[len(world.web) :].partition("#")
    assert Client(world.web).get(path)[0] == 404
    if held_file := re.fullmatch(r"/c/irnet/queue/files/(\d+)", path):
        open_held_file_link(world, row, path, int(held_file.group(1)))
        return
    status, _, page = reader_of(world, row.recipient).get(path)
    assert status == 200, (url, status)
    assert "IRNet" in page
    if anchor:
        assert f'id="{anchor}"' in page
        with world.ctx.session() as session:
            post = session.get(Post, int(anchor.removeprefix("p")))
            assert post is not None
            words = post.body_text.split()[:4]
        assert " ".join(words) in " ".join(page.split()), (url, words)


def open_member_page_link(world: World, row: OutboundMessage, url: str) -> None:
    """The member's own page: a visitor is sent to sign in first; the mail's reader, signed
    in, sees their choices for the community."""
    path = url[len(world.web) :]
    status, headers, _ = Client(world.web).get(path)
    assert status == 303 and headers["location"] == f"/signin?next={path}"
    status, _, page = reader_of(world, row.recipient).get(path)
    assert status == 200 and row.recipient in page and "IRNet" in page


def open_held_file_link(world: World, row: OutboundMessage, path: str, file_id: int) -> None:
    """A held post's file in its notice: the moderator gets it while the post waits; once
    decided the queue has it no more (an approved post's files are at /files/)."""
    with world.ctx.session() as session:
        attachment = session.get(Attachment, file_id)
        assert attachment is not None
        post = session.get(Post, attachment.post_id)
        assert post is not None
    status, _, _ = reader_of(world, row.recipient).get(path)
    assert status == (200 if post.status == "held" else 404), (path, post.status, status)
    if post.status == "approved":
        published = path.replace("/queue/files/", "/files/")
        assert reader_of(world, row.recipient).get(published)[0] == 200


LINK_ACTIONS: dict[str, Callable[[World, OutboundMessage, str], None]] = {
    "unsubscribe": open_unsubscribe_link,
    "confirm": open_confirm_link,
    "signin": open_sign_in_link,
    "c": open_portal_link,
    "me": open_member_page_link,
}


# Ids of messages, and the loop marker (X-Loop names no mailbox; mail carrying it is never
# posted): nothing there is for a reader to mail.
ID_HEADERS = {"message-id", "in-reply-to", "references", "x-mailhub-digest", "x-loop"}


def decoded_text(message: EmailMessage) -> str:
    """Headers (but the ids of messages) and every text part as a reader's client shows
    them."""
    pieces = [f"{key}: {value}" for key, value in message.items() if key.lower() not in ID_HEADERS]
    for part in message.walk():
        if part.get_content_maintype() == "text":
            pieces.append(str(part.get_content()))
        elif part.get_content_type() == "message/rfc822":
            inner = part.get_content()
            pieces.append(decoded_text(inner))
    return "\n".join(pieces)


def uses(row: OutboundMessage, web: str) -> tuple[list[str], list[str]]:
    """Every address of ours and every link to our web pages in one mail, in order."""
    text = decoded_text(parsed(row))
    addresses = list(dict.fromkeys([row.envelope_from, *OUR_ADDRESS.findall(text)]))
    links = [link.rstrip(".,;") for link in LINK.findall(text)]
    ours = list(dict.fromkeys(link for link in links if link.startswith(web + "/")))
    host = urlsplit(web).netloc
    assert all(urlsplit(link).netloc != host for link in links if link not in ours)
    return addresses, ours


def act_on(world: World, row: OutboundMessage) -> None:
    addresses, links = uses(row, world.web)
    for address in addresses:
        found = world.resolve(address)
        assert found.kind in ADDRESS_ACTIONS, f"{address} ({found.kind}) is not in this test"
        ADDRESS_ACTIONS[found.kind](world, row, address, found)
        world.done.append(f"{row.kind}: mailed {found.kind.value}")
    for link in links:
        route = link[len(world.web) + 1 :].split("/", 1)[0]
        assert route in LINK_ACTIONS, f"{link} in a {row.kind} mail is not in this test"
        LINK_ACTIONS[route](world, row, link)
        world.done.append(f"{row.kind}: opened /{route}/")


@pytest.fixture
def world(ctx: Context) -> Iterator[World]:
    with running_web(ctx) as web_ctx, running_listener(web_ctx) as port:
        yield World(web_ctx, Mailer(web_ctx, port), web_ctx.settings.instance.public_url or "")


def test_every_address_and_link_in_every_kind_of_mail_works(
    world: World, clock: FrozenClock, run_cli: Callable[..., Any]
) -> None:
    ctx = world.ctx
    seed_members(ctx)
    moderation_story(ctx, world.mail, clock)
    membership_story(ctx, world.mail, run_cli)
    discussion_story(ctx, world.mail, clock)
    search_story(ctx, world.mail)
    periodic_story(ctx, world.mail, clock)
    portal_story(world)

    made = {row.kind for row in rows(ctx)}
    assert made == kinds.ALL, (
        f"not made by the story: {sorted(kinds.ALL - made)}; unknown: {sorted(made - kinds.ALL)}"
    )
    # One mail of each kind, to a member where there is one, acted on as its reader would.
    for kind in sorted(kinds.ALL):
        candidates = rows(ctx, kind)
        members = [r for r in candidates if r.recipient.endswith("@example.org")]
        act_on(world, (members or candidates)[0])

    acted = {line.split(": ", 1)[1] for line in world.done}
    assert {f"mailed {k.value}" for k in ADDRESS_ACTIONS} <= acted, acted
    assert {f"opened /{route}/" for route in LINK_ACTIONS} <= acted, acted
    for kind in kinds.LIST_MAIL:
        assert f"{kind}: mailed unsubscribe" in world.done, kind
        assert f"{kind}: opened /unsubscribe/" in world.done, kind
        assert f"{kind}: mailed bounce" in world.done, kind
    # The body of every copy shows its member's https link too (bulk-sender rules): the
    # header's link, opened above for one copy of each kind.
    lacking = {
        (row.kind, row.recipient)
        for kind in kinds.LIST_MAIL
        for row in rows(ctx, kind)
        if not body_shows_header_link(row)
    }
    assert not lacking, sorted(lacking)


def body_shows_header_link(row: OutboundMessage) -> bool:
    message = parsed(row)
    found = re.search(r"<(https?://[^>]+/unsubscribe/[^>]+)>", message["List-Unsubscribe"] or "")
    assert found is not None, (row.kind, message["List-Unsubscribe"])
    texts = [
        str(part.get_content()) for part in message.walk() if part.get_content_maintype() == "text"
    ]
    return any(found.group(1) in text for text in texts)


def test_list_mail_carries_a_working_unsubscribe_in_its_headers(world: World) -> None:
    """The List-Unsubscribe header of a delivered post, as a mailbox provider uses it: the
    https link gets the one-click POST, the mailto is mailed; both take effect."""
    ctx = world.ctx
    seed_members(ctx)
    message_id = world.mail.send(AMINA, LIST, "Hello", "Hello all")
    world.mail.send(MOD, token_address(rows(ctx, "held", MOD)[-1], "m"), "Re", "approve")
    assert (post_by(ctx, message_id) or Post()).status == PostStatus.APPROVED.value
    row = rows(ctx, "post", LEO)[-1]
    header = parsed(row)["List-Unsubscribe"]
    assert parsed(row)["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    mailto, link = re.findall(r"<([^>]+)>", header)
    assert mailto.startswith("mailto:") and link.startswith(world.web + "/unsubscribe/")
    with ctx.session() as session:
        leo = find_person(session, LEO)
        assert leo is not None
        membership_id = session.exec(
            select(Membership.id).where(Membership.person_id == leo.id)
        ).one()
    assert membership_id is not None
    status, _ = fetch(
        link, "POST", b"List-Unsubscribe=One-Click", "application/x-www-form-urlencoded"
    )
    assert status == 200 and membership_row(ctx, membership_id).status == "unsubscribed"
    set_status(ctx, membership_id, "active")
    world.mail.send(LEO, mailto.removeprefix("mailto:"), "unsubscribe", "")
    assert membership_row(ctx, membership_id).status == "unsubscribed"


def test_a_confirmation_answered_at_another_community_changes_nothing(
    world: World, run_cli: Callable[..., Any]
) -> None:
    ctx = world.ctx
    result = run_cli(
        "community", "create", "yen", "--name", "Youth Employment Network", "--local-part", "yen"
    )
    assert result.exit_code == 0, result.output
    world.mail.send(NEWCOMER, REQUEST, "subscribe", "subscribe")
    address = token_address(rows(ctx, "confirmation", NEWCOMER)[-1], "c")
    elsewhere = address.replace("irnet+", "yen+")
    world.mail.send(NEWCOMER, elsewhere, "Re: confirm", "yes")
    with ctx.session() as session:
        newcomer = find_person(session, NEWCOMER)
        assert newcomer is not None
        [membership] = session.exec(
            select(Membership).where(Membership.person_id == newcomer.id)
        ).all()
        assert membership.status == "pending"
        assert session.exec(select(func.count()).select_from(UsedToken)).one() == 0
    answer = rows(ctx, "confirmation-reply", NEWCOMER)[-1].raw.decode()
    assert "not for Youth Employment Network" in " ".join(answer.split())
    world.mail.send(NEWCOMER, address, "Re: confirm", "yes")
    assert membership_row(ctx, membership.id or 0).status == "active"


def test_a_forged_unsubscribe_only_mails_the_real_address(world: World) -> None:
    ctx = world.ctx
    seed_members(ctx)
    world.mail.send(LEO, REQUEST, "unsubscribe", "unsubscribe", envelope_from=STRANGER)
    with ctx.session() as session:
        leo = find_person(session, LEO)
        assert leo is not None
        membership = session.exec(select(Membership).where(Membership.person_id == leo.id)).one()
    assert membership.status == "active"
    [confirmation] = rows(ctx, "confirmation", LEO)
    assert all(r.recipient != STRANGER for r in rows(ctx))
    assert "leave IRNet" in " ".join(
        parsed(confirmation).get_body(("plain",)).get_content().split()
    )  # type: ignore[union-attr]


def test_a_used_confirmation_replayed_later_changes_nothing(
    world: World, clock: FrozenClock
) -> None:
    """Join, leave, then answer the old join confirmation again, by mail and on the page."""
    ctx = world.ctx
    world.mail.send(NEWCOMER, REQUEST, "subscribe", "subscribe")
    join = rows(ctx, "confirmation", NEWCOMER)[-1]
    world.mail.send(NEWCOMER, token_address(join, "c"), "Re", "yes")
    with ctx.session() as session:
        newcomer = find_person(session, NEWCOMER)
        assert newcomer is not None
        membership_id = session.exec(
            select(Membership.id).where(Membership.person_id == newcomer.id)
        ).one()
    assert membership_id is not None and membership_row(ctx, membership_id).status == "active"
    clock.advance(timedelta(days=1))
    world.mail.send(NEWCOMER, REQUEST, "unsubscribe", "unsubscribe")
    leave = rows(ctx, "confirmation", NEWCOMER)[-1]
    world.mail.send(NEWCOMER, token_address(leave, "c"), "Re", "yes")
    assert membership_row(ctx, membership_id).status == "unsubscribed"
    world.mail.send(NEWCOMER, token_address(join, "c"), "Re", "yes again")
    assert membership_row(ctx, membership_id).status == "unsubscribed"
    [link] = [u for u in LINK.findall(join.raw.decode()) if "/confirm/" in u]
    status, page = fetch(link)
    assert status == 200 and "used already" in page and "<form" not in page
    status, page = fetch(link, "POST", b"", "application/x-www-form-urlencoded")
    assert status == 200 and "Already used" in page
    assert membership_row(ctx, membership_id).status == "unsubscribed"
