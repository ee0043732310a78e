"""Real bounces over SMTP to the running listener: scores per person, a daily cap, decay,
delivery paused at the threshold with notices, and what must never count (forged return
paths, vacation replies, delay warnings)."""

from __future__ import annotations

import smtplib
from datetime import timedelta
from pathlib import Path

from conftest import corpus, derive
from smtp_server import running_listener
from sqlmodel import select

from mailhub.clock import FrozenClock
from mailhub.communities import create_community, get_community
from mailhub.context import Context
from mailhub.inbound import pipeline
from mailhub.members import MemberFields, add_member
from mailhub.models import Membership, OutboundMessage, Person, Post, PostStatus
from mailhub.outbound.compose import bounce_address
from mailhub.outbound.fanout import fan_out

LIST = "irnet@lists.example.org"
BO = "bo@example.org"


def bounce_file(name: str, victim: str, into: str = BO) -> bytes:
    """A corpus message with its failed recipient rewritten to one of our members."""
    raw = Path(corpus("sisimai-bounces", "bounces", name)).read_bytes()
    return (
        raw.replace(victim.encode(), into.encode()).replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    )


def hard() -> bytes:
    return bounce_file("lhost-postfix-04.eml", "kijitora@example.co.jp")  # 5.1.1


def soft() -> bytes:
    return bounce_file("lhost-postfix-45.eml", "kijitora@example.net")  # 4.3.0 quota


def setup(ctx: Context) -> tuple[Context, dict[str, int], str]:
    """irnet with amina, bo and chen (admin); bo is also in youth. Returns bo's VERP path."""
    live = derive(
        ctx,
        delivery={"bounce_threshold": 3.0},
        instance={"admin_email": "listmaster@example.org"},
    )
    people: dict[str, int] = {}
    with live.session() as session:
        irnet = get_community(session, "irnet")
        youth = create_community(session, slug="youth", name="Youth Network", now=live.now())
        for address, role in (
            ("amina@example.org", "member"),
            (BO, "member"),
            ("chen@example.org", "admin"),
        ):
            person, _ = add_member(
                session, irnet, MemberFields(email=address, role=role), live.now()
            )
            people[address] = person.id  # type: ignore[assignment]
        add_member(session, youth, MemberFields(email=BO), live.now())
        verp = bounce_address(live, live.address_book(session), irnet, people[BO])
    return live, people, verp


def deliver(ctx: Context, raw: bytes, rcpt: str) -> list[tuple[str | None, str]]:
    """Send over SMTP to our listener, process, and return (class, reason) of what came."""
    with running_listener(ctx) as port, smtplib.SMTP("127.0.0.1", port) as client:
        assert client.sendmail("", [rcpt], raw) == {}
    batch = pipeline.drain(ctx)
    return [(o.msg_class, o.reason) for o in batch.outcomes.values()]


def scores(ctx: Context) -> dict[str, float]:
    with ctx.session() as session:
        return {p.email: p.bounce_score for p in session.exec(select(Person))}


def paused(ctx: Context) -> set[tuple[str, int]]:
    with ctx.session() as session:
        rows = session.exec(
            select(Person.email, Membership.community_id)
            .join(Membership, Membership.person_id == Person.id)  # type: ignore[arg-type]
            .where(Membership.delivery_disabled_reason == "bounces")
        ).all()
        return {(email, community) for email, community in rows}


def queued(ctx: Context) -> list[tuple[str, str]]:
    with ctx.session() as session:
        rows = session.exec(select(OutboundMessage).order_by(OutboundMessage.id)).all()
        return [(r.kind, r.recipient) for r in rows]


def test_hard_bounces_until_the_threshold_pause_exactly_that_member(
    ctx: Context, clock: FrozenClock
) -> None:
    live, _people, verp = setup(ctx)
    [(kind, reason)] = deliver(live, hard(), verp)
    assert kind == "bounce"
    assert reason == "hard bounce for bo@example.org (5.1.1), score 1.0 of 3.0"
    # The same day, another bounce does not count.
    [(_, reason)] = deliver(live, hard(), verp)
    assert "already counted today" in reason and scores(live)[BO] == 1.0
    clock.advance(timedelta(days=1))
    deliver(live, hard(), verp)
    assert paused(live) == set() and queued(live) == []
    clock.advance(timedelta(days=1))
    [(_, reason)] = deliver(live, hard(), verp)
    assert reason.startswith("hard bounce for bo@example.org (5.1.1), score 3.0 of 3.0")
    assert "delivery paused in irnet, youth" in reason

    with live.session() as session:
        irnet_id = get_community(session, "irnet").id
        youth_id = get_community(session, "youth").id
    assert paused(live) == {(BO, irnet_id), (BO, youth_id)}
    assert scores(live) == {BO: 3.0, "amina@example.org": 0.0, "chen@example.org": 0.0}
    assert queued(live) == [
        ("bounce_disabled", BO),
        ("bounce_admin", "chen@example.org"),
        ("bounce_admin", "listmaster@example.org"),
    ]
    with live.session() as session:
        notice = session.exec(
            select(OutboundMessage).where(OutboundMessage.kind == "bounce_disabled")
        ).one()
        text = notice.raw.decode()
        assert "irnet-request@lists.example.org" in text and "digest" in text
        admin = session.exec(
            select(OutboundMessage).where(OutboundMessage.recipient == "chen@example.org")
        ).one()
        assert "mailhub member update bo@example.org" in admin.raw.decode()

    # A paused member gets no posts; a later bounce sends no second round of notices.
    with live.session() as session:
        post = Post(
            community_id=irnet_id,  # type: ignore[arg-type]
            message_id="p1@example.org",
            author_email="amina@example.org",
            subject="Hello",
            status=PostStatus.APPROVED.value,
            body_text="Hi all\n",
            received_at=live.now(),
        )
        session.add(post)
        session.flush()
        assert fan_out(live, session, post) == 2
    clock.advance(timedelta(days=1))
    deliver(live, hard(), verp)
    assert scores(live)[BO] == 4.0
    assert [k for k, _ in queued(live)].count("bounce_disabled") == 1

    # The member asks for mail again by email: delivery resumes with a clean score.
    request = (
        f"From: {BO}\r\nTo: irnet-request@lists.example.org\r\nSubject: each\r\n"
        "Message-ID: <again@example.org>\r\n\r\neach\r\n"
    ).encode()
    with running_listener(live) as port, smtplib.SMTP("127.0.0.1", port) as client:
        client.sendmail(BO, ["irnet-request@lists.example.org"], request)
    pipeline.drain(live)
    assert paused(live) == {(BO, youth_id)}
    assert scores(live)[BO] == 0.0
    with live.session() as session:
        again = session.get(Post, post.id)
        assert again is not None
        second = Post(**{**again.model_dump(exclude={"id"}), "message_id": "p2@example.org"})
        session.add(second)
        session.flush()
        assert fan_out(live, session, second) == 3


def test_soft_bounce_matched_by_recipient_and_forgotten_after_the_memory(
    ctx: Context, clock: FrozenClock
) -> None:
    live, _people, _verp = setup(ctx)
    # Without a return path token the failed recipient names the member.
    [(kind, reason)] = deliver(live, soft(), LIST)
    assert (kind, reason) == ("bounce", "soft bounce for bo@example.org (4.3.0), score 0.5 of 3.0")
    clock.advance(timedelta(days=1))
    deliver(live, soft(), LIST)
    assert scores(live)[BO] == 1.0
    clock.advance(timedelta(days=31))
    deliver(live, soft(), LIST)
    assert scores(live)[BO] == 0.5  # the old score was forgotten first
    assert paused(live) == set()


def test_forged_return_path_vacation_reply_and_delay_warning_never_count(
    ctx: Context, clock: FrozenClock
) -> None:
    live, _people, verp = setup(ctx)
    token = verp.split("+b-", 1)[1].split("@")[0]
    forged = verp.replace(token, token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb"))
    [(kind, reason)] = deliver(live, hard(), forged)
    assert kind == "bounce" and "does not verify" in reason
    [(kind, reason)] = deliver(live, hard(), "irnet+b-garbage@lists.example.org")
    assert kind == "bounce" and "ignored" in reason

    vacation = bounce_file("rfc3834-01.eml", "kijitora@example.net")
    [(kind, reason)] = deliver(live, vacation, verp)
    assert kind == "auto_reply" and "not counted" in reason

    delay = bounce_file("lhost-opensmtpd-06.eml", "nekochan@libsisimai.org")
    [(kind, reason)] = deliver(live, delay, verp)
    assert kind == "delay_warning" and "not counted" in reason

    assert set(scores(live).values()) == {0.0}
    assert paused(live) == set() and queued(live) == []
