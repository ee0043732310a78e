"""An approved post delivered to a real SMTP server: one personalised, DKIM-signed copy per
each-message member, with every list header, the original threading ids and the tag once."""

from __future__ import annotations

import base64
import email
import hashlib
import shutil
import subprocess
import time
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr
from pathlib import Path

import dkim
import pytest
from conftest import derive
from needs import need
from smtp_sink import smtp_sink
from sqlmodel import Session, select
from test_outbox import mail as outbox_mail

from mailhub import tokens
from mailhub.communities import get_community
from mailhub.config import ConfigError
from mailhub.context import Context
from mailhub.inbound import attachments
from mailhub.members import MemberFields, add_member
from mailhub.models import Attachment, Community, Membership, OutboundMessage, Post, PostStatus
from mailhub.outbound import headers, outbox
from mailhub.outbound.fanout import fan_out
from mailhub.outbound.sender import Sender

LIST = "irnet@lists.example.org"
PDF = b"%PDF-1.4\n% a small report\n" * 40
EACH = ["amina@example.org", "bo@example.org", "chen@example.org"]


@dataclass
class Members:
    people: dict[str, int]  # email -> person id
    memberships: dict[str, int]  # email -> membership id


def add_members(session: Session, community: Community, now) -> Members:  # type: ignore[no-untyped-def]
    specs = [
        ("amina@example.org", "Amina Persön", {}),
        ("bo@example.org", "Bo", {}),
        ("chen@example.org", "Chen", {"role": "admin"}),
        ("dee@example.org", "Dee", {"delivery": "digest"}),
        ("eve@example.org", "Eve", {"delivery": "none"}),
        ("fay@example.org", "Fay", {}),
        ("gus@example.org", "Gus", {"status": "unsubscribed"}),
        ("hal@example.org", "Hal", {"status": "pending"}),
    ]
    members = Members({}, {})
    for address, name, extra in specs:
        person, membership = add_member(
            session, community, MemberFields(email=address, name=name, **extra), now
        )
        members.people[address] = person.id  # type: ignore[assignment]
        members.memberships[address] = membership.id  # type: ignore[assignment]
    fay = session.get(Membership, members.memberships["fay@example.org"])
    assert fay is not None
    fay.delivery_disabled_reason = "bounces"
    session.add(fay)
    return members


def approved_post(ctx: Context, session: Session, community: Community, **values) -> Post:  # type: ignore[no-untyped-def]
    fields = {
        "community_id": community.id,
        "message_id": "reply-2@mail.example.org",
        "in_reply_to": "parent-1@mail.example.org",
        "references": ["root-0@mail.example.org", "parent-1@mail.example.org"],
        "author_email": "amina@example.org",
        "author_name": "Amina Persön",
        "subject": "Re: [IRNet] Collective bargaining in the platform economy",
        "status": PostStatus.APPROVED.value,
        "body_text": "Our union signed the first sector agreement last month.\n",
        "full_text": "",
        "received_at": ctx.now(),
        "sent_at": ctx.now(),
        **values,
    }
    post = Post(**fields)
    session.add(post)
    session.flush()
    return post


def attach_pdf(ctx: Context, session: Session, post: Post) -> None:
    digest = hashlib.sha256(PDF).hexdigest()
    attachments.save(ctx.settings.data_dir / "attachments", digest, PDF)
    session.add(
        Attachment(
            post_id=post.id,  # type: ignore[arg-type]
            filename="agreement.pdf",
            content_type="application/pdf",
            size=len(PDF),
            sha256=digest,
        )
    )
    session.flush()


@pytest.fixture
def dkim_key(tmp_path: Path) -> tuple[Path, bytes]:
    """A throw-away RSA key and the DNS TXT record that publishes its public half."""
    need(shutil.which("openssl") is not None, "openssl is needed to make a test key")
    key = tmp_path / "dkim.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "1024"], check=True, capture_output=True)
    public = subprocess.run(
        ["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "DER"],
        check=True,
        capture_output=True,
    ).stdout
    return key, b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)


def delivering(ctx: Context, port: int, key: Path | None = None, **delivery: str) -> Context:
    relay = {"host": "127.0.0.1", "port": port, "connections": 2, "timeout_seconds": 5}
    return derive(
        ctx,
        instance={
            "public_url": "https://lists.example.org",
        },
        outbound={"mode": "smtp", "relay": relay},
        dkim={"private_key": str(key) if key else None},
        delivery=delivery,
    )


def parse(content: bytes) -> EmailMessage:
    return email.message_from_bytes(content, policy=policy.default)  # type: ignore[return-value]


def token_of(address: str, letter: str) -> str:
    local = parseaddr(address)[1].split("@")[0]
    prefix = f"irnet+{letter}-"
    assert local.startswith(prefix), address
    return local.removeprefix(prefix)


@pytest.mark.parametrize("sign_processes", [1, 0], ids=["signing worker", "signed in threads"])
def test_post_reaches_each_member_with_every_header(
    ctx: Context, dkim_key: tuple[Path, bytes], sign_processes: int
) -> None:
    key, txt = dkim_key
    with smtp_sink() as (handler, port):
        live = derive(delivering(ctx, port, key), dkim={"sign_processes": sign_processes})
        with live.session() as session:
            community = get_community(session, "irnet")
            members = add_members(session, community, live.now())
            post = approved_post(live, session, community)
            attach_pdf(live, session, post)
            assert fan_out(live, session, post) == 3
            post_id, community_id = post.id, community.id
        with live.session() as session:
            # Approving twice (a retry, a second node) queues nothing more.
            again = session.get(Post, post_id)
            assert again is not None and fan_out(live, session, again) == 0
            assert len(session.exec(select(OutboundMessage)).all()) == 3
        sender = Sender(live)
        try:
            assert sender.drain().sent == 3
        finally:
            sender.close()
    received = {m.rcpt_tos[0]: m for m in handler.received}
    assert sorted(received) == EACH  # no digest, none, paused, unsubscribed or pending member

    seen_tokens: set[str] = set()
    for address, mail in received.items():
        person_id = members.people[address]
        msg = parse(mail.content)
        assert parseaddr(msg["From"]) == ("Amina Persön via IRNet", LIST)
        assert parseaddr(msg["X-Original-From"]) == ("Amina Persön", "amina@example.org")
        assert msg["To"] == LIST
        assert msg["Subject"] == "Re: [IRNet] Collective bargaining in the platform economy"
        assert msg["Message-ID"] == "<reply-2@mail.example.org>"
        assert msg["In-Reply-To"] == "<parent-1@mail.example.org>"
        assert msg["References"].split() == [
            "<root-0@mail.example.org>",
            "<parent-1@mail.example.org>",
        ]
        assert msg["Date"] is not None
        assert msg["List-Id"] == "IRNet <irnet.lists.example.org>"
        assert msg["List-Post"] == f"<mailto:{LIST}>"
        assert msg["List-Help"] == "<mailto:irnet-request@lists.example.org?subject=help>"
        assert msg["List-Archive"] == "<https://lists.example.org/c/irnet/>"
        assert msg["Precedence"] == "list"
        assert msg["X-Loop"] == "mailhub@lists.example.org"
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

        # Reply-To: the member's own reply address for this post, and nothing else.
        reply_to = getaddresses([msg["Reply-To"]])
        assert len(reply_to) == 1
        reply = tokens.verify(
            live.secret, tokens.REPLY, token_of(reply_to[0][1], "r"), now=live.now()
        )
        assert (reply.int_value(0), reply.int_value(1)) == (post_id, person_id)

        # List-Unsubscribe: a mailto and a one-click link, both with the membership's token.
        mailto, link = (part.strip(" <>") for part in msg["List-Unsubscribe"].split(","))
        unsubscribe = token_of(mailto.removeprefix("mailto:"), "u")
        assert link == f"https://lists.example.org/unsubscribe/{unsubscribe}"
        verified = tokens.verify(live.secret, tokens.UNSUBSCRIBE, unsubscribe, now=live.now())
        assert verified.int_value(0) == members.memberships[address]

        # The return path names this member, for bounce handling.
        bounce = tokens.verify(
            live.secret, tokens.BOUNCE, token_of(mail.mail_from, "b"), now=live.now()
        )
        assert (bounce.int_value(0), bounce.int_value(1)) == (community_id, person_id)
        seen_tokens.update({token_of(reply_to[0][1], "r"), unsubscribe})

        body = msg.get_body(("plain",))
        assert body is not None
        text = body.get_content()
        assert text.startswith("Our union signed the first sector agreement last month.")
        assert "Amina Persön <amina@example.org> wrote this to IRNet." in text
        assert "irnet-request@lists.example.org" in text
        files = list(msg.iter_attachments())
        assert [(f.get_filename(), f.get_content()) for f in files] == [("agreement.pdf", PDF)]

        assert mail.content.startswith(b"DKIM-Signature:")
        assert dkim.verify(mail.content, dnsfunc=dns_for(txt))
        tags = dict(
            tag.strip().split("=", 1) for tag in "".join(msg["DKIM-Signature"].split()).split(";")
        )
        assert (tags["d"], tags["s"], tags["c"]) == (
            "lists.example.org",
            "mailhub",
            "relaxed/relaxed",
        )
        signed_names = {name.lower().encode() for name in tags["h"].split(":")}
        for name in (b"from", b"to", b"subject", b"date", b"message-id", b"list-id"):
            assert name in signed_names
        for name in (b"list-unsubscribe", b"list-unsubscribe-post", b"reply-to"):
            assert name in signed_names
        for name in (b"in-reply-to", b"references", b"mime-version", b"content-type"):
            assert name in signed_names
    assert len(seen_tokens) == 2 * len(EACH)  # every member's tokens are their own


def dns_for(txt: bytes):  # type: ignore[no-untyped-def]
    def lookup(name: bytes, timeout: int = 5) -> bytes | None:
        return txt if name == b"mailhub._domainkey.lists.example.org." else None

    return lookup


def test_tag_added_once_and_reply_to_author_when_configured(ctx: Context) -> None:
    with smtp_sink() as (handler, port):
        live = derive(delivering(ctx, port), instance={"public_url": None})
        live = derive(live, delivery={"reply_to": "list-and-author"})
        with live.session() as session:
            community = get_community(session, "irnet")
            add_members(session, community, live.now())
            fresh = approved_post(
                live,
                session,
                community,
                message_id="new-1@mail.example.org",
                in_reply_to=None,
                references=[],
                subject="Réunion sur les salaires minimums",
            )
            tagged = approved_post(
                live, session, community, message_id="new-2@mail.example.org", subject="[irnet] x"
            )
            assert fan_out(live, session, fresh) == 3
            assert fan_out(live, session, tagged) == 3
        sender = Sender(live)
        try:
            assert sender.drain().sent == 6
        finally:
            sender.close()
    messages = [parse(m.content) for m in handler.received]
    subjects = sorted({m["Subject"] for m in messages})
    assert subjects == ["[IRNet] Réunion sur les salaires minimums", "[irnet] x"]
    first = next(m for m in messages if m["Message-ID"] == "<new-1@mail.example.org>")
    assert first["In-Reply-To"] is None and first["References"] is None
    assert first["List-Archive"] is None
    assert first["List-Unsubscribe-Post"] is None
    assert first["List-Unsubscribe"].startswith("<mailto:irnet+u-")
    assert "," not in first["List-Unsubscribe"]
    reply_to = [address for _, address in getaddresses([first["Reply-To"]])]
    assert len(reply_to) == 2 and reply_to[1] == "amina@example.org"
    assert reply_to[0].startswith("irnet+r-")


def test_no_each_message_member_queues_nothing(sqlite_ctx: Context) -> None:
    with sqlite_ctx.session() as session:
        community = get_community(session, "irnet")
        post = approved_post(sqlite_ctx, session, community)
        assert fan_out(sqlite_ctx, session, post) == 0


def test_list_headers_for_digests(sqlite_ctx: Context) -> None:
    with sqlite_ctx.session() as session:
        community = get_community(session, "irnet")
        book = sqlite_ctx.address_book(session)
        found = headers.list_headers(sqlite_ctx.settings, book, community, "7.0.abc")
    assert found["List-Unsubscribe"] == "<mailto:irnet+u-7.0.abc@lists.example.org>"
    assert "List-Unsubscribe-Post" not in found and "List-Archive" not in found


def test_unreadable_dkim_key_stops_the_sender_at_start(sqlite_ctx: Context, tmp_path: Path) -> None:
    missing = derive(sqlite_ctx, dkim={"private_key": str(tmp_path / "nope.pem")})
    with pytest.raises(ConfigError, match=r"dkim\.private_key"):
        Sender(missing)
    junk = tmp_path / "junk.pem"
    junk.write_text("not a key")
    with pytest.raises(ConfigError, match="not a usable private key"):
        Sender(derive(sqlite_ctx, dkim={"private_key": str(junk)}))


def test_a_signed_row_written_twice_to_the_maildir_is_one_file(
    sqlite_ctx: Context, dkim_key: tuple[Path, bytes]
) -> None:
    """The file name comes from the row's unsigned bytes: a second DKIM signature (another
    timestamp) after a crash between writing and recording does not make a second file."""
    key, _record = dkim_key
    signing = derive(sqlite_ctx, dkim={"private_key": str(key)})
    with signing.session() as session:
        outbox.enqueue(session, outbox_mail("signed", "a@example.org"), signing.now())
    sender = Sender(signing)
    try:
        assert sender.drain().sent == 1
        time.sleep(1.1)  # the signature's t= tag counts whole seconds
        with signing.engine.begin() as connection:
            connection.exec_driver_sql("UPDATE outbound_message SET state='queued'")
        assert sender.drain().sent == 1
    finally:
        sender.close()
    files = list((signing.settings.outbox_maildir / "new").iterdir())
    assert len(files) == 1
    assert b"DKIM-Signature:" in files[0].read_bytes()
