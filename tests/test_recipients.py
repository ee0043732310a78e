"""One message for several of our addresses: each address named gets its own outcome.

Real listener, real clients: Postfix over LMTP hands one message for `irnet@` and `yen@` in
one transaction, and each recipient's 250 must come true.
"""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage

import pytest
from conftest import derive
from smtp_server import running_listener
from sqlmodel import col, select

from mailhub.addresses import Kind
from mailhub.communities import create_community, get_community
from mailhub.context import Context
from mailhub.inbound import pipe, pipeline, recipients, routes, spool
from mailhub.inbound.spool import Arrival
from mailhub.members import MemberFields, add_member
from mailhub.models import Community, Event, InboundMessage, NewsItem, Post

IRNET, YEN = "irnet@lists.example.org", "yen@lists.example.org"
NEWS, EVENTS = "irnet-news@lists.example.org", "irnet-events@lists.example.org"
AMINA = "amina@example.org"


@pytest.fixture
def two(ctx: Context) -> Iterator[Context]:
    """The instance with a second community, `yen`, and a member in both."""
    with ctx.session() as session:
        youth = create_community(
            session, slug="youth", name="Youth Employment Network", local_part="yen", now=ctx.now()
        )
        for community in (get_community(session, "irnet"), youth):
            add_member(session, community, MemberFields(email=AMINA, name="Amina K"), ctx.now())
    yield ctx


def message(msgid: str = "<both-1@example.org>", to: str = f"{IRNET}, {YEN}") -> bytes:
    mail = EmailMessage()
    mail["From"] = f"Amina K <{AMINA}>"
    mail["To"] = to
    mail["Subject"] = "Regional workshop on social dialogue"
    mail["Message-ID"] = msgid
    mail.set_content(
        "Title: Regional workshop on social dialogue\n"
        "Starts: 2026-05-12 09:30\n"
        "Where: Nairobi\n\n"
        "Two days on social dialogue for government, workers and employers.\n"
    )
    return mail.as_bytes(policy=policy.SMTP)


def posts_by_community(ctx: Context) -> dict[str, list[str]]:
    with ctx.session() as session:
        rows = session.exec(
            select(Community.slug, Post.message_id)
            .join(Community, Community.id == Post.community_id)  # type: ignore[arg-type]
            .order_by(Community.slug, col(Post.id))
        ).all()
    found: dict[str, list[str]] = {}
    for slug, message_id in rows:
        found.setdefault(slug, []).append(message_id)
    return found


def spool_rows(ctx: Context) -> list[InboundMessage]:
    with ctx.session() as session:
        return list(session.exec(select(InboundMessage).order_by(col(InboundMessage.id))))


def test_lmtp_one_transaction_for_two_communities_makes_a_post_in_each(two: Context) -> None:
    lmtp = derive(two, smtp={"lmtp": True})
    with running_listener(lmtp) as port, smtplib.LMTP("127.0.0.1", port) as client:
        client.ehlo()  # LHLO
        assert client.mail(AMINA)[0] == 250
        assert client.rcpt(IRNET)[0] == 250
        assert client.rcpt(YEN)[0] == 250
        # LMTP answers the data once per accepted recipient, in RCPT order.
        first = client.data(message())
        second = client.getreply()
        assert first[0] == second[0] == 250, (first, second)
    pipeline.drain(lmtp)
    assert posts_by_community(two) == {
        "irnet": ["both-1@example.org"],
        "youth": ["both-1@example.org"],
    }
    rows = spool_rows(two)
    # The acknowledged message became one row per destination, each naming only its own.
    assert [r.rcpt_to for r in rows] == [[IRNET], [YEN]]
    assert [r.msg_class for r in rows] == ["post", "post"]
    assert rows[0].raw == rows[1].raw and rows[0].source == rows[1].source == "lmtp"
    assert rows[0].received_at == rows[1].received_at


def test_smtp_one_transaction_for_two_communities_and_duplicates_stay_one_post_each(
    two: Context,
) -> None:
    with running_listener(two) as port, smtplib.SMTP("127.0.0.1", port) as client:
        assert client.sendmail(AMINA, [IRNET, YEN], message()) == {}
        # The same message again (an MTA retrying after a lost answer), and once more to
        # irnet alone: one post per community all the same.
        assert client.sendmail(AMINA, [YEN, IRNET], message()) == {}
        assert client.sendmail(AMINA, [IRNET], message()) == {}
    pipeline.drain(two)
    assert posts_by_community(two) == {
        "irnet": ["both-1@example.org"],
        "youth": ["both-1@example.org"],
    }
    classes = sorted(r.msg_class or "" for r in spool_rows(two))
    assert classes == ["duplicate", "duplicate", "duplicate", "post", "post"]


def test_news_and_events_in_one_transaction_make_a_news_item_and_an_event(two: Context) -> None:
    with running_listener(two) as port, smtplib.SMTP("127.0.0.1", port) as client:
        raw = message("<ne-1@example.org>", f"{NEWS}, {EVENTS}")
        assert client.sendmail(AMINA, [NEWS, EVENTS, IRNET], raw) == {}
        assert client.sendmail(AMINA, [EVENTS, NEWS], raw) == {}  # again: nothing new
    pipeline.drain(two)
    with two.session() as session:
        news = session.exec(select(NewsItem)).all()
        events = session.exec(select(Event)).all()
        posts = session.exec(select(Post.kind, Post.message_id).order_by(col(Post.id))).all()
    assert [n.title for n in news] == ["Regional workshop on social dialogue"]
    assert [(e.title, e.location) for e in events] == [
        ("Regional workshop on social dialogue", "Nairobi")
    ]
    # The list post, the news item and the event each wait in the queue once.
    assert sorted(posts) == [
        ("event", "event:ne-1@example.org"),
        ("news", "news:ne-1@example.org"),
        ("post", "ne-1@example.org"),
    ]
    classes = sorted(r.msg_class or "" for r in spool_rows(two))
    assert classes == ["duplicate", "duplicate", "event", "news", "post"]


def test_mail_without_envelope_goes_to_every_list_its_headers_name(two: Context) -> None:
    """IMAP without `recipient`, and no Delivered-To: To and Cc decide, each list once."""
    raw = message("<imap-1@example.org>", IRNET).replace(
        b"To: irnet@lists.example.org",
        b"To: irnet@lists.example.org\r\nCc: Yen <yen@lists.example.org>",
    )
    spool.store(two.engine, Arrival("imap", raw, "", [], "box:1:7"), two.now())
    pipeline.drain(two)
    assert posts_by_community(two) == {
        "irnet": ["imap-1@example.org"],
        "youth": ["imap-1@example.org"],
    }
    rows = spool_rows(two)
    assert [(r.rcpt_to, r.source_ref) for r in rows] == [([IRNET], "box:1:7"), ([YEN], "box:1:7")]
    # A retry of a row that was split does not split it again.
    with two.engine.begin() as connection:
        spool.release(connection, [rows[0].id])
    pipeline.drain(two)
    assert len(spool_rows(two)) == 2
    # A Delivered-To header names what this copy was delivered for: that alone decides.
    delivered = message("<imap-2@example.org>").replace(
        b"From:", b"Delivered-To: yen@lists.example.org\r\nFrom:"
    )
    spool.store(two.engine, Arrival("imap", delivered, "", []), two.now())
    pipeline.drain(two)
    assert posts_by_community(two)["irnet"] == ["imap-1@example.org"]
    assert posts_by_community(two)["youth"] == ["imap-1@example.org", "imap-2@example.org"]


def test_a_split_that_cannot_commit_leaves_the_row_whole(
    two: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool.store(two.engine, Arrival("smtp", message(), AMINA, [IRNET, YEN]), two.now())

    def full(*args: object) -> list[int]:
        raise OSError("the disk is full")

    monkeypatch.setattr(recipients, "store_many", full)
    pipeline.process_batch(two)
    (row,) = spool_rows(two)
    assert (
        row.rcpt_to == [IRNET, YEN] and row.state == "new" and "disk is full" in (row.error or "")
    )
    assert posts_by_community(two) == {}
    monkeypatch.undo()
    pipeline.drain(two)
    assert [r.rcpt_to for r in spool_rows(two)] == [[IRNET], [YEN]]
    assert posts_by_community(two) == {
        "irnet": ["both-1@example.org"],
        "youth": ["both-1@example.org"],
    }


def test_a_destination_that_fails_holds_back_no_other(
    two: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = "irnet-request@lists.example.org"

    def broken(incoming: object) -> object:
        raise RuntimeError("commands are broken today")

    monkeypatch.setitem(routes.ROUTES, Kind.REQUEST, broken)
    spool.store(two.engine, Arrival("smtp", message(), AMINA, [request, YEN]), two.now())
    pipeline.drain(two)
    first, second = spool_rows(two)
    assert (first.rcpt_to, first.state) == ([request], "failed")
    assert "commands are broken" in (first.error or "")
    assert (second.rcpt_to, second.msg_class) == ([YEN], "post")
    assert posts_by_community(two) == {"youth": ["both-1@example.org"]}


def test_one_destination_named_twice_is_one_row(two: Context) -> None:
    spool.store(
        two.engine,
        Arrival("smtp", message(), AMINA, [IRNET, "IRNet@Lists.Example.ORG"]),
        two.now(),
    )
    pipeline.drain(two)
    (row,) = spool_rows(two)
    assert row.msg_class == "post" and row.rcpt_to == [IRNET, "IRNet@Lists.Example.ORG"]


def test_the_pipe_with_several_recipients_makes_a_post_in_each(two: Context) -> None:
    result = pipe.ingest(two, message("<pipe-1@example.org>"), [IRNET, YEN], AMINA)
    assert result.code == pipe.EX_OK, result.message
    pipeline.drain(two)
    assert posts_by_community(two) == {
        "irnet": ["pipe-1@example.org"],
        "youth": ["pipe-1@example.org"],
    }
