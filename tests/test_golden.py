"""Golden files: every rendering a member or moderator reads (digests in both formats, the
newsletter, the event digest and its .ics, the notices), built through the code paths the
service uses from a store this test seeds, compared with tests/golden/ exactly.

Only what changes from run to run is normalised: MIME boundaries, random Message-IDs and
the HMAC tokens in addresses and links. Member content in the scenario tries script and
header injection, broken markup, non-ASCII text and long lines; besides the comparison,
every mail is checked structurally (no injected header, no line of the mail as sent over
998 octets, HTML without scripts, handlers, style blocks or links that are not absolute).

``MAILHUB_UPDATE_GOLDEN=1 pytest tests/test_golden.py`` rewrites the files; read the diff.
"""

from __future__ import annotations

import base64
import difflib
import os
import re
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from html.parser import HTMLParser
from pathlib import Path

from conftest import derive
from sqlmodel import col, select

from mailhub.clock import FrozenClock
from mailhub.communities import get_community
from mailhub.context import Context
from mailhub.digest.digests import send_due
from mailhub.events.digest import send_digest
from mailhub.inbound import pipe, pipeline
from mailhub.members import MemberFields, add_member, find_person
from mailhub.models import (
    Discussion,
    Event,
    NewsItem,
    OutboundMessage,
    Post,
    PostStatus,
    Resource,
    Thread,
)
from mailhub.moderation.queue import send_reminders
from mailhub.newsletter import issues, sending
from mailhub.outbound.bounce_notices import disable_delivery

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("MAILHUB_UPDATE_GOLDEN") == "1"

LIST = "irnet@lists.example.org"
REQUEST = "irnet-request@lists.example.org"
MOD1, MOD2 = "maria@ministry.example.org", "omar@union.example.org"
AMINA, WEI, DEE, RFC = "amina@example.org", "wei@example.org", "dee@example.org", "rfc@example.org"
ADMIN, NEWCOMER, STRANGER = "admin@example.org", "new@example.org", "stranger@example.net"
BOB = "bob@example.org"
JOINED = datetime(2026, 2, 20, 9, 0, tzinfo=UTC)
INTAKE = datetime(2026, 2, 27, 10, 0, tzinfo=UTC)
# conftest's START: Monday 2 March 2026 09:00 UTC; irnet's digest was due at 05:00 UTC.
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

INJECTED = "Hi\r\nBcc: x@evil.example"
SCRIPTS = (
    "Look: <script>alert('x')</script> <img src=x onerror=alert(1)>\n"
    '<a href="javascript:alert(1)">click</a> </textarea><b>unclosed <i><<>> &bogus; &#xZZZ;'
)
WORLD = (
    "مرحبا بالجميع، هذا اقتراح حول الحوار الاجتماعي.\n"
    "大家好，这是关于社会对话的建议。\n"
    "Cheers 🎉👍🏽 — naïve café"
)
LONG = " ".join(f"word{n}" for n in range(260))  # one line of about 1,800 characters
HTML_POST = (
    "<html><body><p>See <a href='https://www.ilo.org/code'>the code</a>, "
    "<a href='javascript:alert(1)'>this</a> and <a href='/relative/page'>that</a>.</p>"
    "<p><img src='https://tracker.example/p.gif' onerror='alert(1)'>"
    "<script>alert(2)</script>Second paragraph</p></body></html>"
)


# --- the scenario ---------------------------------------------------------------------


def encoded_word(text: str) -> str:
    """An RFC 2047 word that decodes to ``text``, CR and LF included."""
    return f"=?utf-8?b?{base64.b64encode(text.encode()).decode()}?="


def raw_mail(
    sender: str,
    to: str,
    subject: str,
    text: str,
    message_id: str,
    *,
    name: str = "",
    html: str = "",
    headers: str = "",
) -> bytes:
    """A message as a mail client would send it, in plain text or (``html``) HTML only;
    headers written by hand so that encoded words can carry line breaks."""
    head = (
        f"From: {encoded_word(name) + ' ' if name else ''}<{sender}>\r\n"
        f"To: {to}\r\nSubject: {encoded_word(subject)}\r\n"
        f"Date: Fri, 27 Feb 2026 10:00:00 +0000\r\nMessage-ID: <{message_id}>\r\n"
        f"{headers}MIME-Version: 1.0\r\n"
    )
    content = html or text
    subtype = "html" if html else "plain"
    encoded = base64.encodebytes(content.encode()).decode().replace("\n", "\r\n")
    return (
        f'{head}Content-Type: text/{subtype}; charset="utf-8"\r\n'
        f"Content-Transfer-Encoding: base64\r\n\r\n{encoded}"
    ).encode()


def arrive(
    ctx: Context, sender: str, rcpt: str, subject: str, text: str, message_id: str, **extra: str
) -> None:
    """A mail through the pipe intake and the worker, as an MTA would deliver it."""
    raw = raw_mail(sender, rcpt, subject, text, message_id, **extra)
    result = pipe.ingest(ctx, raw, [rcpt], sender)
    assert result.code == pipe.EX_OK, result.message
    pipeline.drain(ctx)


def queued(ctx: Context, kind: str, to: str) -> list[bytes]:
    with ctx.session() as session:
        rows = session.exec(
            select(OutboundMessage)
            .where(OutboundMessage.kind == kind, OutboundMessage.recipient == to)
            .order_by(col(OutboundMessage.id))
        ).all()
        return [bytes(row.raw) for row in rows]


def one(ctx: Context, kind: str, to: str) -> bytes:
    found = queued(ctx, kind, to)
    assert len(found) == 1, (kind, to, len(found))
    return found[0]


def reply_address(raw: bytes, letter: str) -> str:
    found = re.search(rb"irnet\+" + letter.encode() + rb"-[a-z0-9.]+@lists\.example\.org", raw)
    assert found, raw[:600]
    return found.group(0).decode()


def members(ctx: Context) -> None:
    with ctx.session() as session:
        irnet = get_community(session, "irnet")
        for fields in [
            MemberFields(email=MOD1, name="Maria Mod", role="moderator", affiliation="government"),
            MemberFields(email=MOD2, name="Omar Mod", role="moderator", affiliation="workers"),
            MemberFields(email=ADMIN, name="Ada Admin", role="admin", delivery="none"),
            MemberFields(
                email=AMINA,
                name="Amina Kamau",
                affiliation="workers",
                country="KE",
                organisation="COTU",
            ),
            MemberFields(
                email=WEI, name="李伟", affiliation="employers", country="CN", delivery="none"
            ),
            MemberFields(email=BOB, name="Bob Bounce", country="UG"),
            MemberFields(email=DEE, name="Dee Digest", delivery="digest"),
            MemberFields(email=RFC, name="Rafa Classic", delivery="digest"),
        ]:
            _, membership = add_member(session, irnet, fields, JOINED)
            if fields.email == RFC:
                membership.digest_format = "rfc1153"
        # A name that came into the store with a line break (an old import, say).
        person = find_person(session, WEI)
        assert person is not None
        person.name = f"李伟 {INJECTED} <script>alert(1)</script>"


def seeded_posts(ctx: Context) -> None:
    """A discussion with member posts in it, approved before the digest was due."""
    with ctx.session() as session:
        irnet = get_community(session, "irnet")
        amina, wei = find_person(session, AMINA), find_person(session, WEI)
        assert irnet.id and amina and wei
        talk = Discussion(
            community_id=irnet.id,
            title="Social dialogue <b>after</b> the reform\r\nBcc: x@evil.example",
            question="What worked for you?",
            themes=["skills"],
            created_at=JOINED,
        )
        session.add(talk)
        session.flush()
        thread = Thread(
            community_id=irnet.id,
            subject="Consultation in practice",
            discussion_id=talk.id,
            created_at=JOINED,
            last_activity_at=JOINED,
        )
        session.add(thread)
        session.flush()
        for n, (person, body) in enumerate(
            [
                (amina, f"{WORLD}\n\nMore at https://example.org/dialogue?a=1&b=2."),
                (wei, f"{SCRIPTS}\n\n{LONG}"),
            ],
            start=1,
        ):
            at = JOINED + timedelta(days=1, hours=n)
            session.add(
                Post(
                    community_id=irnet.id,
                    thread_id=thread.id,
                    person_id=person.id,
                    message_id=f"seeded-{n}@mail.example.org",
                    author_email=person.email,
                    author_name=person.name,
                    subject="Re: Consultation in practice" if n > 1 else thread.subject,
                    status=PostStatus.APPROVED.value,
                    body_text=body,
                    received_at=at,
                    decided_at=at,
                )
            )


def newsletter_items(ctx: Context) -> None:
    with ctx.session() as session:
        irnet = get_community(session, "irnet")
        assert irnet.id
        made = NOW - timedelta(days=3)
        session.add_all(
            [
                Discussion(
                    community_id=irnet.id,
                    title="Minimum wage review",
                    question="How should minimum wages be reviewed?",
                    themes=["skills"],
                    state="summarised",
                    synopsis=f"We agreed on three points.\n\n{WORLD}\n\n{SCRIPTS}",
                    synopsis_at=made,
                    created_at=made - timedelta(days=30),
                ),
                NewsItem(
                    community_id=irnet.id,
                    title=f"New labour code {INJECTED}",
                    body=f"{SCRIPTS}\n\n{WORLD}\nRead it: https://example.org/code.",
                    url="https://example.org/code",
                    themes=["skills"],
                    status=PostStatus.APPROVED.value,
                    published_at=made,
                    created_at=made,
                ),
                NewsItem(
                    community_id=irnet.id,
                    title="Link that is not one",
                    body=LONG,
                    url="javascript:alert(1)",
                    status=PostStatus.APPROVED.value,
                    published_at=made,
                    created_at=made,
                ),
                Resource(
                    community_id=irnet.id,
                    title="Guide </textarea><script>alert(1)</script>",
                    url="https://example.org/guide.pdf",
                    description="A guide in Arabic: دليل الحوار الاجتماعي",
                    kind="guide",
                    themes=["green-jobs"],
                    created_at=made,
                ),
                Event(
                    community_id=irnet.id,
                    uid="forum@example.org",
                    title="Tripartite forum 🎉",
                    description=f"Agenda: https://example.org/forum/agenda\n\n{WORLD}",
                    starts_at=datetime(2026, 3, 12, 7, 0, tzinfo=UTC),
                    ends_at=datetime(2026, 3, 12, 10, 0, tzinfo=UTC),
                    timezone="Africa/Nairobi",
                    location="Nairobi, KICC",
                    url="https://example.org/forum",
                    status=PostStatus.APPROVED.value,
                    created_at=made,
                ),
                Event(
                    community_id=irnet.id,
                    uid="webinar@example.org",
                    title=f"Webinar {INJECTED} <script>alert(1)</script>",
                    description=SCRIPTS,
                    starts_at=datetime(2026, 3, 20, 14, 0, tzinfo=UTC),
                    timezone="Europe/Zurich",
                    location="Online\r\nBcc: x@evil.example",
                    url="javascript:alert(1)",
                    status=PostStatus.APPROVED.value,
                    created_at=made,
                ),
            ]
        )


def moderation(ctx: Context, clock: FrozenClock, mails: dict[str, bytes]) -> None:
    """Held posts and what moderators and posters are told, decisions taken by mail."""
    clock.set(INTAKE)
    # A member's HTML post, held; the first moderator approves it, then answers again.
    arrive(ctx, AMINA, LIST, INJECTED, "", "h-1@example.org", html=HTML_POST, name=f"A {INJECTED}")
    mails["notice-held"] = one(ctx, "held", MOD1)
    decide = reply_address(mails["notice-held"], "m")
    arrive(ctx, MOD1, decide, "Re: held", "approve\n", "d-1@example.org")
    mails["notice-fyi"] = one(ctx, "fyi", MOD2)
    mails["notice-decided"] = one(ctx, "moderation-reply", MOD1)
    mails["post"] = one(ctx, "post", AMINA)
    arrive(ctx, MOD1, decide, "Re: held", "reject\n", "d-2@example.org")
    mails["notice-already"] = queued(ctx, "moderation-reply", MOD1)[-1]
    # A hostile post, rejected with a reason.
    arrive(ctx, WEI, LIST, INJECTED, SCRIPTS, "bad-1@example.org")
    decide = reply_address(queued(ctx, "held", MOD1)[-1], "m")
    reason = "reject Off topic <script>alert(1)</script>\n"
    arrive(ctx, MOD1, decide, "Re: held", reason, "d-3@example.org")
    mails["notice-rejected"] = one(ctx, "rejected", WEI)
    # A stranger's post waits: the moderator's answer cannot be read; a day later, the
    # queue reminder.
    arrive(ctx, STRANGER, LIST, f"Offer {INJECTED}", LONG, "s-1@example.net", name="Spam\r\nX")
    decide = reply_address(queued(ctx, "held", MOD1)[-1], "m")
    arrive(ctx, MOD1, decide, "Re: held", "maybe later?\n", "d-4@example.org")
    mails["notice-unclear"] = queued(ctx, "moderation-reply", MOD1)[-1]
    clock.set(INTAKE + timedelta(days=1, hours=1))
    with ctx.session() as session:
        send_reminders(ctx, session)
    mails["notice-reminder"] = one(ctx, "reminder", MOD1)


def membership(ctx: Context, mails: dict[str, bytes]) -> None:
    """Commands by mail (a newcomer subscribes and confirms, a member asks for help) and a
    member whose address bounces."""
    arrive(ctx, NEWCOMER, REQUEST, "subscribe", "subscribe\n", "c-1@example.org", name=INJECTED)
    mails["notice-confirm"] = one(ctx, "confirmation", NEWCOMER)
    confirm = reply_address(mails["notice-confirm"], "c")
    arrive(ctx, NEWCOMER, confirm, "Re: confirm", "yes\n", "c-2@example.org")
    mails["notice-welcome"] = one(ctx, "confirmation-reply", NEWCOMER)
    commands = "help\nthemes skills\nfrobnicate <script>alert(1)</script>\n"
    arrive(ctx, AMINA, REQUEST, "", commands, "c-3@example.org")
    mails["notice-command-reply"] = queued(ctx, "command-reply", AMINA)[-1]
    with ctx.session() as session:
        bob = find_person(session, BOB)
        assert bob is not None
        bob.bounce_score = 5.0
        reason = f"550 5.1.1 mailbox unknown {INJECTED}"
        disable_delivery(ctx, session, get_community(session, "irnet"), bob, reason)
    mails["notice-bounce-disabled"] = one(ctx, "bounce_disabled", BOB)
    mails["notice-bounce-admin"] = one(ctx, "bounce_admin", ADMIN)


def monday(ctx: Context, clock: FrozenClock, mails: dict[str, bytes]) -> None:
    """The digest that was due at 05:00, a newsletter issue, the event digest."""
    clock.set(NOW)
    newsletter_items(ctx)
    with ctx.session() as session:
        community_id = get_community(session, "irnet").id
    assert community_id is not None
    assert send_due(ctx, community_id, NOW) is not None
    mails["digest"] = one(ctx, "digest", DEE)
    mails["digest-rfc1153"] = one(ctx, "digest", RFC)
    with ctx.session() as session:
        issue = issues.build(ctx, session, get_community(session, "irnet"), NOW, None)
        issue_id = issue.id
    assert issue_id is not None
    sending.send(ctx, issue_id)
    mails["newsletter"] = one(ctx, "newsletter", DEE)
    send_digest(ctx, community_id, 4, NOW)
    mails["events"] = one(ctx, "event-digest", DEE)


def scenario(ctx: Context, clock: FrozenClock) -> dict[str, bytes]:
    """Every mail of the story by golden name, as the outbox holds it."""
    ctx = derive(
        ctx,
        instance={
            "public_url": "https://lists.example.org",
            "admin_email": "postmaster@example.org",
        },
    )
    mails: dict[str, bytes] = {}
    clock.set(JOINED)
    members(ctx)
    seeded_posts(ctx)
    moderation(ctx, clock, mails)
    membership(ctx, mails)
    monday(ctx, clock, mails)
    return mails


# --- reading mail as people do, normalised ------------------------------------------

# What changes from run to run: MIME boundaries, random Message-IDs, HMAC tokens.
NORMALISE = [
    (re.compile(r"=_mailhub_(?:digest_)?[0-9a-f]{24}"), "=_BOUNDARY"),
    (re.compile(r"<\d+\.\d+\.\d+@lists\.example\.org>"), "<RANDOM@lists.example.org>"),
    (re.compile(r"(\+[a-z]-)[a-z0-9]+(?:\.[a-z0-9]+)+@"), r"\1TOKEN@"),
    (re.compile(r"(https://lists\.example\.org/[a-z]+/)[a-z0-9]+(?:\.[a-z0-9]+)+"), r"\1TOKEN"),
    (re.compile(r"(List-Unsubscribe-Post:.*|/unsubscribe/)[a-z0-9]+(?:\.[a-z0-9]+)+"), r"\1TOKEN"),
]


def normalise(text: str) -> str:
    for pattern, replacement in NORMALISE:
        text = pattern.sub(replacement, text)
    return text


def parse(raw: bytes) -> EmailMessage:
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    return message


def content(part: EmailMessage) -> str:
    """A part's decoded text with the wire's CRLF line ends as plain newlines."""
    text = part.get_content()
    assert isinstance(text, str)
    return text.replace("\r\n", "\n")


def readable(name: str, raw: bytes) -> dict[str, str]:
    """The golden files of one mail: ``name.txt`` with its headers decoded and its text
    parts as read; each HTML part and calendar file in a file of its own."""
    files: dict[str, str] = {}
    lines: list[str] = []

    def walk(part: EmailMessage, depth: int) -> None:
        lines.extend(f"{key}: {value}" for key, value in part.items())
        lines.append("")
        kind = part.get_content_type()
        if part.is_multipart():
            for number, sub in enumerate(part.iter_parts(), start=1):
                lines.append(f"{'>' * (depth + 1)} part {number} of {kind}")
                walk(sub, depth + 1)  # type: ignore[arg-type]
        elif kind == "message/rfc822":
            walk(part.get_content(), depth + 1)
        elif kind == "text/html":
            own = f"{name}.html" if f"{name}.html" not in files else f"{name}-{len(files)}.html"
            files[own] = content(part)
            lines.extend([f"(the HTML part is tests/golden/{own})", ""])
        elif kind == "text/calendar":
            own = f"{name}-{part.get_filename()}"
            files[own] = content(part)
            lines.extend([f"(the calendar file is tests/golden/{own})", ""])
        else:
            lines.extend([content(part).rstrip("\n"), ""])

    walk(parse(raw), 0)
    files[f"{name}.txt"] = "\n".join(lines).rstrip("\n") + "\n"
    return {own: normalise(text) for own, text in files.items()}


def golden_files(ctx: Context, clock: FrozenClock) -> dict[str, str]:
    files: dict[str, str] = {}
    for name, raw in scenario(ctx, clock).items():
        files.update(readable(name, raw))
    return files


def test_every_rendering_matches_its_golden_file(ctx: Context, clock: FrozenClock) -> None:
    files = golden_files(ctx, clock)
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        for old in GOLDEN.iterdir():
            if old.name not in files:
                old.unlink()
        for own, text in files.items():
            (GOLDEN / own).write_bytes(text.encode("utf-8"))
    expected = {p.name for p in GOLDEN.iterdir()} if GOLDEN.exists() else set()
    assert sorted(files) == sorted(expected), "run MAILHUB_UPDATE_GOLDEN=1 to write new files"
    differences = []
    for own, text in sorted(files.items()):
        want = (GOLDEN / own).read_bytes().decode("utf-8")
        if text != want:
            diff = difflib.unified_diff(
                want.splitlines(), text.splitlines(), f"golden/{own}", "now", lineterm=""
            )
            differences.append("\n".join(list(diff)[:40]))
    assert not differences, "\n\n".join(differences)


# --- safety, structurally -------------------------------------------------------------

FORBIDDEN_TAGS = {"script", "style", "iframe", "object", "embed", "form", "textarea", "img"}


class Tree(HTMLParser):
    """Every tag, attribute and link of a document, and whether tags nest."""

    VOID = {"meta", "br", "img", "hr", "link", "input"}

    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.handlers: list[str] = []
        self.links: list[str] = []
        self.rels: list[str] = []
        self.stack: list[str] = []
        self.unbalanced: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.handlers += [name for name, _ in attrs if name.startswith("on")]
        values = dict(attrs)
        if "href" in values or "src" in values:
            self.links.append((values.get("href") or values.get("src") or "").strip())
        if tag == "a" and values.get("rel"):
            self.rels.append(values["rel"] or "")
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.unbalanced.append(tag)


def check_html(html: str) -> Tree:
    tree = Tree()
    tree.feed(html)
    tree.close()
    assert not tree.tags & FORBIDDEN_TAGS, tree.tags & FORBIDDEN_TAGS
    assert tree.handlers == []
    assert tree.unbalanced == [] and tree.stack == []
    for link in tree.links:
        assert link.lower().startswith(("https://", "http://", "mailto:")), link
    return tree


def test_every_mail_is_safe_whatever_the_members_wrote(ctx: Context, clock: FrozenClock) -> None:
    mails = scenario(ctx, clock)
    assert len([n for n in mails if n.startswith("notice-")]) >= 8
    for name, raw in mails.items():
        for line in raw.split(b"\r\n"):
            assert len(line) <= 998, (name, line[:80])
        message = parse(raw)
        assert not message.defects, (name, message.defects)
        parts = [message, *message.walk()]
        parts += [
            p.get_content() for p in message.walk() if p.get_content_type() == "message/rfc822"
        ]
        for part in parts:
            assert "Bcc" not in part and "X-Evil" not in part, name
            for key, value in part.items():
                assert "\n" not in str(value) and "\r" not in str(value), (name, key)
        for part in message.walk():
            if part.get_content_type() == "text/html":
                tree = check_html(content(part))
                assert "javascript:" not in " ".join(tree.links).lower()
            if part.get_content_type() == "text/plain":
                assert "\r" not in content(part), name  # no lone CR from a member


def test_member_links_are_absolute_and_marked_nofollow(ctx: Context, clock: FrozenClock) -> None:
    mails = scenario(ctx, clock)
    html = parse(mails["digest"]).get_body(preferencelist=("html",))
    assert html is not None
    tree = check_html(html.get_content())
    assert "https://www.ilo.org/code" in tree.links  # from the member's HTML, kept
    assert "https://example.org/dialogue?a=1&b=2" in tree.links  # typed, made a link
    assert not any("relative" in link for link in tree.links)  # relative: dropped
    assert tree.rels and set(tree.rels) == {"noopener nofollow"}
