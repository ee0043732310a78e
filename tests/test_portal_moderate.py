"""The moderators' queue on the web, on SQLite and PostgreSQL, with posts and news that
arrive by real SMTP and are held by the real rules: a moderator approves, rejects,
discards and defers by POST, and the store holds exactly what a decision by mail leaves
(status, a Decision via "web" by that moderator, the fan-out queued, the notices). A
second decision, by a double submit or after one by mail, changes nothing and says so;
a forged form changes nothing; no one but the community's moderators and admins even
sees the queue; and a visitor's cached page shows an approved post at once."""

from __future__ import annotations

import re
import smtplib
import threading
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from html import unescape

import pytest
from mailtools import address_in, body, outbox
from portal_client import Client, seeded_portal, sign_in, viewers_of_yen
from portal_seed import ADMIN, AMINA, MOD, YEN_MEMBER, YEN_MOD, World
from smtp_server import running_listener
from sqlmodel import col, select
from test_moderation import Mailer

from mailhub.context import Context
from mailhub.inbound import pipeline
from mailhub.models import Attachment, Decision, NewsItem, Person, Post, Thread

LIST = "irnet@lists.example.org"
HELD_FILE = "Wage floors – draft 2.pdf"
HELD_BYTES = b"%PDF-1.4\nHELD-FILE-BYTES\n%%EOF\n"
ANONYMOUS_OR_IRNET = ("anonymous", "member of another community")


@pytest.fixture
def site(ctx: Context) -> Iterator[tuple[Context, World, str, Mailer]]:
    with seeded_portal(ctx) as (web_ctx, world, base), running_listener(web_ctx) as port:
        yield web_ctx, world, base, Mailer(web_ctx, port)


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert found, page[:500]
    return found.group(1)


def held(ctx: Context, message_id: str) -> Post:
    with ctx.session() as session:
        post = session.exec(select(Post).where(col(Post.message_id).endswith(message_id))).one()
    assert post.status == "held", post.status
    return post


def decisions(ctx: Context, post_id: int | None) -> list[tuple[str, str, int | None]]:
    with ctx.session() as session:
        rows = session.exec(
            select(Decision).where(Decision.post_id == post_id).order_by(col(Decision.id))
        )
        return [(d.action, d.via, d.person_id) for d in rows]


def person_id(ctx: Context, email: str) -> int | None:
    with ctx.session() as session:
        return session.exec(select(Person.id).where(Person.email == email)).one()


def test_approve_on_the_web_does_what_the_mail_decision_does(
    site: tuple[Context, World, str, Mailer],
) -> None:
    ctx, _, base, mailer = site
    mid = mailer.send(AMINA, LIST, "Wage councils in the region", "WEB-APPROVED-TEXT")
    post = held(ctx, mid)
    visitor = Client(base)
    status, headers, page = visitor.get("/c/irnet/archive/")
    assert status == 200 and "Wage councils in the region" not in page
    etag = headers["etag"]
    assert visitor.request("GET", "/c/irnet/archive/", headers={"If-None-Match": etag})[0] == 304

    moderator = sign_in(ctx, base, MOD)
    status, _, page = moderator.get("/c/irnet/queue")
    assert status == 200 and "WEB-APPROVED-TEXT" in page
    assert "every post in this community is reviewed" in page  # the hold reason
    assert AMINA in page and "Labour Congress of Thailand" in page
    csrf = csrf_of(page)
    status, _, page = moderator.post(
        f"/c/irnet/queue/{post.id}", [("csrf", csrf), ("action", "approve"), ("themes", "nope")]
    )
    assert status == 400 and "nope" in page and held(ctx, mid).status == "held"
    form = [("csrf", csrf), ("action", "approve"), ("themes", "skills"), ("themes", "green-jobs")]
    status, headers, _ = moderator.post(f"/c/irnet/queue/{post.id}", form)
    assert status == 303 and headers["location"] == f"/c/irnet/queue?item={post.id}#result"
    page = moderator.get(headers["location"].split("#")[0])[2]
    assert f"Item {post.id}" in page and "approved</strong> by Maria Mod" in page
    assert "WEB-APPROVED-TEXT" not in page  # no longer waiting

    with ctx.session() as session:
        stored = session.get(Post, post.id)
        assert stored is not None and stored.status == "approved"
        assert stored.decided_by == person_id(ctx, MOD)
        thread = session.get(Thread, stored.thread_id)
        assert thread is not None and sorted(thread.themes) == ["green-jobs", "skills"]
    assert decisions(ctx, post.id)[-1] == ("approve", "web", person_id(ctx, MOD))
    copies = [row for row, _ in outbox(ctx, "post") if row.dedup_key.startswith(f"post:{post.id}:")]
    assert {row.recipient for row in copies} >= {AMINA, MOD}  # the fan-out is queued
    assert [row.recipient for row, _ in outbox(ctx, "fyi")] == [ADMIN]  # co-moderator told

    # The visitor's kept page is stale now: they get the post at once, and a new ETag.
    status, headers, page = visitor.request(
        "GET", "/c/irnet/archive/", headers={"If-None-Match": etag}
    )
    assert status == 200 and "Wage councils in the region" in page and headers["etag"] != etag

    # A double submit decides nothing more, and says who decided.
    form = {"csrf": csrf_of(page if "csrf" in page else moderator.get("/c/irnet/queue")[2])}
    status, _, page = moderator.post(f"/c/irnet/queue/{post.id}", {**form, "action": "discard"})
    assert status == 409 and "was already <strong>approved</strong> by Maria Mod" in page
    assert [d[0] for d in decisions(ctx, post.id)] == ["hold", "approve"]


def test_reject_discard_defer_and_a_decision_by_mail_first(
    site: tuple[Context, World, str, Mailer],
) -> None:
    ctx, _, base, mailer = site
    first = held(ctx, mailer.send(AMINA, LIST, "First", "one"))
    second = held(ctx, mailer.send(AMINA, LIST, "Second", "two"))
    third = held(ctx, mailer.send(AMINA, LIST, "Third", "three"))
    by_mail = held(ctx, mailer.send(AMINA, LIST, "Fourth", "four"))
    moderator = sign_in(ctx, base, ADMIN)
    csrf = csrf_of(moderator.get("/c/irnet/queue")[2])

    def decide(post: Post, action: str, reason: str = "") -> int:
        fields = {"csrf": csrf, "action": action, "reason": reason}
        return moderator.post(f"/c/irnet/queue/{post.id}", fields)[0]

    assert decide(first, "reject", "  Off topic\nfor this list ") == 303
    assert decide(second, "discard", "ignored") == 303
    assert decide(third, "defer") == 303
    assert decide(third, "bogus") == 400  # an unknown action does nothing
    with ctx.session() as session:
        states = {p.id: (p.status, p.reason) for p in session.exec(select(Post))}
    assert states[first.id] == ("rejected", "Off topic for this list")
    assert states[second.id][0] == "discarded" and states[third.id][0] == "held"
    admin = person_id(ctx, ADMIN)
    assert decisions(ctx, third.id)[-1] == ("defer", "web", admin)
    rejected = outbox(ctx, "rejected", AMINA)
    assert len(rejected) == 1 and "Off topic for this list" in rejected[0][1].as_string()
    assert "left waiting" in moderator.get(f"/c/irnet/queue?item={third.id}")[2]
    page = moderator.get("/c/irnet/queue")[2]
    assert "three" in page and "defer" in page  # the deferral shows in its history

    # Maria decides by mail first; the web decision then changes nothing.
    notice = [m for r, m in outbox(ctx, "held", MOD) if f"Item number {by_mail.id}" in str(m)]
    mailer.send(MOD, address_in(notice[0]["Reply-To"], "m"), "Re: held", "discard\n")
    status = decide(by_mail, "approve")
    assert status == 409
    page = moderator.get(f"/c/irnet/queue?item={by_mail.id}")[2]
    assert "discarded</strong> by Maria Mod" in page
    assert decisions(ctx, by_mail.id)[1:] == [("discard", "email", person_id(ctx, MOD))]


def test_two_moderators_at_once_decide_once(site: tuple[Context, World, str, Mailer]) -> None:
    ctx, _, base, mailer = site
    post = held(ctx, mailer.send(AMINA, LIST, "Raced", "raced"))
    clients = [sign_in(ctx, base, MOD), sign_in(ctx, base, ADMIN)]
    # Each files the conversation under a different theme: only the winner's may stick.
    forms = [
        {"csrf": csrf_of(c.get("/c/irnet/queue")[2]), "action": "approve", "themes": theme}
        for c, theme in zip(clients, ("skills", "green-jobs"), strict=True)
    ]
    answers: list[tuple[int, str]] = []

    def press(client: Client, form: dict[str, str]) -> None:
        answers.append((client.post(f"/c/irnet/queue/{post.id}", form)[0], form["themes"]))

    pairs = zip(clients, forms, strict=True)
    threads = [threading.Thread(target=press, args=pair) for pair in pairs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(status for status, _ in answers) == [303, 409]
    assert [d[0] for d in decisions(ctx, post.id)] == ["hold", "approve"]
    winner = next(theme for status, theme in answers if status == 303)
    with ctx.session() as session:
        approved = session.get(Post, post.id)
        conversation = session.get(Thread, approved.thread_id) if approved else None
        assert conversation is not None and conversation.themes == [winner]
    copies = [r for r, _ in outbox(ctx, "post") if r.dedup_key.startswith(f"post:{post.id}:")]
    assert len(copies) == len({r.recipient for r in copies})


def test_a_held_news_item_approved_on_the_web_is_published(
    site: tuple[Context, World, str, Mailer],
) -> None:
    ctx, _, base, mailer = site
    mailer.send(AMINA, "irnet-news@lists.example.org", "WEB-NEWS title", "WEB-NEWS body")
    assert "WEB-NEWS" not in Client(base).get("/c/irnet/news/")[2]
    moderator = sign_in(ctx, base, MOD)
    page = moderator.get("/c/irnet/queue")[2]
    assert "News item" in page and "WEB-NEWS body" in page
    with ctx.session() as session:
        item = session.exec(select(NewsItem).where(NewsItem.title == "WEB-NEWS title")).one()
    fields = {"csrf": csrf_of(page), "action": "approve"}
    assert moderator.post(f"/c/irnet/queue/{item.post_id}", fields)[0] == 303
    with ctx.session() as session:
        published = session.get(NewsItem, item.id)
        assert published is not None and published.status == "approved"
    assert "WEB-NEWS title" in Client(base).get("/c/irnet/news/")[2]
    assert outbox(ctx, "post") == []  # news is never sent as a post


def test_only_the_communitys_moderators_see_or_use_the_queue(
    site: tuple[Context, World, str, Mailer],
) -> None:
    ctx, world, base, _ = site
    with ctx.session() as session:
        secret = session.exec(
            select(Post).where(Post.thread_id == world.ids["secret_thread"])
        ).one()
        secret.status = "held"
        session.add(secret)
    viewers = viewers_of_yen(ctx, base)
    for who, client in viewers.items():
        moderates = who in ("moderator", "admin")
        status, _, page = client.get("/me")  # everyone's own page, and only their own
        assert status == (303 if who == "anonymous" else 200), who
        assert ("Youth Employment Network" in page) == (who not in ANONYMOUS_OR_IRNET), who
        status, _, page = client.get("/c/yen/queue")
        assert status == (200 if moderates else 404), who
        assert ("SECRET-YEN-CONVERSATION" in page) == moderates, who
        assert client.get("/c/irnet/queue")[0] == 404, who  # not theirs
        if not moderates and client.cookie:
            form = {"csrf": csrf_of(client.get("/me")[2]), "action": "approve"}
            assert client.post(f"/c/yen/queue/{secret.id}", form)[0] == 404, who
    # A form without this session's token is refused and changes nothing.
    moderator = viewers["moderator"]
    for forged in ({"action": "approve"}, {"csrf": "0" * 64, "action": "approve"}):
        status, _, page = moderator.post(f"/c/yen/queue/{secret.id}", forged)
        assert status == 403 and "was not accepted" in page
    other_session = csrf_of(viewers["admin"].get("/c/yen/queue")[2])
    assert moderator.post(f"/c/yen/queue/{secret.id}", {"csrf": other_session})[0] == 403
    assert viewers["anonymous"].post(f"/c/yen/queue/{secret.id}", {"action": "approve"})[0] == 403
    # The item of another community is not found through this one's queue.
    form = {"csrf": csrf_of(moderator.get("/c/yen/queue")[2]), "action": "approve"}
    irnet_held = world.ids["reply"]
    assert moderator.post(f"/c/yen/queue/{irnet_held}", form)[0] == 404
    with ctx.session() as session:
        assert session.get(Post, secret.id).status == "held"  # type: ignore[union-attr]
    assert decisions(ctx, secret.id) == []


def send_with_file(mailer: Mailer, subject: str) -> str:
    """A post from Amina with a PDF attached, over SMTP; its Message-ID."""
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = AMINA, LIST, subject
    mail["Message-ID"] = "<with-file.amina@example.org>"
    mail.set_content("The draft is attached. HELD-WITH-FILE")
    mail.add_attachment(HELD_BYTES, maintype="application", subtype="pdf", filename=HELD_FILE)
    with smtplib.SMTP("127.0.0.1", mailer.port) as smtp:
        smtp.sendmail(AMINA, [LIST], mail.as_bytes(policy=policy.SMTP))
    pipeline.drain(mailer.ctx)
    return "with-file.amina@example.org"


def test_a_held_posts_file_is_for_its_moderators_until_approved(
    site: tuple[Context, World, str, Mailer],
) -> None:
    ctx, world, base, mailer = site
    post = held(ctx, send_with_file(mailer, "Wage floors"))
    with ctx.session() as session:
        file = session.exec(select(Attachment).where(Attachment.post_id == post.id)).one()
    moderator = sign_in(ctx, base, MOD)
    page = moderator.get("/c/irnet/queue")[2]
    links = re.findall(r'<a href="([^"]+)" download>([^<]+)</a>', page)
    assert [unescape(name) for _, name in links] == [HELD_FILE]
    held_link = links[0][0]
    status, headers, _ = moderator.get(held_link)
    assert status == 200 and headers["content-type"] == "application/pdf"
    disposition = headers["content-disposition"]
    assert disposition.endswith("filename*=UTF-8''Wage%20floors%20%E2%80%93%20draft%202.pdf")
    assert moderator.get(held_link)[2] == HELD_BYTES.decode()
    assert sign_in(ctx, base, ADMIN).get(held_link)[0] == 200
    public_link = f"/c/irnet/files/{file.id}"
    others = {
        "anonymous": Client(base),
        "the author": sign_in(ctx, base, AMINA),
        "member of another community": sign_in(ctx, base, YEN_MEMBER),
        "moderator of another community": sign_in(ctx, base, YEN_MOD),
    }
    for who, client in others.items():
        assert client.get(held_link)[0] == 404, who
        assert client.get(public_link)[0] == 404, who
        assert client.get(f"/c/yen/queue/files/{file.id}")[0] == 404, who
    # The queue serves no published file, not even to the community's moderators.
    published = f"/c/yen/queue/files/{world.ids['secret_file']}"
    assert others["moderator of another community"].get(published)[0] == 404

    form = {"csrf": csrf_of(page), "action": "approve"}
    assert moderator.post(f"/c/irnet/queue/{post.id}", form)[0] == 303
    # Published: the file is everyone's at the post's address, and the queue's is gone.
    assert others["anonymous"].get(public_link)[2] == HELD_BYTES.decode()
    assert moderator.get(held_link)[0] == 404


def test_the_held_notice_links_the_files_and_the_queue(
    site: tuple[Context, World, str, Mailer],
) -> None:
    """A held post's files are not in the moderators' notice (the policy may have refused
    them); the notice gives each one's address, which opens for a moderator signed in,
    and the queue's."""
    ctx, _, base, mailer = site
    post = held(ctx, send_with_file(mailer, "Wage floors"))
    ((_, notice),) = [(r, m) for r, m in outbox(ctx, "held", MOD) if post.subject in m["Subject"]]
    text = body(notice).replace("\r\n", "\n")
    with ctx.session() as session:
        file = session.exec(select(Attachment).where(Attachment.post_id == post.id)).one()
    file_url = f"{base}/c/irnet/queue/files/{file.id}"
    assert re.search(rf"- {re.escape(HELD_FILE)} \(.*\)\n +{re.escape(file_url)}\n", text), text
    assert f"Or decide on the web: {base}/c/irnet/queue\n" in text
    assert all(len(line) <= 78 or base in line for line in text.splitlines())
    moderator, author = sign_in(ctx, base, MOD), sign_in(ctx, base, AMINA)
    path = file_url.removeprefix(base)
    assert moderator.get(path)[2] == HELD_BYTES.decode()
    assert author.get(path)[0] == 404
    queue_page = moderator.get("/c/irnet/queue")
    assert queue_page[0] == 200 and "Wage floors" in queue_page[2]
    assert "(the rules, " in queue_page[2] and "via rules" not in queue_page[2]
