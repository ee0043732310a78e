"""The processing pipeline: every corpus message ends somewhere defined; idempotent posts."""

from __future__ import annotations

import mailbox
from datetime import timedelta
from email import policy
from email.message import EmailMessage

import pytest
from conftest import corpus
from labelled_mail import shared_labels
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool
from sqlmodel import func, select

from mailhub.clock import FrozenClock
from mailhub.communities import get_community
from mailhub.context import Context
from mailhub.inbound import pipeline, spool
from mailhub.inbound.pipeline import _take_turn
from mailhub.inbound.spool import Arrival
from mailhub.members import MemberFields, add_member
from mailhub.models import Attachment, InboundMessage, Post

LIST = "irnet@lists.example.org"
POST_CLASSES = {"post", "duplicate"}
NON_POST_CLASSES = {"bounce", "delay_warning", "feedback_report", "auto_reply", "loop"}


def spool_raw(
    ctx: Context, raw: bytes, rcpt: str = LIST, source: str = "test", ref: str | None = None
) -> int:
    return spool.store(
        ctx.engine, Arrival(source, raw, "sender@example.org", [rcpt], ref), ctx.now()
    )


def rows(ctx: Context) -> list[InboundMessage]:
    with ctx.session() as session:
        return list(session.exec(select(InboundMessage).order_by(InboundMessage.id)))


def corpus_messages() -> list[tuple[str, bytes]]:
    root = corpus()
    found = [
        (str(path.relative_to(root)), path.read_bytes())
        for folder in ("flanker", "sisimai-bounces", "notmuch")
        for path in sorted((root / folder).rglob("*.eml"))
    ]
    for path in sorted((root / "ponymail").rglob("*.mbox")):
        for index, item in enumerate(mailbox.mbox(path, create=False)):
            found.append((f"{path.relative_to(root)}#{index}", item.as_bytes()))
    return found


def test_every_corpus_message_ends_as_a_post_a_classified_non_post_or_a_quarantine(
    sqlite_ctx: Context,
) -> None:
    ctx = sqlite_ctx
    messages = corpus_messages()
    assert len(messages) > 1400
    ids = {spool_raw(ctx, raw, ref=name): name for name, raw in messages}
    pipeline.drain(ctx)
    labels = shared_labels()
    outcomes = {ids[r.id]: r for r in rows(ctx)}
    assert len(outcomes) == len(messages)
    for name, row in outcomes.items():
        assert row.state in {"done", "quarantined"}, (name, row.state, row.error)
        assert row.error, name  # every outcome carries a reason a person can read
        if row.state == "done":
            assert row.msg_class in POST_CLASSES | NON_POST_CLASSES, (name, row.msg_class)
        expected = labels.get(name)
        if expected is not None:
            want = "post" if expected == "normal" else expected
            assert row.msg_class in ({want, "duplicate"} if want == "post" else {want}), (
                name,
                row.msg_class,
                want,
            )
    quarantined = [n for n, r in outcomes.items() if r.state == "quarantined"]
    assert quarantined == [], quarantined
    # Bounces, auto-replies and reports never become posts.
    with ctx.session() as session:
        posted = session.exec(select(func.count()).select_from(Post)).one()
    assert posted == sum(1 for r in outcomes.values() if r.msg_class == "post")
    assert sum(1 for r in outcomes.values() if r.msg_class == "bounce") > 500


def post_bytes(msgid: str | None = "<dup@example.org>", body: str = "Same post.\n") -> bytes:
    mail = EmailMessage()
    mail["From"] = "amina@example.org"
    mail["To"] = LIST
    mail["Subject"] = "Minimum wages"
    if msgid:
        mail["Message-ID"] = msgid
    mail.set_content(body)
    return mail.as_bytes(policy=policy.SMTP)


def test_one_message_id_makes_one_post_however_often_it_arrives(ctx: Context) -> None:
    for _ in range(3):
        spool_raw(ctx, post_bytes())
    pipeline.drain(ctx)
    classes = [r.msg_class for r in rows(ctx)]
    assert classes == ["post", "duplicate", "duplicate"]
    # Without a Message-ID the same bytes derive the same stable id.
    spool_raw(ctx, post_bytes(None))
    spool_raw(ctx, post_bytes(None))
    spool_raw(ctx, post_bytes(None, body="Different words.\n"))
    pipeline.drain(ctx)
    with ctx.session() as session:
        posts = session.exec(select(Post).order_by(Post.id)).all()
    assert len(posts) == 3
    assert posts[1].message_id != posts[2].message_id
    assert posts[1].message_id.endswith("@lists.example.org")


def test_garbage_is_quarantined_with_a_reason_and_retry_keeps_it_visible(
    run_cli, ctx: Context
) -> None:
    spool_raw(ctx, b"\x00\x01\x02 not a mail at all \xff")
    spool_raw(ctx, post_bytes(), rcpt="irnet@lists.example.org")
    pipeline.drain(ctx)
    first, second = rows(ctx)
    assert first.state == "quarantined" and "cannot be parsed" in (first.error or "")
    assert second.msg_class == "post"
    listed = run_cli("inbound", "list", "--state", "quarantined", "--json")
    assert '"quarantined"' in listed.output and str(first.id) in listed.output
    retried = run_cli("inbound", "retry", str(first.id))
    assert (
        retried.exit_code == 0
        and "requeued 1" in retried.output
        and "quarantined" in retried.output
    )
    assert run_cli("inbound", "retry").exit_code == 2
    # An id that is no row is an error; a row already done is named and left as it is.
    unknown = run_cli("inbound", "retry", "9999")
    assert unknown.exit_code == 1 and unknown.stderr == "error: no spooled message 9999\n"
    done = run_cli("inbound", "retry", str(second.id))
    assert done.exit_code == 0 and f"row {second.id} is done: left as it is" in done.stderr
    assert "requeued 0" in done.stdout


def test_classes_by_address_and_by_content(ctx: Context) -> None:
    auto = post_bytes("<ooo@example.org>").replace(
        b"Subject: Minimum wages",
        b"Subject: Out of Office: back Monday\r\nAuto-Submitted: auto-replied",
    )
    loop = post_bytes("<loop@example.org>").replace(
        b"Subject:", b"List-Id: IRNet <irnet.lists.example.org>\r\nSubject:"
    )
    cases = [
        (post_bytes("<c1@example.org>"), "irnet-request@lists.example.org", "command"),
        (post_bytes("<c2@example.org>"), "irnet+m-abc.def@lists.example.org", "decision"),
        (post_bytes("<c3@example.org>"), "irnet+s-abc.def@lists.example.org", "synopsis"),
        (post_bytes("<c4@example.org>"), "irnet+c-abc.def@lists.example.org", "confirmation"),
        (post_bytes("<c5@example.org>"), "irnet-news@lists.example.org", "news"),
        (post_bytes("<c6@example.org>"), "irnet-events@lists.example.org", "event"),
        (post_bytes("<c7@example.org>"), "irnet+b-abc.def@lists.example.org", "bounce"),
        (auto, LIST, "auto_reply"),
        (loop, LIST, "loop"),
        (post_bytes("<c8@example.org>"), "irnet+r-abc.def@lists.example.org", "post"),
    ]
    for raw, rcpt, _ in cases:
        spool_raw(ctx, raw, rcpt)
    pipeline.drain(ctx)
    assert [r.msg_class for r in rows(ctx)] == [c for _, _, c in cases]
    with ctx.session() as session:
        posts = session.exec(select(Post)).all()
    # News waits in the moderation queue as a post of its own kind, under its Message-ID
    # qualified by that kind; the event mail has no start time, so it was answered and not
    # stored.
    assert [(p.message_id, p.kind) for p in posts] == [
        ("news:c5@example.org", "news"),
        ("c8@example.org", "reply"),
    ]


def test_mail_from_a_mailbox_finds_its_list_in_the_headers(ctx: Context) -> None:
    spool.store(ctx.engine, Arrival("imap", post_bytes("<h1@example.org>"), "", []), ctx.now())
    spool.store(
        ctx.engine,
        Arrival(
            "imap",
            post_bytes("<h2@example.org>").replace(b"To: irnet@", b"To: someone-else@"),
            "",
            [],
        ),
        ctx.now(),
    )
    pipeline.drain(ctx)
    first, second = rows(ctx)
    assert first.msg_class == "post"
    assert second.state == "quarantined" and "no recipient" in (second.error or "")


def test_a_worker_that_died_leaves_its_rows_to_be_taken_again(
    ctx: Context, clock: FrozenClock
) -> None:
    spool_raw(ctx, post_bytes("<w1@example.org>"))
    with ctx.engine.begin() as connection:
        claimed = spool.claim(connection, ctx.now(), pipeline.lease_of(ctx), 10)
    assert len(claimed) == 1
    assert pipeline.drain(ctx).outcomes == {}  # leased to the dead worker
    clock.advance(pipeline.lease_of(ctx) + timedelta(seconds=1))
    assert pipeline.drain(ctx).count("post") == 1
    assert rows(ctx)[0].attempts == 2


def test_attachments_are_kept_by_content_and_limits_are_noted(ctx: Context) -> None:
    with ctx.session() as session:
        community = get_community(session, "irnet")
        add_member(session, community, MemberFields(email="amina@example.org"), ctx.now())
    mail = EmailMessage()
    mail["From"] = "amina@example.org"
    mail["To"] = LIST
    mail["Subject"] = "Report attached"
    mail["Message-ID"] = "<att@example.org>"
    mail.set_content("See the report.\n")
    mail.add_attachment(
        b"%PDF-1.4 report", maintype="application", subtype="pdf", filename="report.pdf"
    )
    mail.add_attachment(
        b"MZ\x90\x00", maintype="application", subtype="x-msdownload", filename="tool.exe"
    )
    spool_raw(ctx, mail.as_bytes(policy=policy.SMTP))
    pipeline.drain(ctx)
    with ctx.session() as session:
        post = session.exec(select(Post)).one()
        files = session.exec(select(Attachment).order_by(Attachment.id)).all()
    assert [f.filename for f in files] == ["report.pdf", "tool.exe"]
    assert "tool.exe has a type not allowed" in (post.reason or "")
    stored = ctx.settings.data_dir / "attachments" / files[0].sha256[:2] / files[0].sha256
    assert stored.read_bytes() == b"%PDF-1.4 report"


def test_one_structured_log_line_per_message(ctx: Context, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level("INFO", logger="mailhub.pipeline")
    spool_raw(ctx, post_bytes("<log1@example.org>"))
    spool_raw(ctx, b"\x00\x01 garbage")
    pipeline.drain(ctx)
    lines = sorted(r.getMessage() for r in caplog.records if r.getMessage().startswith("message "))
    assert len(lines) == 2  # sorted by spool id: the post first
    assert "state=done class=post message_id=log1@example.org" in lines[0]
    assert "state=quarantined class=-" in lines[1] and "reason='cannot be parsed" in lines[1]


def test_a_worker_reads_its_batch_in_its_turn(sqlite_ctx: Context) -> None:
    """On SQLite the write lock is taken before the batch reads anything, so a second
    worker waits for the first one's commit (a duplicate or a decision is then seen, not
    raced)."""
    other = create_engine(sqlite_ctx.engine.url, connect_args={"timeout": 0}, poolclass=NullPool)
    try:
        with sqlite_ctx.session() as session:
            _take_turn(session)
            with pytest.raises(OperationalError, match="locked"), other.begin() as connection:
                connection.execute(text("UPDATE inbound_message SET id = id WHERE 0"))
        with other.begin() as connection:  # the turn ends with the transaction
            connection.execute(text("UPDATE inbound_message SET id = id WHERE 0"))
    finally:
        other.dispose()
