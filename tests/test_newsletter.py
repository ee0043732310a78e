"""Newsletter issues: what goes in and under which theme, numbering and periods, safe
against hostile member content, sent once to the members who receive mail, and built and
sent by the scheduler when `[newsletter] cron` says so."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import START, derive
from mailtools import outbox
from sqlmodel import Session, select
from test_digests import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, parse_html

from mailhub.communities import get_community
from mailhub.context import Context
from mailhub.members import MemberFields, add_member
from mailhub.models import (
    Community,
    Discussion,
    Event,
    NewsItem,
    NewsletterIssue,
    PostStatus,
    Resource,
)
from mailhub.newsletter import issues, sending
from mailhub.outbound.leave import leave_marker
from mailhub.scheduler import run_due

NOW = "2026-03-02T09:00Z"
HOSTILE_TITLE = "Wages <script>alert(1)</script>\r\nBcc: victim@example.org"
HOSTILE_BODY = (
    "Look: <script>alert('x')</script> <img src=x onerror=alert(1)>\n"
    "</td></table><b>unclosed <a href='javascript:evil()'>link\n\nSecond paragraph é."
)


def members(session: Session, community: Community) -> None:
    for email, delivery in [
        ("amina@example.org", "each"),
        ("dee@example.org", "digest"),
        ("noel@example.org", "none"),
    ]:
        add_member(session, community, MemberFields(email=email, delivery=delivery), START)
    add_member(
        session, community, MemberFields(email="gone@example.org", status="unsubscribed"), START
    )


def fill(ctx: Context) -> None:
    """Something of each kind in the period (and some outside it)."""
    with ctx.session() as session:
        irnet = get_community(session, "irnet")
        members(session, irnet)
        cid = irnet.id
        assert cid is not None
        common: dict[str, Any] = {"community_id": cid, "created_at": START - timedelta(days=40)}
        session.add_all(
            [
                Discussion(
                    **common,
                    title="Minimum wage review",
                    question="How?",
                    themes=["skills"],
                    state="summarised",
                    synopsis="We agreed on three points.",
                    synopsis_at=START - timedelta(days=5),
                ),
                Discussion(
                    **common,
                    title="Green transition",
                    question="What works?",
                    themes=["green-jobs"],
                    state="open",
                    closes_at=START + timedelta(days=7),
                ),
                Discussion(
                    **common,
                    title="Platform work",
                    question="Who is covered?",
                    state="scheduled",
                    opens_at=START + timedelta(days=3),
                ),
                NewsItem(
                    **common,
                    title=HOSTILE_TITLE,
                    body=HOSTILE_BODY,
                    url="javascript:alert(1)",
                    themes=["skills"],
                    status=PostStatus.APPROVED.value,
                    published_at=START - timedelta(days=2),
                ),
                NewsItem(
                    **common,
                    title="Old news",
                    status=PostStatus.APPROVED.value,
                    published_at=START - timedelta(days=60),
                ),
                NewsItem(**common, title="Held news", published_at=START - timedelta(days=1)),
                Event(
                    **common,
                    uid="e1@example.org",
                    title="Tripartite forum",
                    starts_at=datetime(2026, 3, 12, 7, 0, tzinfo=UTC),
                    timezone="Africa/Nairobi",
                    location="Nairobi",
                    url="https://example.org/forum",
                    themes=["green-jobs"],
                    status=PostStatus.APPROVED.value,
                ),
                Event(
                    **common,
                    uid="e2@example.org",
                    title="Far away event",
                    starts_at=START + timedelta(weeks=9),
                    status=PostStatus.APPROVED.value,
                ),
                Resource(
                    community_id=cid,
                    title="Labour code 2025",
                    url="https://example.org/code.pdf",
                    kind="legislation",
                    created_at=START - timedelta(days=1),
                ),
            ]
        )


def build(ctx: Context, until: datetime = START, since: datetime | None = None) -> NewsletterIssue:
    with ctx.session() as session:
        issue = issues.build(ctx, session, get_community(session, "irnet"), until, since)
        session.expunge(issue)
    return issue


def test_an_issue_holds_the_period_grouped_by_theme(ctx: Context) -> None:
    fill(ctx)
    issue = build(ctx)
    assert (issue.number, issue.state, issue.since) == (1, "draft", START - timedelta(days=30))
    text = issue.text
    assert text.startswith("IRNet newsletter\nIssue 1, 02 March 2026\n6 items\n")
    # Themes in their listed order (skills before green jobs), "Other" last.
    headings = [line for line in text.splitlines() if line in ("Skills", "Green jobs", "Other")]
    assert headings == ["Skills", "Green jobs", "Other"] * 2
    skills = text.split("\nSkills\n")[2].split("\nGreen jobs\n")[0]
    assert "Synopsis: Minimum wage review" in skills and "We agreed on three points." in skills
    assert "News: Wages <script>alert(1)</script> Bcc: victim@example.org" in skills
    green = text.split("\nGreen jobs\n")[2].split("\nOther\n")[0]
    assert "Discussion: Green transition" in green and "Event: Tripartite forum" in green
    assert "Thursday 12 March 2026, 10:00 EAT, Nairobi" in green  # the community's zone
    assert "Link: https://example.org/forum" in green
    other = text.split("\nOther\n")[2]
    assert "Discussion: Platform work" in other and "Resource: Labour code 2025" in other
    for absent in ("Old news", "Held news", "Far away event"):
        assert absent not in text and absent not in issue.html
    tree = parse_html(issue.html)
    assert set(tree.links) == {
        "https://example.org/forum",
        "https://example.org/code.pdf",
        "mailto:irnet-request@lists.example.org?subject=nomail",
        "mailto:irnet-news@lists.example.org",
        "mailto:irnet-events@lists.example.org",
    }
    assert "script" not in tree.tags and "img" not in tree.tags
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in issue.html


def test_issues_are_numbered_and_periods_follow_each_other(ctx: Context) -> None:
    first = build(ctx)
    second = build(ctx, START + timedelta(days=30))
    third = build(ctx, START + timedelta(days=40), since=START + timedelta(days=35))
    assert [first.number, second.number, third.number] == [1, 2, 3]
    assert second.since == first.until and third.since == START + timedelta(days=35)
    assert "Nothing new this time." in first.text and first.html.count("<h3") == 0


def test_send_goes_once_to_members_who_receive_mail(ctx: Context, run_cli: Any) -> None:
    fill(ctx)
    built = run_cli("newsletter", "build", "--community", "irnet", "--now", NOW)
    assert built.exit_code == 0, built.output
    assert built.output.startswith("built issue 1: IRNet newsletter no. 1, 02 March 2026")
    shown = run_cli("newsletter", "preview", "1", "--community", "irnet")
    text_path, html_path = shown.output.split("\n")[:2]
    assert Path(text_path).read_text().startswith("IRNet newsletter")
    parse_html(Path(html_path).read_text())
    sent = run_cli("newsletter", "send", "1", "--community", "irnet")
    assert sent.exit_code == 0, sent.output
    assert "issue 1: 2 queued" in sent.output
    mails = {row.recipient: (row, message) for row, message in outbox(ctx, kind="newsletter")}
    assert set(mails) == {"amina@example.org", "dee@example.org"}  # not nomail, not gone
    with ctx.session() as session:
        issue = session.exec(select(NewsletterIssue)).one()
    unsubscribes = set()
    for row, message in mails.values():
        assert row.dedup_key == f"newsletter:{issue.id}:person:{row.person_id}"
        assert message["Subject"] == "[IRNet] Newsletter no. 1, 02 March 2026"
        assert message.get_content_type() == "multipart/alternative"
        plain = message.get_body(preferencelist=("plain",))
        html = message.get_body(preferencelist=("html",))
        assert plain is not None and html is not None
        assert plain.get_content().replace("\r\n", "\n") == issue.text
        parse_html(html.get_content())
        assert message["List-Id"] and message["Precedence"] == "list"
        unsubscribes.add(message["List-Unsubscribe"])
    assert len(unsubscribes) == 2  # one token per member
    again = run_cli("newsletter", "send", "1", "--community", "irnet")
    assert again.exit_code == 0 and "sent already" in again.output
    assert len(outbox(ctx, kind="newsletter")) == 2
    assert issue.state == "sent" and issue.sent_at is not None
    listed = run_cli("newsletter", "list", "--community", "irnet", "--json")
    assert '"state": "sent"' in listed.output


def test_the_schedule_builds_and_sends_once_per_due_time(ctx: Context) -> None:
    fill(ctx)
    scheduled = derive(ctx, newsletter={"cron": "0 9 1 * *"})
    # 09:00 in Nairobi on 1 April is 06:00 UTC.
    due = datetime(2026, 4, 1, 6, 0, tzinfo=UTC)
    first = run_due(scheduled, due + timedelta(hours=1))
    assert any("newsletter 1 of community" in line for line in first.done), first
    assert first.failed == []
    run_due(scheduled, due + timedelta(hours=2))
    with ctx.session() as session:
        built = session.exec(select(NewsletterIssue)).all()
    assert [(i.number, i.state, i.until) for i in built] == [(1, "sent", due)]
    assert len(outbox(ctx, kind="newsletter")) == 2
    assert run_due(ctx, due + timedelta(hours=3)).done == []  # no cron: nothing


@pytest.mark.needs(CHROMIUM is not None, "no chromium installed (apt-get install chromium)")
def test_the_newsletter_html_reads_well_in_a_real_browser(sqlite_ctx: Context) -> None:
    """Opened in headless Chromium: every section, hostile content shown as text, no script
    run; a screenshot is saved in tests/artifacts/newsletter.png."""
    from playwright.sync_api import sync_playwright

    fill(sqlite_ctx)
    issue = build(sqlite_ctx)
    page_path = ARTIFACTS / "newsletter.html"
    ARTIFACTS.mkdir(exist_ok=True)
    page_path.write_text(issue.html, encoding="utf-8")
    alerts: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 800, "height": 1200})
            page.on("dialog", lambda dialog: (alerts.append(dialog.message), dialog.dismiss()))
            page.goto(page_path.as_uri())
            body = page.inner_text("body")
            page.screenshot(path=str(ARTIFACTS / "newsletter.png"), full_page=True)
        finally:
            browser.close()
            page_path.unlink()
    assert alerts == []
    assert "In this issue" in body and "Tripartite forum" in body
    assert "<script>alert('x')</script>" in body


def test_each_copy_shows_its_members_own_unsubscribe_link(ctx: Context) -> None:
    """The issue is kept with a mark where the link's token goes; each copy shows the link
    of its List-Unsubscribe header, in text and HTML."""
    ctx = derive(ctx, instance={"public_url": "https://lists.example.org"})
    fill(ctx)
    with ctx.session() as session:
        issue = issues.build(ctx, session, get_community(session, "irnet"), START, None)
        issue_id, text = issue.id, issue.text
    assert issue_id is not None
    sending.send(ctx, issue_id)
    mails = outbox(ctx, kind="newsletter")
    assert len(mails) == 2
    for _row, message in mails:
        [link] = re.findall(r"<(https://[^>]+)>", message["List-Unsubscribe"])
        token = link.rsplit("/", 1)[1]
        plain = message.get_body(preferencelist=("plain",))
        html = message.get_body(preferencelist=("html",))
        assert plain is not None and html is not None
        expected = text.replace(leave_marker(issues.LEAVE_MARK), token)
        assert plain.get_content().replace("\r\n", "\n") == expected and link in expected
        assert f'href="{link}"' in html.get_content()
