"""The SMTP/LMTP listener end to end: real clients, real codes, commit before 250."""

from __future__ import annotations

import smtplib
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from email import policy
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.utils import getaddresses

import pytest
from aiosmtpd.smtp import SMTP
from conftest import corpus, derive
from smtp_server import running_listener
from sqlalchemy import text
from sqlmodel import select

from mailhub.context import Context
from mailhub.inbound import pipeline
from mailhub.inbound.committers import spool_folder
from mailhub.inbound.filespool import import_files
from mailhub.inbound.smtp import SIMPLE_PATH, MailhubSMTP
from mailhub.models import InboundMessage, Post

LIST = "irnet@lists.example.org"


def message(
    subject: str = "Decent work in the platform economy",
    body: str = "A first post.\n",
    msgid: str | None = "<m1@example.org>",
) -> bytes:
    mail = EmailMessage()
    mail["From"] = "Amina K <amina@example.org>"
    mail["To"] = LIST
    mail["Subject"] = subject
    if msgid:
        mail["Message-ID"] = msgid
    mail.set_content(body)
    return mail.as_bytes(policy=policy.SMTP)


def spooled(ctx: Context) -> list[InboundMessage]:
    """What was accepted, in the spool table (files waiting on SQLite are moved in first)."""
    if ctx.engine.dialect.name == "sqlite":
        import_files(ctx.engine, spool_folder(ctx))
    with ctx.session() as session:
        return list(session.exec(select(InboundMessage).order_by(InboundMessage.id)))


def test_post_is_committed_then_processed_into_a_held_post(ctx: Context) -> None:
    with running_listener(ctx) as port, smtplib.SMTP("127.0.0.1", port) as client:
        client.ehlo()
        assert "size" in client.esmtp_features
        assert client.esmtp_features["size"] == str(ctx.settings.inbound.max_message_bytes)
        refused = client.sendmail("amina@example.org", [LIST], message())
        assert refused == {}
    rows = spooled(ctx)
    assert len(rows) == 1
    assert rows[0].raw == message()
    assert rows[0].mail_from == "amina@example.org" and rows[0].rcpt_to == [LIST]
    batch = pipeline.drain(ctx)
    assert batch.count("post") == 1
    with ctx.session() as session:
        post = session.exec(select(Post)).one()
        assert (post.status, post.message_id, post.subject) == (
            "held",
            "m1@example.org",
            "Decent work in the platform economy",
        )
        assert post.body_text.strip() == "A first post."


def test_unknown_recipient_and_relay_attempts_get_550(ctx: Context) -> None:
    with running_listener(ctx) as port, smtplib.SMTP("127.0.0.1", port) as client:
        client.ehlo()
        client.mail("someone@example.org")
        assert client.rcpt("nobody@lists.example.org")[0] == 550
        code, reply = client.rcpt("victim@gmail.com")
        assert code == 550 and b"5.7.1" in reply and b"relay" in reply
        code, reply = client.rcpt("IRNET-Request@Lists.Example.ORG")
        assert code == 250
        client.rset()
        with pytest.raises(smtplib.SMTPRecipientsRefused) as caught:
            client.sendmail("someone@example.org", ["nobody@lists.example.org"], message())
        code, reply = caught.value.recipients["nobody@lists.example.org"]
        assert code == 550 and b"5.1.1" in reply
    assert spooled(ctx) == []


def test_oversize_is_refused_with_552(ctx: Context) -> None:
    small = derive(ctx, inbound={"max_message_bytes": 4096})
    big = message(body="x" * 70 + "\n" * 1 + ("y" * 70 + "\n") * 100)
    with running_listener(small) as port, smtplib.SMTP("127.0.0.1", port) as client:
        client.ehlo()
        assert client.esmtp_features["size"] == "4096"
        # Announced size over the limit: refused at MAIL FROM.
        code, reply = client.mail("a@example.org", [f"SIZE={len(big)}"])
        assert code == 552 and reply.startswith(b"5.3.4")
        client.rset()
        # Not announced: refused after DATA.
        client.mail("a@example.org")
        client.rcpt(LIST)
        code, reply = client.data(big)
        assert code == 552 and reply.startswith(b"5.3.4")
    assert spooled(ctx) == []


def test_too_many_recipients_get_452(ctx: Context) -> None:
    few = derive(ctx, smtp={"max_recipients": 2})
    with running_listener(few) as port, smtplib.SMTP("127.0.0.1", port) as client:
        client.ehlo()
        client.mail("a@example.org")
        assert client.rcpt(LIST)[0] == 250
        assert client.rcpt("irnet-news@lists.example.org")[0] == 250
        code, reply = client.rcpt("irnet-events@lists.example.org")
        assert code == 452 and reply.startswith(b"4.5.3")


@contextmanager
def store_cannot_commit(ctx: Context) -> Iterator[None]:
    """Break where accepted mail is made safe: the spool table (PostgreSQL) or the file
    spool log's folder (SQLite); mend it afterwards."""
    if ctx.engine.dialect.name == "sqlite":
        folder = ctx.settings.data_dir / "spool"
        folder.parent.mkdir(parents=True, exist_ok=True)
        if folder.exists():
            folder.rename(folder.with_name("spool-away"))
        folder.write_text("not a folder")
        try:
            yield
        finally:
            folder.unlink()
            if folder.with_name("spool-away").exists():
                folder.with_name("spool-away").rename(folder)
        return
    with ctx.engine.begin() as connection:
        connection.execute(text("ALTER TABLE inbound_message RENAME TO inbound_message_away"))
    try:
        yield
    finally:
        with ctx.engine.begin() as connection:
            connection.execute(text("ALTER TABLE inbound_message_away RENAME TO inbound_message"))


def test_a_store_that_cannot_commit_answers_451_and_nothing_is_half_stored(ctx: Context) -> None:
    with running_listener(ctx) as port:
        with store_cannot_commit(ctx):
            with (
                smtplib.SMTP("127.0.0.1", port) as client,
                pytest.raises(smtplib.SMTPDataError) as caught,
            ):
                client.sendmail("a@example.org", [LIST], message())
            assert caught.value.smtp_code == 451
            assert caught.value.smtp_error.startswith(b"4.3.0")
        # The sender retries, and this time it is stored.
        with smtplib.SMTP("127.0.0.1", port) as client:
            assert client.sendmail("a@example.org", [LIST], message()) == {}
    pipeline.drain(ctx)
    assert len(spooled(ctx)) == 1


def test_swaks_delivers_a_post(ctx: Context) -> None:
    with running_listener(ctx) as port:
        result = subprocess.run(
            [
                "swaks",
                "--server",
                f"127.0.0.1:{port}",
                "--from",
                "amina@example.org",
                "--to",
                LIST,
                "--header",
                "Subject: Sent with swaks",
                "--header",
                "Message-ID: <swaks-1@example.org>",
                "--body",
                "Posted by swaks.",
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "250 2.0.0 Message accepted" in result.stdout
        refused = subprocess.run(
            [
                "swaks",
                "--server",
                f"127.0.0.1:{port}",
                "--from",
                "a@example.org",
                "--to",
                "x@elsewhere.org",
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert refused.returncode != 0 and "550 5.7.1" in refused.stdout
    pipeline.drain(ctx)
    with ctx.session() as session:
        post = session.exec(select(Post)).one()
    assert post.subject == "Sent with swaks" and "Posted by swaks." in post.body_text


def _converse(sock: socket.socket, line: bytes) -> list[bytes]:
    """Send one command; read reply lines until the last line of the reply."""
    if line:
        sock.sendall(line + b"\r\n")
    replies: list[bytes] = []
    buffer = b""
    while True:
        while b"\r\n" not in buffer:
            buffer += sock.recv(4096)
        reply, buffer = buffer.split(b"\r\n", 1)
        replies.append(reply)
        if reply[3:4] == b" " and not buffer:
            return replies


def test_lmtp_answers_data_once_per_recipient(ctx: Context) -> None:
    lmtp = derive(ctx, smtp={"lmtp": True})
    with running_listener(lmtp) as port, socket.create_connection(("127.0.0.1", port), 5) as sock:
        assert _converse(sock, b"")[0].startswith(b"220")
        assert _converse(sock, b"EHLO client")[0].startswith(b"500")
        assert _converse(sock, b"LHLO client")[-1].startswith(b"250")
        assert _converse(sock, b"MAIL FROM:<a@example.org>")[0].startswith(b"250")
        assert _converse(sock, f"RCPT TO:<{LIST}>".encode())[0].startswith(b"250")
        assert _converse(sock, b"RCPT TO:<nobody@lists.example.org>")[0].startswith(b"550 5.1.1")
        assert _converse(sock, b"RCPT TO:<irnet-news@lists.example.org>")[0].startswith(b"250")
        assert _converse(sock, b"DATA")[0].startswith(b"354")
        sock.sendall(message() + b".\r\n")
        first = _converse(sock, b"")
        second = first[1:] or _converse(sock, b"")
        assert first[0].startswith(b"250 2.0.0") and second[0].startswith(b"250 2.0.0")
        _converse(sock, b"QUIT")
    rows = spooled(ctx)
    assert len(rows) == 1 and rows[0].source == "lmtp"
    assert rows[0].rcpt_to == [LIST, "irnet-news@lists.example.org"]


def _corpus_addresses() -> list[str]:
    """Every address in the From, To and Cc headers of the shared corpora."""
    parser = BytesHeaderParser(policy=policy.compat32)
    found: set[str] = set()
    for path in corpus().rglob("*"):
        if not path.is_file() or path.stat().st_size > 2_000_000:
            continue
        head = parser.parsebytes(path.read_bytes())
        values = [str(head.get(name, "")) for name in ("From", "To", "Cc")]
        found.update(address for _, address in getaddresses(values) if address)
    return sorted(found)


def test_the_fast_path_parser_answers_as_aiosmtpd_does() -> None:
    """MAIL FROM / RCPT TO paths: mailhub's fast path must give aiosmtpd's own answer, for
    every address in the corpora and for the awkward forms it leaves to aiosmtpd."""

    class Quiet:
        pass

    ours, theirs = MailhubSMTP(Quiet()), SMTP(Quiet())
    addresses = _corpus_addresses()
    assert len(addresses) > 300
    awkward = [
        '"q u"@b.org',
        "a..b@c.org",
        ".a@b.org",
        "a@-b.org",
        "@route:a@b.org",
        "a@[127.0.0.1]",
        "ä@b.org",
        "a(comment)@c.org",
        "",
        "a@b@c.org",
    ]
    fast = 0
    for address in [*addresses, *awkward]:
        for arg in (
            f"<{address}>",
            f"<{address}> SIZE=4600 BODY=8BITMIME",
            address,
            f"< {address} >",
        ):
            assert ours._getaddr(arg) == theirs._getaddr(arg), arg
        fast += SIMPLE_PATH.match(f"<{address}>") is not None
    # Nearly every real address takes the fast path.
    assert fast >= 0.9 * len(addresses)
    ours.local_part_limit = theirs.local_part_limit = 8
    for arg in ("<abcdefgh@b.org>", "<abcdefghi@b.org>"):
        assert ours._getaddr(arg) == theirs._getaddr(arg)
