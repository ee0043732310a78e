"""Members with 3,000-character names: every mail we write about them keeps every line within
RFC 5322's 998 octets (78 characters for the headers that carry names), and our own listener,
which enforces the limit as strict relays do, accepts each of them."""

from __future__ import annotations

import smtplib
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.header import decode_header, make_header
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import parseaddr

from smtp_server import running_listener
from sqlmodel import col, select

from mailhub.clock import FrozenClock
from mailhub.communities import get_community
from mailhub.context import Context
from mailhub.digest.digests import send_due
from mailhub.inbound import pipeline
from mailhub.members import MemberFields, add_member, find_person
from mailhub.models import OutboundMessage, Post
from mailhub.moderation import actions
from mailhub.outbound.headers import (
    PERSON_NAME,
    encoded_text,
    header_line,
    id_header,
    mailbox,
)

LIST = "irnet@lists.example.org"
MOD, EACH, DIGEST, CLASSIC = (
    "maria@ministry.example.org",
    "each@example.org",
    "digest@example.org",
    "classic@example.org",
)
LONG_ASCII = ("Amina Wanjiru Kamau " * 150).strip()  # 2,999 characters
LONG_WORLD = ("李伟 Zoë Ñandú Ålesund " * 150).strip()  # non-ASCII, about 3,000 characters
POSTERS = {"amina@example.org": LONG_ASCII, "wei@example.org": LONG_WORLD}
JOINED = datetime(2026, 2, 20, 9, 0, tzinfo=UTC)
POSTED = datetime(2026, 2, 27, 10, 0, tzinfo=UTC)
MONDAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # irnet's digest was due at 05:00 UTC
# Headers whose lines can always be folded to RFC 5322's recommended length.
FOLDED = ("from", "reply-to", "x-original-from", "subject", "to", "list-id")


def members(ctx: Context) -> None:
    with ctx.session() as session:
        irnet = get_community(session, "irnet")
        for fields in [
            MemberFields(email=MOD, name=LONG_WORLD, role="moderator"),
            MemberFields(email=EACH, name="Each Member"),
            MemberFields(email=DIGEST, name="Dee Digest", delivery="digest"),
            MemberFields(email=CLASSIC, name="Rafa Classic", delivery="digest"),
            *(MemberFields(email=a, name=n) for a, n in POSTERS.items()),
        ]:
            _, membership = add_member(session, irnet, fields, JOINED)
            if fields.email == CLASSIC:
                membership.digest_format = "rfc1153"


def post_mail(sender: str, name: str, number: int) -> bytes:
    mail = EmailMessage()
    mail["From"] = Address(display_name=name, addr_spec=sender)
    mail["To"] = LIST
    mail["Subject"] = f"Platform work, part {number} " + "x" * 1200
    mail["Message-ID"] = f"<long-{number}@example.org>"
    mail.set_content(f"Post number {number}, by someone with a long name.\n")
    return mail.as_bytes(policy=policy.SMTP)


def display_name(value: str) -> str:
    return parseaddr(str(make_header(decode_header(value))))[0]


def all_mail(ctx: Context) -> list[OutboundMessage]:
    with ctx.session() as session:
        return list(session.exec(select(OutboundMessage).order_by(col(OutboundMessage.id))))


def too_long(raw: bytes) -> list[str]:
    """Lines over 998 octets, and header lines of FOLDED fields over 78 characters."""
    found = [f"{len(line)} octets" for line in raw.split(b"\r\n") if len(line) > 998]
    field = ""
    for line in raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line[:1] not in (b" ", b"\t"):
            field = line.split(b":", 1)[0].decode().lower()
        if field in FOLDED and len(line) > 78:
            found.append(f"{field}: {len(line)} characters")
    return found


def test_long_names_make_no_line_too_long_anywhere(ctx: Context, clock: FrozenClock) -> None:
    clock.set(JOINED)
    members(ctx)
    clock.set(POSTED)
    with running_listener(ctx) as port, smtplib.SMTP("127.0.0.1", port) as client:
        for number, (sender, name) in enumerate(POSTERS.items(), 1):
            assert client.sendmail(sender, [LIST], post_mail(sender, name, number)) == {}
    pipeline.drain(ctx)
    with ctx.session() as session:
        posts = session.exec(select(Post).order_by(col(Post.id))).all()
        assert len(posts) == 2
        moderator = find_person(session, MOD)
        for post in posts:
            actions.decide(ctx, session, post, "approve", by=moderator, via="email")
    clock.set(MONDAY)
    with ctx.session() as session:
        community_id = get_community(session, "irnet").id
    assert community_id is not None and send_due(ctx, community_id, MONDAY) is not None

    mails = all_mail(ctx)
    kinds = {m.kind for m in mails}
    assert {"held", "post", "digest"} <= kinds, kinds
    assert {m.recipient for m in mails if m.kind == "digest"} == {DIGEST, CLASSIC}
    problems = {f"{m.kind} to {m.recipient}": too_long(m.raw) for m in mails}
    assert {k: v for k, v in problems.items() if v} == {}

    # The names are still there, cut short, and read back as they were received (read as
    # RFC 2047 says, ignoring the blank between encoded words, as mail clients do).
    with ctx.session() as session:
        authors = [" ".join(p.author_name.split()) for p in session.exec(select(Post))]
    assert all(len(author) > 2900 for author in authors)
    posts = [message_from_bytes(m.raw) for m in mails if m.kind == "post"]
    originals = {display_name(p["X-Original-From"]) for p in posts}
    assert {name[:20] for name in originals} == {LONG_ASCII[:20], LONG_WORLD[:20]}
    for name in originals:
        assert len(name) <= 128 and name.endswith("…")
        assert any(author.startswith(name[:-1].rstrip()) for author in authors), name
    shown = {display_name(p["From"]) for p in posts}
    assert all(len(name) <= PERSON_NAME + len(" via IRNet") for name in shown), shown

    # Our own listener refuses lines over its limit, as strict relays do; it takes them all.
    with running_listener(ctx) as port, smtplib.SMTP("127.0.0.1", port) as client:
        for mail in mails:
            assert client.sendmail(mail.envelope_from, ["postmaster"], mail.raw) == {}


def test_header_writers_fold_or_shorten_what_members_control() -> None:
    word = "x" * 1500  # no space to fold at
    lines = [
        header_line("From", mailbox(LONG_ASCII, "amina@example.org")),
        header_line("From", mailbox(LONG_WORLD, "wei@example.org")),
        header_line("Reply-To", ", ".join(f"a{n}@example.org" for n in range(40))),
        f"Subject: {encoded_text('Subject', word)}\r\n",
        f"Subject: {encoded_text('Subject', LONG_ASCII)}\r\n",
        id_header("References", ["ok@example.org", f"{word}@example.org"]).decode(),
    ]
    for line in lines:
        assert line.endswith("\r\n") and "\r\n\r\n" not in line
        assert max(len(part) for part in line.split("\r\n")) <= 78, line[:200]
    assert "ok@example.org" in lines[-1] and word not in lines[-1]
    # A name that fits is written as before: one quoted string or one encoded word.
    assert mailbox("Amina K", "a@example.org") == "Amina K <a@example.org>"
    assert mailbox("Zoë", "z@example.org") == "=?utf-8?q?Zo=C3=AB?= <z@example.org>"
