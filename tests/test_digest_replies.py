"""Replies to a whole digest, end to end over SMTP: real digests from the digest code, then
replies as Gmail, Outlook and Thunderbird write them. One quoted item → a reply in that
item's conversation; several, none, or a forged digest → held, and the sender is told how
to reply to one item."""

from __future__ import annotations

import re
import smtplib
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage

import pytest
from mailtools import body, outbox
from smtp_server import running_listener
from sqlmodel import select

from mailhub import tokens
from mailhub.clock import FrozenClock
from mailhub.communities import get_community
from mailhub.context import Context
from mailhub.digest.items import approved_between
from mailhub.digest.replies import LOOKBACK, UNMATCHED, judge
from mailhub.inbound import pipeline
from mailhub.inbound.trim import trim_reply
from mailhub.members import MemberFields, add_member
from mailhub.models import Membership, Person, Post
from mailhub.scheduler import run_due

SECRET = "test-secret-0123456789abcdef"
LIST = "irnet@lists.example.org"
MOD = "mod@ministry.example.org"
AMINA, BOB, DEE, EVE = "amina@example.org", "bob@example.org", "dee@example.org", "eve@example.org"
WRITTEN = datetime(2026, 2, 25, 10, 0, tzinfo=UTC)
# START (conftest) is Monday 2 March 2026 09:00 UTC; irnet's digest was due at 05:00 UTC.
DUE = datetime(2026, 3, 2, 5, 0, tzinfo=UTC)
REPLY = re.compile(r"irnet\+r-([a-z0-9.]+)@lists\.example\.org")

APPRENTICESHIPS = (
    "In Kenya the sector skills councils now co-design apprenticeship standards with the "
    "unions, and the employers pay a training levy that follows the apprentice.\n\n"
    "Completion rates rose from 41 to 68 percent in three years once mentors were paid "
    "for their time."
)
AGREE = (
    "We saw the same in Uganda: paying mentors mattered more than any curriculum change, "
    "but small firms could not afford the levy without a rebate."
)
PLATFORMS = (
    "Our ministry is drafting rules for delivery riders on platforms. Has anyone "
    "consulted riders' associations directly, rather than only the established unions?"
)


class Mailer:
    """Sends over real SMTP to the running listener and drains the worker."""

    def __init__(self, ctx: Context, port: int) -> None:
        self.ctx, self.port, self.count = ctx, port, 0

    def send(self, mail: EmailMessage, sender: str, to: str = LIST) -> str:
        self.count += 1
        if "Message-ID" not in mail:
            mail["Message-ID"] = f"<r{self.count}.{sender.split('@')[0]}@example.org>"
        with smtplib.SMTP("127.0.0.1", self.port) as smtp:
            smtp.sendmail(sender, [to], mail.as_bytes(policy=policy.SMTP))
        pipeline.drain(self.ctx)
        return str(mail["Message-ID"]).strip("<>")

    def post(self, sender: str, subject: str, text: str, **headers: str) -> str:
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = sender, LIST, subject
        for name, value in headers.items():
            mail[name.replace("_", "-")] = value
        mail.set_content(text)
        return self.send(mail, sender)


def post_by(ctx: Context, message_id: str) -> Post:
    with ctx.session() as session:
        return session.exec(select(Post).where(Post.message_id == message_id)).one()


@pytest.fixture
def mailer(ctx: Context, clock: FrozenClock) -> Iterator[Mailer]:
    """irnet without review (so any hold below is the digest reply's), three approved posts
    written in February, and the digest of 2 March sent to Dee."""
    start = clock.now()
    clock.set(WRITTEN - timedelta(days=3))
    with ctx.session() as session:
        irnet = get_community(session, "irnet")
        irnet.moderation = "none"
        session.add(irnet)
        people = [
            MemberFields(email=MOD, name="Maria Mod", role="moderator"),
            MemberFields(email=AMINA, name="Amina K", affiliation="workers", country="KE"),
            MemberFields(email=BOB, name="Bob M", affiliation="government", country="UG"),
            MemberFields(email=DEE, name="Dee N", delivery="digest"),
            MemberFields(email=EVE, name="Eve O", delivery="digest"),
        ]
        for fields in people:
            add_member(session, irnet, fields, clock.now())
    with running_listener(ctx) as port:
        sender = Mailer(ctx, port)
        clock.set(WRITTEN)
        first = sender.post(AMINA, "Apprenticeships that work", APPRENTICESHIPS)
        clock.advance(timedelta(hours=1))
        sender.post(BOB, "Re: Apprenticeships that work", AGREE, In_Reply_To=f"<{first}>")
        clock.advance(timedelta(hours=1))
        sender.post(BOB, "Platform work and social dialogue", PLATFORMS)
        clock.set(start)
        assert run_due(ctx).failed == []
        yield sender


def the_digest(ctx: Context, to: str = DEE) -> EmailMessage:
    ((_, digest),) = outbox(ctx, kind="digest", to=to)
    return digest


def entry(digest: EmailMessage, number: int) -> str:
    """The plain-text block of item ``number``: heading, From, Date, body, Reply line."""
    text = body(digest)
    start = text.index(f"\n{number}. ")
    end = text.index("\nReply: ", start)
    end = text.index("\n", end + 1)
    return text[start + 1 : end]


def reply_to_digest(
    digest: EmailMessage, sender: str, text: str, *, headers: bool = True
) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = LIST
    mail["Subject"] = f"Re: {digest['Subject']}"
    if headers:
        mail["In-Reply-To"] = digest["Message-ID"]
        mail["References"] = digest["Message-ID"]
    mail.set_content(text)
    return mail


def gmail(own: str, quoted: str) -> str:
    quote = "\n".join(f"> {line}" if line else ">" for line in quoted.splitlines())
    return f"{own}\n\nOn Mon, 2 Mar 2026 at 08:00, IRNet digest <{LIST}> wrote:\n\n{quote}\n"


def outlook(own: str, quoted: str, digest: EmailMessage) -> str:
    return (
        f"{own}\n\nBest regards,\nDee\n\n-----Original Message-----\n"
        f"From: IRNet digest <{LIST}>\nSent: Monday, March 2, 2026 8:00 AM\n"
        f"To: {DEE}\nSubject: {digest['Subject']}\n\n{quoted}\n"
    )


def thunderbird(own: str, quoted: str) -> str:
    """Bottom-posted under a quote re-wrapped at 72 columns, as format=flowed does."""
    lines = []
    for line in quoted.splitlines():
        lines += textwrap.wrap(line, 70) or [""]
    quote = "\n".join(f"> {line}" if line else ">" for line in lines)
    return f"On 02/03/2026 08:00, IRNet digest wrote:\n{quote}\n\n{own}\n"


def part(message: EmailMessage, subtype: str) -> str:
    found = message.get_body(preferencelist=(subtype,))
    assert found is not None
    return str(found.get_content())


def reply_addresses(text: str) -> dict[int, int]:
    """post id → person id of every reply address in ``text``."""
    found = {}
    for token in REPLY.findall(text):
        value = tokens.verify(SECRET, tokens.REPLY, token, now=DUE)
        found[value.int_value(0)] = value.int_value(1)
    return found


def items(digest: EmailMessage) -> dict[str, int]:
    """Post id by the start of its body, read from the digest's reply addresses."""
    ids = list(reply_addresses(body(digest)))
    return {"apprenticeships": ids[0], "agree": ids[1], "platforms": ids[2]}


def assert_threaded_under(ctx: Context, message_id: str, parent_id: int) -> Post:
    post = post_by(ctx, message_id)
    with ctx.session() as session:
        parent = session.get(Post, parent_id)
        assert parent is not None
    assert post.parent_id == parent_id and post.thread_id == parent.thread_id
    assert post.kind == "reply"
    assert post.in_reply_to == parent.message_id
    assert post.references[-1] == parent.message_id
    assert not any(ref.startswith("digest-") for ref in post.references)
    assert post.status == "approved", post.reason
    assert outbox(ctx, kind="digest-reply") == []
    return post


def notes(ctx: Context, to: str) -> list[str]:
    return [body(mail) for _, mail in outbox(ctx, kind="digest-reply", to=to)]


def assert_held(ctx: Context, message_id: str) -> str:
    """Held with the digest reason, moderators told, and the one note to the sender."""
    post = post_by(ctx, message_id)
    assert post.status == "held" and post.reason == UNMATCHED
    assert post.parent_id is None
    assert [row.recipient for row, _ in outbox(ctx, kind="held")] == [MOD]
    (note,) = notes(ctx, post.author_email)
    assert max(len(line) for line in note.splitlines()) <= 78
    said = " ".join(note.split())
    assert "answers a digest as a whole" in said and "a moderator will look at it" in said
    assert 'write to the address after "Reply:"' in note
    return note


def test_gmail_reply_quoting_one_item_joins_its_conversation(ctx: Context, mailer: Mailer) -> None:
    digest = the_digest(ctx)
    # No discussion in this digest: its conversations are not "other" than anything.
    for text in (body(digest), part(digest, "html")):
        assert "Conversations" in text and "Other conversations" not in text
    ids = items(digest)
    own = "Which sectors pay the mentors, and from what budget?"
    mid = mailer.send(reply_to_digest(digest, DEE, gmail(own, entry(digest, 1))), DEE)
    post = assert_threaded_under(ctx, mid, ids["apprenticeships"])
    assert post.body_text == own
    # Members who take each message get it as a reply to that post, in its thread.
    delivered = [m for _, m in outbox(ctx, kind="post", to=AMINA) if m["Message-ID"] == f"<{mid}>"]
    assert len(delivered) == 1
    parent_id = post_by(ctx, post.in_reply_to or "").message_id
    assert delivered[0]["In-Reply-To"] == f"<{parent_id}>"
    assert "digest-" not in delivered[0]["References"]
    # ... under that conversation's subject, not the digest's.
    assert post.subject == "Re: Apprenticeships that work"
    assert "Apprenticeships that work" in delivered[0]["Subject"]
    assert "Digest" not in delivered[0]["Subject"]


def test_outlook_top_post_quoting_part_of_one_item_without_marks(
    ctx: Context, mailer: Mailer
) -> None:
    digest = the_digest(ctx)
    ids = items(digest)
    # Outlook users keep what they answer: here only one sentence of item 3, no '>'.
    quoted = PLATFORMS.split(". ")[1]
    own = "We did, in Kenya: the riders' association sits on the working group."
    mid = mailer.send(reply_to_digest(digest, DEE, outlook(own, quoted, digest)), DEE)
    post = assert_threaded_under(ctx, mid, ids["platforms"])
    assert post.body_text.startswith(own)


def test_outlook_html_reply_quoting_one_item_of_the_html_digest(
    ctx: Context, mailer: Mailer
) -> None:
    digest = the_digest(ctx)
    ids = items(digest)
    html = part(digest, "html")
    start = html.rindex("<tr>", 0, html.index(">2. Apprenticeships"))
    block = html[start : html.index("</td></tr>", start) + len("</td></tr>")]
    quoted = (
        '<div id="divRplyFwdMsg" dir="ltr"><hr><b>From:</b> IRNet digest &lt;'
        f"{LIST}&gt;<br><b>Sent:</b> Monday, March 2, 2026 8:00 AM<br><b>To:</b> {DEE}<br>"
        f"<b>Subject:</b> {digest['Subject']}</div><table>{block}</table>"
    )
    mail = reply_to_digest(digest, DEE, "")
    mail.set_content(
        f"<html><body><div>Same in Tanzania.</div><br>{quoted}</body></html>", subtype="html"
    )
    mid = mailer.send(mail, DEE)
    post = assert_threaded_under(ctx, mid, ids["agree"])
    assert post.body_text.strip() == "Same in Tanzania."


def test_thunderbird_bottom_post_under_a_rewrapped_quote(ctx: Context, mailer: Mailer) -> None:
    digest = the_digest(ctx)
    ids = items(digest)
    own = "Was the rebate for small firms ever costed?"
    mid = mailer.send(reply_to_digest(digest, EVE, thunderbird(own, entry(digest, 2))), EVE)
    post = assert_threaded_under(ctx, mid, ids["agree"])
    assert post.body_text == own


def test_outlook_reply_without_threading_headers_is_recognised_by_its_subject(
    ctx: Context, mailer: Mailer
) -> None:
    digest = the_digest(ctx)
    ids = items(digest)
    mail = reply_to_digest(digest, DEE, outlook("Agreed.", entry(digest, 1), digest), headers=False)
    mail.replace_header("Subject", f"RE: {digest['Subject']}")
    mid = mailer.send(mail, DEE)
    assert_threaded_under(ctx, mid, ids["apprenticeships"])


def test_two_replies_to_one_digest_stay_in_their_own_conversations(
    ctx: Context, mailer: Mailer
) -> None:
    digest = the_digest(ctx)
    ids = items(digest)
    first = mailer.send(reply_to_digest(digest, DEE, gmail("Yes.", entry(digest, 1))), DEE)
    second = mailer.send(reply_to_digest(digest, DEE, gmail("No.", entry(digest, 3))), DEE)
    one = assert_threaded_under(ctx, first, ids["apprenticeships"])
    two = assert_threaded_under(ctx, second, ids["platforms"])
    assert one.thread_id != two.thread_id


def test_reply_quoting_two_items_is_held_and_the_sender_gets_both_reply_addresses(
    ctx: Context, mailer: Mailer
) -> None:
    digest = the_digest(ctx)
    ids = items(digest)
    quoted = f"{entry(digest, 1)}\n\n{entry(digest, 3)}"
    mid = mailer.send(reply_to_digest(digest, DEE, gmail("Both good points.", quoted)), DEE)
    note = assert_held(ctx, mid)
    assert "it quotes 2 messages of the digest" in " ".join(note.split())
    assert "Apprenticeships that work (Amina K)" in note
    assert "Platform work and social dialogue (Bob M)" in note
    dee = post_by(ctx, mid).person_id
    assert reply_addresses(note) == {ids["apprenticeships"]: dee, ids["platforms"]: dee}


def test_reply_quoting_the_whole_digest_is_held(ctx: Context, mailer: Mailer) -> None:
    digest = the_digest(ctx)
    mid = mailer.send(reply_to_digest(digest, DEE, gmail("Great issue!", body(digest))), DEE)
    note = assert_held(ctx, mid)
    assert "it quotes 3 messages" in " ".join(note.split()) and len(reply_addresses(note)) == 3


def test_reply_quoting_nothing_is_held_with_a_note(ctx: Context, mailer: Mailer) -> None:
    digest = the_digest(ctx)
    mid = mailer.send(reply_to_digest(digest, DEE, "Thanks for this digest!"), DEE)
    note = assert_held(ctx, mid)
    assert "it quotes" not in note and reply_addresses(note) == {}
    # A moderator who approves it publishes it as a new conversation, not under an item.
    assert post_by(ctx, mid).references == []


@pytest.mark.parametrize(
    "digest_id",
    [
        "digest-99-20260302T0500Z-4@lists.example.org",  # another community
        "digest-1-20260223T0500Z-4@lists.example.org",  # no digest was sent then
        "digest-1-20261399T9999Z-4@lists.example.org",  # no such time
        "digest-1-x@lists.example.org",  # not a digest id at all
        "digest-1-00000101T0000Z-99999999999999999999@lists.example.org",  # nonsense
    ],
)
def test_forged_digest_id_is_held_even_when_one_item_is_quoted(
    ctx: Context, mailer: Mailer, digest_id: str
) -> None:
    digest = the_digest(ctx)
    mail = reply_to_digest(digest, DEE, gmail("Interesting.", entry(digest, 1)), headers=False)
    mail["In-Reply-To"] = f"<{digest_id}>"
    mail["References"] = f"<{digest_id}>"
    mid = mailer.send(mail, DEE)
    note = assert_held(ctx, mid)
    assert reply_addresses(note) == {}


def test_reply_addresses_in_the_note_go_only_to_the_digest_owner(
    ctx: Context, mailer: Mailer
) -> None:
    """Eve answers Dee's digest (forwarded to her): held, but no address signed for Dee."""
    digest = the_digest(ctx)
    quoted = f"{entry(digest, 1)}\n\n{entry(digest, 2)}"
    mid = mailer.send(reply_to_digest(digest, EVE, gmail("Agreed with both.", quoted)), EVE)
    note = assert_held(ctx, mid)
    assert "it quotes 2 messages" in " ".join(note.split()) and reply_addresses(note) == {}


def test_the_rules_still_speak_for_a_held_digest_reply_and_it_is_held_once(
    ctx: Context, mailer: Mailer
) -> None:
    with ctx.session() as session:
        dee = session.exec(select(Membership).join(Person).where(Person.email == DEE)).one()
        dee.moderated = True
        session.add(dee)
    digest = the_digest(ctx)
    mail = reply_to_digest(digest, DEE, "Thanks!")
    first = mailer.send(mail, DEE)
    assert mailer.send(mail, DEE) == first  # the same mail again: one post, one note
    post = post_by(ctx, first)
    assert post.status == "held"
    assert post.reason == f"{UNMATCHED}; the sender's posts are moderated"
    assert len(notes(ctx, DEE)) == 1 and len(outbox(ctx, kind="held")) == 1


def test_ordinary_replies_and_new_posts_are_untouched(ctx: Context, mailer: Mailer) -> None:
    first = mailer.post(AMINA, "IRNet digest: shorter please?", "Could it list only subjects?")
    mid = mailer.post(BOB, "Re: IRNet digest: shorter please?", "No.", In_Reply_To=f"<{first}>")
    for message_id in (first, mid):
        post = post_by(ctx, message_id)
        assert post.status == "approved" and post.reason != UNMATCHED
    assert post_by(ctx, mid).parent_id == post_by(ctx, first).id
    assert outbox(ctx, kind="digest-reply") == []


QUOTING = (
    "As Amina wrote: completion rates rose from 41 to 68 percent in three years once "
    "mentors were paid for their time. In Ghana the unions negotiated the mentor allowance "
    "into the sector agreement itself, so it survives budget cuts."
)
LONG = "\n\n".join(
    f"Point {n}: the tripartite committee met in {city} and agreed a pilot for "
    f"{n * 10} apprentices in construction and agro-processing."
    for n, city in enumerate(["Accra", "Kumasi", "Tamale", "Mombasa"], 1)
)


def test_every_item_of_a_larger_digest_is_matched_in_every_style(
    ctx: Context, mailer: Mailer, clock: FrozenClock
) -> None:
    """The next week's digest: posts that quote each other, two identical short ones, a long
    one; the first week's posts are candidates too. Each item quoted in each client's style
    is matched to it, and a quote of words two items share matches neither."""
    start = clock.now()
    clock.set(start + timedelta(days=1))
    mailer.post(EVE, "Re: Apprenticeships that work", QUOTING)
    mailer.post(AMINA, "Re: Platform work and social dialogue", "I agree.")
    mailer.post(BOB, "Re: Apprenticeships that work", "I agree.")
    mailer.post(AMINA, "Pilots in Ghana and Kenya", LONG)
    clock.set(start + timedelta(days=7))
    assert run_due(ctx).failed == []
    digest = [mail for _, mail in outbox(ctx, kind="digest", to=DEE)][-1]
    ids = list(reply_addresses(body(digest)))
    assert len(ids) == 4
    styles = {
        "gmail": lambda quoted: gmail("My answer.", quoted),
        "outlook": lambda quoted: outlook("My answer.", quoted, digest),
        "thunderbird": lambda quoted: thunderbird("My answer.", quoted),
    }
    with ctx.session() as session:
        irnet = get_community(session, "irnet")
        book = ctx.address_book(session)

        def matched(text: str) -> int | None:
            quoted = trim_reply(text).quoted
            candidates = approved_between(session, irnet.id or 0, start - LOOKBACK, clock.now())
            return judge(ctx, session, book, irnet, quoted, candidates).parent_id

        for number, post_id in enumerate(ids, 1):
            for name, style in styles.items():
                assert matched(style(entry(digest, number))) == post_id, (number, name)
        # Without its reply line, a long item is still known by its own words ...
        long_entry = entry(digest, ids.index(post_by_body(ctx, LONG)) + 1)
        assert matched(gmail("Yes.", long_entry.rsplit("\nReply:", 1)[0])) == post_by_body(
            ctx, LONG
        )
        # ... but words two items share, or "I agree." alone, point to neither.
        shared = "completion rates rose from 41 to 68 percent in three years once mentors"
        assert matched(gmail("Indeed.", shared)) is None
        assert matched(gmail("Indeed.", "I agree.")) is None


def post_by_body(ctx: Context, text: str) -> int:
    with ctx.session() as session:
        found = session.exec(select(Post.id).where(Post.body_text == text)).one()
    assert found is not None
    return found
