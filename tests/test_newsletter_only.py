"""Newsletter-only subscribers (delivery `newsletter`): they get the newsletter and the event
digest and nothing else; they join by mail with `subscribe newsletter` (double opt-in),
switch with the `newsletter` command, and admins set them from the CLI and CSV."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import START
from mailtools import outbox
from smtp_server import running_listener
from test_commands import membership, queued, send, status, text_of
from test_digests import JOINED, member, post, thread
from test_web import fetch, url_in_confirmation, web  # noqa: F401 (the fixture)

from mailhub.communities import get_community
from mailhub.context import Context
from mailhub.discussions import lifecycle
from mailhub.models import Community, Event, PostStatus
from mailhub.outbound.fanout import fan_out
from mailhub.scheduler import run_due
from mailhub.subscriptions import request_subscription

MOD = "mod@ministry.example.org"
MODES = {
    "amina@example.org": "each",
    "dee@example.org": "digest",
    "nell@example.org": "newsletter",
    "noel@example.org": "none",
}


@pytest.fixture
def port(ctx: Context) -> Iterator[int]:
    with running_listener(ctx) as listening:
        yield listening


def recipients(ctx: Context, kind: str) -> list[str]:
    return sorted(row.recipient for row, _ in outbox(ctx, kind=kind))


def everything_due(ctx: Context) -> None:
    """Members of each delivery, an approved post, a discussion opening and an event soon."""
    with ctx.session() as session:
        irnet = get_community(session, "irnet")
        member(session, irnet, MOD, role="moderator", delivery="none")
        for email, mode in MODES.items():
            member(session, irnet, email, delivery=mode)
        talk = thread(session, irnet, "Apprenticeships")
        approved = post(session, irnet, talk, 1, JOINED + timedelta(days=1))
        fan_out(ctx, session, approved)
        plan = lifecycle.Plan("Platform work", "How?", MOD, opens_at=START, days=7)
        lifecycle.create(session, ctx.settings.discussions, irnet, plan, JOINED)
        session.add(
            Event(
                community_id=irnet.id,
                uid="forum@example.org",
                title="Tripartite forum",
                starts_at=START + timedelta(hours=12),
                status=PostStatus.APPROVED.value,
                created_at=JOINED,
            )
        )


def test_newsletter_subscribers_get_the_newsletter_and_event_digest_and_nothing_else(
    ctx: Context, run_cli: Any
) -> None:
    everything_due(ctx)
    report = run_due(ctx, START)  # opens the discussion, sends the digest and the reminder
    assert report.failed == [], report
    assert run_cli("newsletter", "build", "-c", "irnet").exit_code == 0
    assert run_cli("newsletter", "send", "1", "-c", "irnet").exit_code == 0
    sent = run_cli("event", "digest", "-c", "irnet", "--now", START.isoformat(), "--allow-past")
    assert sent.exit_code == 0, sent.output

    assert recipients(ctx, "post") == ["amina@example.org"]
    assert recipients(ctx, "discussion") == ["amina@example.org", "dee@example.org"]
    assert recipients(ctx, "digest") == ["dee@example.org"]
    assert recipients(ctx, "event-reminder") == ["amina@example.org", "dee@example.org"]
    periodic = ["amina@example.org", "dee@example.org", "nell@example.org"]
    assert recipients(ctx, "newsletter") == periodic
    assert recipients(ctx, "event-digest") == periodic
    assert [row.kind for row, _ in outbox(ctx, to="nell@example.org")] == [
        "newsletter",
        "event-digest",
    ]
    assert outbox(ctx, to="noel@example.org") == []


def test_subscribe_newsletter_by_mail_is_confirmed_then_newsletter_only(
    ctx: Context, port: int
) -> None:
    send(ctx, port, "Nell <nell@example.org>", subject="subscribe newsletter")
    assert status(ctx, "nell@example.org") == "pending"
    [answer] = queued(ctx, "command-reply", "nell@example.org")
    assert "Reply to it (or open its link) to receive the newsletter" in text_of(answer)
    [confirmation] = queued(ctx, "confirmation", "nell@example.org")
    assert "receive the newsletter of IRNet (the newsletter and the event digest, no posts)" in (
        text_of(confirmation)
    )
    send(ctx, port, "nell@example.org", "yes", rcpt=confirmation["Reply-To"])
    joined = membership(ctx, "nell@example.org")
    assert joined is not None and (joined.status, joined.delivery) == ("active", "newsletter")
    [welcome] = queued(ctx, "confirmation-reply", "nell@example.org")
    assert "nell@example.org now receives the newsletter of IRNet" in text_of(welcome)

    # Already a member: nothing to confirm, and the answer says how to switch.
    send(ctx, port, "nell@example.org", "subscribe newsletter\neach\n")
    reply = text_of(queued(ctx, "command-reply", "nell@example.org")[-1])
    assert 'IRNet. To receive the newsletter only, write "newsletter"' in reply
    assert "> each You will receive every post as it is approved." in reply
    assert membership(ctx, "nell@example.org").delivery == "each"  # type: ignore[union-attr]
    send(ctx, port, "nell@example.org", "newsletter")
    reply = text_of(queued(ctx, "command-reply", "nell@example.org")[-1])
    assert "> newsletter You will receive the newsletter and the event digest only" in reply
    assert membership(ctx, "nell@example.org").delivery == "newsletter"  # type: ignore[union-attr]

    # A newsletter-only subscriber who leaves and writes a plain "subscribe" gets every post
    # (a day later: an address gets a few replies a day).
    ctx.clock.set(START + timedelta(days=2))  # type: ignore[attr-defined]
    send(ctx, port, "nell@example.org", "unsubscribe")
    leave = queued(ctx, "confirmation", "nell@example.org")[-1]
    send(ctx, port, "nell@example.org", "ok", rcpt=leave["Reply-To"])
    assert membership(ctx, "nell@example.org").status == "unsubscribed"  # type: ignore[union-attr]
    ctx.clock.set(START + timedelta(days=3))  # type: ignore[attr-defined]
    send(ctx, port, "nell@example.org", "subscribe")
    again = queued(ctx, "confirmation", "nell@example.org")[-1]
    assert "asked that nell@example.org join IRNet" in text_of(again)
    assert membership(ctx, "nell@example.org").delivery == "newsletter"  # type: ignore[union-attr]
    send(ctx, port, "nell@example.org", "ok", rcpt=again["Reply-To"])
    back = membership(ctx, "nell@example.org")
    assert back is not None and (back.status, back.delivery) == ("active", "each")


def test_the_help_lists_the_newsletter_commands(ctx: Context, port: int) -> None:
    send(ctx, port, "someone@example.org", "help")
    text = text_of(queued(ctx, "command-reply")[-1])
    assert "subscribe newsletter receive only the newsletter and the event digest" in text
    assert "newsletter receive only the newsletter and the event digest, no posts" in text


def test_a_newsletter_join_confirmed_on_the_web_page(web: Context) -> None:  # noqa: F811
    with web.session() as session:
        irnet = session.get(Community, 1)
        assert irnet is not None
        request_subscription(web, session, irnet, "nell@example.org", delivery="newsletter")
    link = url_in_confirmation(web, "nell@example.org")
    code, _, page = fetch("GET", link)
    assert code == 200 and status(web, "nell@example.org") == "pending"
    code, _, page = fetch("POST", link)
    assert code == 200 and "Welcome to IRNet" in page
    joined = membership(web, "nell@example.org")
    assert joined is not None and (joined.status, joined.delivery) == ("active", "newsletter")


def test_admins_set_newsletter_delivery_from_the_cli_and_csv(
    ctx: Context, run_cli: Any, tmp_path: Path
) -> None:
    added = run_cli("member", "add", "nell@example.org", "-c", "irnet", "--delivery", "newsletter")
    assert added.exit_code == 0, added.output
    assert membership(ctx, "nell@example.org").delivery == "newsletter"  # type: ignore[union-attr]
    assert run_cli("member", "update", "nell@example.org", "--delivery", "each").exit_code == 0
    switched = run_cli("member", "delivery", "nell@example.org", "newsletter")
    assert switched.exit_code == 0 and "now receives newsletter" in switched.output
    listed = run_cli("member", "list", "-c", "irnet", "--delivery", "newsletter", "--json")
    assert '"nell@example.org"' in listed.output

    invited = run_cli("member", "subscribe", "ria@example.org", "-c", "irnet", "--newsletter")
    assert invited.exit_code == 0, invited.output
    [confirmation] = queued(ctx, "confirmation", "ria@example.org")
    assert "receive the newsletter of IRNet" in text_of(confirmation)

    csv = tmp_path / "members.csv"
    csv.write_text(
        "email,delivery\nola@example.org,newsletter\nbad@example.org,newsletters\n",
        encoding="utf-8",
    )
    imported = run_cli("member", "import", str(csv), "-c", "irnet")
    assert imported.exit_code == 1
    assert "members.csv:3: delivery 'newsletters': expected one of each, digest, none, " in (
        imported.output
    )
    assert membership(ctx, "ola@example.org").delivery == "newsletter"  # type: ignore[union-attr]

    wrong = run_cli("member", "add", "x@example.org", "--delivery", "newsletters")
    assert wrong.exit_code == 2 and "Traceback" not in wrong.output
    assert "newsletter" in run_cli("member", "add", "--help").output
