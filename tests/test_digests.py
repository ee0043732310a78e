"""Digests: what each digest member gets on the community's schedule, in both formats, safe
against hostile member content, abridged past 100 KB, and sent once per due time."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from conftest import derive
from mailtools import outbox
from sqlmodel import Session, select

from mailhub import tokens
from mailhub.communities import get_community
from mailhub.context import Context
from mailhub.cron import last_due
from mailhub.digest.preview import preview
from mailhub.members import MemberFields, add_member
from mailhub.models import (
    Attachment,
    Community,
    DigestIssue,
    Discussion,
    Membership,
    Person,
    Post,
    PostStatus,
    Thread,
)
from mailhub.scheduler import run_due

SECRET = "test-secret-0123456789abcdef"
# START (conftest) is Monday 2 March 2026, 09:00 UTC; irnet's digest is due Mondays at
# 08:00 in Nairobi, 05:00 UTC.
DUE = datetime(2026, 3, 2, 5, 0, tzinfo=UTC)
JOINED = datetime(2026, 2, 20, tzinfo=UTC)
REPLY = re.compile(r"irnet\+r-([a-z0-9.]+)@lists\.example\.org")
HOSTILE_SUBJECT = "Wages <script>alert(1)</script>\r\nBcc: victim@example.org"
HOSTILE_BODY = (
    "Look: <script>alert('x')</script> <img src=x onerror=alert(1)>\n"
    "</td></table><b>unclosed <a href='javascript:evil()'>link\n\nSecond paragraph é."
)


def member(session: Session, community: Community, email: str, **extra: Any) -> Membership:
    membership_fields = {k: extra.pop(k) for k in ("digest_format", "only_my_themes") if k in extra}
    fields = MemberFields(email=email, name=extra.pop("name", email.split("@")[0].title()), **extra)
    _person, membership = add_member(session, community, fields, JOINED)
    for name, value in membership_fields.items():
        setattr(membership, name, value)
    membership.joined_at = JOINED
    session.add(membership)
    session.flush()
    return membership


def post(
    session: Session, community: Community, thread: Thread, n: int, at: datetime, **values: Any
) -> Post:
    fields: dict[str, Any] = {
        "community_id": community.id,
        "thread_id": thread.id,
        "message_id": f"post-{n}@mail.example.org",
        "author_email": "amina@example.org",
        "author_name": "Amina Persön",
        "subject": thread.subject,
        "status": PostStatus.APPROVED.value,
        "body_text": f"Body of post {n}: our union signed the sector agreement.\n",
        "received_at": at,
        "decided_at": at,
        **values,
    }
    item = Post(**fields)
    session.add(item)
    session.flush()
    return item


def thread(
    session: Session, community: Community, subject: str, discussion: int | None = None
) -> Thread:
    item = Thread(
        community_id=community.id,  # type: ignore[arg-type]
        subject=subject,
        discussion_id=discussion,
        created_at=JOINED,
        last_activity_at=JOINED,
    )
    session.add(item)
    session.flush()
    return item


def setup(ctx: Context) -> dict[str, int]:
    """Members of every kind, a discussion thread on skills and a hostile plain thread."""
    with ctx.session() as session:
        community = get_community(session, "irnet")
        amina, _ = add_member(
            session,
            community,
            MemberFields(
                email="amina@example.org",
                name="Amina Persön",
                affiliation="workers",
                country="KE",
                organisation="COTU",
                delivery="none",
            ),
            JOINED,
        )
        ids = {
            "dee": member(session, community, "dee@example.org", delivery="digest").person_id,
            "rfc": member(
                session, community, "rfc@example.org", delivery="digest", digest_format="rfc1153"
            ).person_id,
            "green": member(
                session,
                community,
                "green@example.org",
                delivery="digest",
                themes=["green-jobs"],
                only_my_themes=True,
            ).person_id,
            "skills": member(
                session,
                community,
                "skills@example.org",
                delivery="digest",
                themes=["skills"],
                only_my_themes=True,
            ).person_id,
        }
        member(session, community, "each@example.org")
        member(session, community, "none@example.org", delivery="none")
        member(session, community, "pending@example.org", delivery="digest", status="pending")
        paused = member(session, community, "paused@example.org", delivery="digest")
        paused.delivery_disabled_reason = "bounces"
        session.add(paused)
        talk = Discussion(
            community_id=community.id,  # type: ignore[arg-type]
            title="Skills for the green transition",
            question="What works?",
            themes=["skills"],
            created_at=JOINED,
        )
        session.add(talk)
        session.flush()
        first = thread(session, community, "Apprenticeships that work", talk.id)
        second = thread(session, community, HOSTILE_SUBJECT)
        at = JOINED + timedelta(days=2)
        p1 = post(session, community, first, 1, at, person_id=amina.id)
        p2 = post(
            session,
            community,
            second,
            2,
            at + timedelta(hours=1),
            body_text=HOSTILE_BODY,
            subject=HOSTILE_SUBJECT,
            person_id=amina.id,
        )
        p3 = post(session, community, first, 3, at + timedelta(hours=2), person_id=amina.id)
        post(session, community, first, 4, at, status=PostStatus.HELD.value)
        post(session, community, first, 5, DUE + timedelta(minutes=1))  # after the due time
        ids.update(p1=p1.id, p2=p2.id, p3=p3.id)  # type: ignore[arg-type]
        return ids


class StrictTree(HTMLParser):
    """Records tags that do not nest properly, and every link."""

    VOID = {"meta", "br", "img", "hr", "link", "input"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.links: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.links += [v or "" for k, v in attrs if k in ("href", "src")]
        self.errors += [k for k, _ in attrs if k.startswith("on")]
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(f"</{tag}>")


def parse_html(html: str) -> StrictTree:
    tree = StrictTree()
    tree.feed(html)
    tree.close()
    assert tree.errors == [] and tree.stack == []
    return tree


def digests(ctx: Context) -> dict[str, EmailMessage]:
    return {row.recipient: message for row, message in outbox(ctx, kind="digest")}


def part(message: EmailMessage, subtype: str) -> str:
    found = message.get_body(preferencelist=(subtype,))
    assert found is not None
    return found.get_content()  # type: ignore[no-any-return]


def replies(text: str, person_id: int) -> list[int]:
    """The post ids of the reply addresses in ``text``, each verified for ``person_id``."""
    found = []
    for token in REPLY.findall(text):
        values = tokens.verify(SECRET, tokens.REPLY, token, now=DUE)
        assert values.int_value(1) == person_id
        found.append(values.int_value(0))
    return found


def test_digest_members_get_text_and_html_with_contents_authors_and_reply_links(
    ctx: Context,
) -> None:
    ids = setup(ctx)
    report = run_due(ctx)
    assert report.failed == []
    sent = digests(ctx)
    # Digest members with something new; not each/none/pending/paused, not "green" (no
    # post on their theme).
    assert sorted(sent) == ["dee@example.org", "rfc@example.org", "skills@example.org"]
    message = sent["dee@example.org"]
    assert message.get_content_type() == "multipart/alternative"
    assert message["X-Mailhub-Digest"] == "yes"
    assert message["Message-ID"] == f"<digest-1-20260302T0500Z-{ids['dee']}@lists.example.org>"
    assert message["Reply-To"] == "irnet@lists.example.org"
    assert message["To"] == "dee@example.org"
    unsubscribe = re.search(r"irnet\+u-([a-z0-9.]+)@", message["List-Unsubscribe"])
    assert unsubscribe
    with ctx.session() as session:
        dee = session.exec(select(Membership).where(Membership.person_id == ids["dee"])).one()
    assert (
        tokens.verify(SECRET, tokens.UNSUBSCRIBE, unsubscribe.group(1), now=DUE).int_value(0)
        == dee.id
    )
    assert dee.last_digest_at == DUE

    text = part(message, "plain")
    contents = text[: text.index("To reply to one message")]
    # Discussion first, then the other thread; numbered in reading order.
    assert "Discussion: Skills for the green transition" in contents
    assert re.search(r"1\. Apprenticeships that work \(Amina Persön\)", contents)
    assert re.search(r"2\. Apprenticeships that work", contents)
    assert "3. Wages <script>alert(1)</script> Bcc: victim@example.org" in contents
    assert "From: Amina Persön (Workers, COTU, KE) <amina@example.org>" in text
    assert "Body of post 1" in text and "Body of post 3" in text
    assert "post 4" not in text and "post 5" not in text  # held; after the due time
    assert replies(text, ids["dee"]) == [ids["p1"], ids["p3"], ids["p2"]]

    html = part(message, "html")
    tree = parse_html(html)
    assert "script" not in tree.tags and "<script" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Amina Persön (Workers, COTU, KE)" in html
    assert all(link.startswith(("mailto:", "https://", "http://")) for link in tree.links)
    assert replies(" ".join(tree.links), ids["dee"]) == [ids["p1"], ids["p3"], ids["p2"]]
    assert "Contents" in html and "<ol" in html
    # Header injection: the subject's line break made no header of its own anywhere.
    row = outbox(ctx, kind="digest", to="dee@example.org")[0][0]
    assert not re.search(rb"^Bcc:", row.raw, re.MULTILINE)
    assert message["Bcc"] is None


def test_rfc1153_members_get_a_multipart_digest(ctx: Context) -> None:
    ids = setup(ctx)
    run_due(ctx)
    message = digests(ctx)["rfc@example.org"]
    assert message.get_content_type() == "multipart/mixed"
    contents, inner, footer = message.iter_parts()
    assert "Today's Topics:" in contents.get_content()
    assert inner.get_content_type() == "multipart/digest"
    parts = list(inner.iter_parts())
    assert [p.get_content_type() for p in parts] == ["message/rfc822"] * 3
    posts = [p.get_content() for p in parts]
    assert [p["Message-ID"] for p in posts] == [
        "<post-1@mail.example.org>",
        "<post-3@mail.example.org>",
        "<post-2@mail.example.org>",
    ]
    assert posts[2]["Bcc"] is None and "\n" not in str(posts[2]["Subject"])
    bodies = [p.get_content() for p in posts]
    assert "Body of post 1" in bodies[0] and "Second paragraph é." in bodies[2]
    assert [replies(b, ids["rfc"]) for b in bodies] == [[ids["p1"]], [ids["p3"]], [ids["p2"]]]
    assert "End of IRNet digest" in footer.get_content()


def test_only_my_themes_takes_discussion_posts_on_the_members_themes(ctx: Context) -> None:
    ids = setup(ctx)
    run_due(ctx)
    text = part(digests(ctx)["skills@example.org"], "plain")
    assert replies(text, ids["skills"]) == [ids["p1"], ids["p3"]]  # the untagged post is left out
    assert "Wages" not in text


def test_run_due_twice_sends_one_digest_per_member_and_next_time_only_what_is_new(
    ctx: Context,
) -> None:
    ids = setup(ctx)
    run_due(ctx)
    run_due(ctx)
    run_due(ctx, DUE + timedelta(days=3))
    assert len(outbox(ctx, kind="digest")) == 3
    with ctx.session() as session:
        assert len(session.exec(select(DigestIssue)).all()) == 1
    next_week = DUE + timedelta(days=7)
    report = run_due(ctx, next_week)
    assert report.failed == []
    later = [m for r, m in outbox(ctx, kind="digest", to="dee@example.org")]
    assert len(later) == 2
    text = part(later[1], "plain")
    assert "Body of post 5" in text and "Body of post 1" not in text
    assert replies(text, ids["dee"]) != []


def test_nothing_new_means_no_digest(ctx: Context) -> None:
    with ctx.session() as session:
        community = get_community(session, "irnet")
        member(session, community, "dee@example.org", delivery="digest")
        item = thread(session, community, "Old news")
        post(session, community, item, 1, JOINED - timedelta(days=1))  # before joining
    report = run_due(ctx)
    assert report.failed == [] and outbox(ctx, kind="digest") == []


def test_a_long_digest_is_abridged_under_100_kb(sqlite_ctx: Context) -> None:
    ctx = sqlite_ctx
    with ctx.session() as session:
        community = get_community(session, "irnet")
        person = member(session, community, "dee@example.org", delivery="digest").person_id
        item = thread(session, community, "Long thread")
        for n in range(60):
            body = f"Post {n} starts.\n" + ("Collective agreements é. " * 120) + f"\nPost {n} ends."
            post(
                session,
                community,
                item,
                n,
                JOINED + timedelta(minutes=n + 1),
                body_text=body,
                subject=f"Point {n}",
            )
    run_due(ctx)
    row, message = outbox(ctx, kind="digest")[0]
    assert 60_000 < len(row.raw) < 100_000
    # Quoted-printable stays within its 76 characters a line, reply addresses included.
    body_lines = row.raw.split(b"\r\n\r\n", 1)[1].split(b"\r\n")
    assert [line for line in body_lines if len(line) > 76] == []
    text, html = part(message, "plain"), part(message, "html")
    assert "Post 0 ends." in text and "Post 59 starts." not in text
    assert "Point 59" in text and "abridged to keep this digest under 100 KB" in text
    assert len(replies(text, person)) == 60 and len(set(REPLY.findall(html))) == 60
    parse_html(html)


def test_schedule_is_read_in_the_community_time_zone() -> None:
    assert last_due("0 8 * * mon", "Africa/Nairobi", DUE + timedelta(hours=4)) == DUE
    assert last_due("0 8 * * mon", "Africa/Nairobi", DUE - timedelta(minutes=1)) == DUE - timedelta(
        days=7
    )
    assert last_due(
        "30 6 * * *", "America/New_York", datetime(2026, 7, 1, 11, 0, tzinfo=UTC)
    ) == datetime(2026, 7, 1, 10, 30, tzinfo=UTC)


def test_batch_signer_makes_the_tokens_sign_makes() -> None:
    signer = tokens.BatchSigner(SECRET, tokens.REPLY)
    for values in [(1, 2), (12345, 678), (0, 0), (99999999, 1)]:
        assert signer.sign(*values) == tokens.sign(SECRET, tokens.REPLY, *values)
    long_secret = "k" * 100
    assert tokens.BatchSigner(long_secret, tokens.REPLY).sign(3, 4) == tokens.sign(
        long_secret, tokens.REPLY, 3, 4
    )


def test_cli_send_and_preview(ctx: Context, run_cli: Any) -> None:
    ids = setup(ctx)
    shown = run_cli(
        "digest",
        "preview",
        "--community",
        "irnet",
        "--member",
        "dee@example.org",
        "--now",
        "2026-03-02T05:00Z",
    )
    assert shown.exit_code == 0, shown.output
    count, text_path, html_path = shown.output.split("\n")[:3]
    assert count == "3 new post(s)"
    text = Path(text_path).read_text()
    assert replies(text, ids["dee"]) == [ids["p1"], ids["p3"], ids["p2"]]
    parse_html(Path(html_path).read_text())
    sent = run_cli("digest", "send", "--community", "irnet", "--now", "2026-03-02T06:00Z")
    assert sent.exit_code == 0, sent.output
    assert "digest due 2026-03-02 05:00 UTC: 3 queued over 3 post(s)" in sent.output
    again = run_cli("digest", "send", "--community", "irnet", "--now", "2026-03-02T07:00Z")
    assert "nothing due" in again.output and len(outbox(ctx, kind="digest")) == 3


def test_batch_signer_signs_many_posts_for_one_person_alike() -> None:
    signed = tokens.BatchSigner(SECRET, tokens.REPLY).sign_each([5, 17, 123456], 42)
    assert signed == {p: tokens.sign(SECRET, tokens.REPLY, p, 42) for p in (5, 17, 123456)}


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).parent / "artifacts"


@pytest.mark.needs(CHROMIUM is not None, "no chromium installed (apt-get install chromium)")
def test_the_digest_html_reads_well_in_a_real_browser(
    sqlite_ctx: Context, run_cli_sqlite: Any
) -> None:
    """Opened in headless Chromium: the table of contents, every item and the hostile
    member content shown as text; a screenshot is saved in tests/artifacts/."""
    from playwright.sync_api import sync_playwright

    setup(sqlite_ctx)
    shown = run_cli_sqlite(
        "digest",
        "preview",
        "--community",
        "irnet",
        "--member",
        "dee@example.org",
        "--now",
        "2026-03-02T05:00Z",
    )
    assert shown.exit_code == 0, shown.output
    html_path = Path(shown.output.split("\n")[2])
    ARTIFACTS.mkdir(exist_ok=True)
    alerts: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 800, "height": 1200})
            page.on("dialog", lambda dialog: (alerts.append(dialog.message), dialog.dismiss()))
            page.goto(html_path.as_uri())
            body = page.inner_text("body")
            page.screenshot(path=str(ARTIFACTS / "digest.png"), full_page=True)
        finally:
            browser.close()
    assert alerts == []  # no script from member content ran
    assert "Contents" in body and "Amina Pers\u00f6n" in body
    assert body.count("Body of post") == 2
    assert "<script>alert('x')</script>" in body  # hostile markup shown as text, not run


def test_item_titles_are_clean_and_attachments_are_named(ctx: Context) -> None:
    """A reply's title shows without "Re:" or the list tag, the subject has no doubled name,
    and a post's attachments are named in both formats."""
    with ctx.session() as session:
        community = get_community(session, "irnet")
        member(session, community, "dee@example.org", delivery="digest")
        member(session, community, "rfc@example.org", delivery="digest", digest_format="rfc1153")
        talk = thread(session, community, "Wage boards")
        first = post(session, community, talk, 1, DUE - timedelta(hours=3))
        post(
            session,
            community,
            talk,
            2,
            DUE - timedelta(hours=2),
            subject="RE: [IRNet] AW: Wage boards",
        )
        session.add(
            Attachment(
                post_id=first.id or 0,
                filename="wage-report.pdf",
                content_type="application/pdf",
                size=1_300_000,
                sha256="0" * 64,
            )
        )
    run_due(ctx)
    sent = digests(ctx)
    message = sent["dee@example.org"]
    assert message["Subject"] == "[IRNet] Digest, Monday 02 March 2026"
    text = part(message, "plain")
    assert not re.search(r"\d\. (RE|Re|AW):", text) and "[IRNet] AW" not in text
    assert "Attachments: wage-report.pdf (1.2 MB)" in text
    assert "Attachments: wage-report.pdf (1.2 MB)" in part(message, "html")
    classic = str(sent["rfc@example.org"])
    assert "Attachments: wage-report.pdf (1.2 MB)" in classic


def test_every_digest_copy_shows_its_members_own_unsubscribe_link(ctx: Context) -> None:
    """Quoted-printable bodies (the posts are not ASCII), both formats and the preview: the
    body's https link is the header's, and names the member it went to."""
    ctx = derive(ctx, instance={"public_url": "https://lists.example.org"})
    setup(ctx)
    run_due(ctx)
    sent = digests(ctx)
    assert len(sent) == 3
    for email, message in sent.items():
        [link] = re.findall(r"<(https://[^>]+)>", message["List-Unsubscribe"])
        bodies = [
            str(p.get_content()) for p in message.walk() if p.get_content_maintype() == "text"
        ]
        shown = {
            u for text in bodies for u in re.findall(r"https://\S+/unsubscribe/[^\s\"<]+", text)
        }
        assert shown == {link}, (email, shown)
        assert b"=\r\n" in bytes(outbox(ctx, kind="digest", to=email)[0][0].raw)
        token = link.rsplit("/", 1)[1]
        membership_id = tokens.verify(SECRET, tokens.UNSUBSCRIBE, token, now=DUE).int_value(0)
        with ctx.session() as session:
            membership = session.get(Membership, membership_id)
            assert membership is not None
            person = session.get(Person, membership.person_id)
        assert person is not None and person.email == email
    with ctx.session() as session:
        community = get_community(session, "irnet")
    found = preview(ctx, community, "dee@example.org", DUE)
    [link] = re.findall(r"<(https://[^>]+)>", sent["dee@example.org"]["List-Unsubscribe"])
    assert link in found.text and f'href="{link}"' in found.html
