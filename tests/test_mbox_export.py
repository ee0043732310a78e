"""mbox downloads and `mailhub export mbox`: mboxrd files that Python's mailbox module reads
and `mailhub import mbox` imports back (same Message-IDs, bodies and threads).

The portal's files are the archive's view (From the list address under the author's name,
addresses in the text hidden, attachments included); the admins' export is the mail as it
was received. Who may download what is in the access matrix (test_portal_access.py).
"""

from __future__ import annotations

import mailbox
import re
import smtplib
from collections.abc import Callable
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from portal_client import Client
from portal_seed import AMINA, FILE_BYTES, World, seed
from smtp_server import running_listener
from sqlmodel import col, select
from test_web import running_web

from mailhub.context import Context
from mailhub.exports.mboxrd import unquote
from mailhub.inbound import pipeline
from mailhub.models import Community, InboundMessage, Post
from mailhub.portal.queries import published
from mailhub.portal.web import hide_addresses

LIST = "irnet@lists.example.org"
FROM_LINES = "From the ministry's side: yes.\n>From an older mbox, quoted once.\nEnd."
PEOPLE = (AMINA, "guest@example.net", "somebody.private@example.net")


def prepare(ctx: Context, world: World) -> None:
    """Replies name their parents as mail does, and one post has lines an mbox must quote."""
    with ctx.session() as session:
        reply = session.get(Post, world.ids["reply"])
        assert reply is not None and reply.parent_id is not None
        first = session.get(Post, reply.parent_id)
        assert first is not None
        reply.in_reply_to, reply.references = first.message_id, [first.message_id]
        session.add(
            Post(
                community_id=reply.community_id, thread_id=reply.thread_id, parent_id=reply.id,
                message_id="m-from-lines@example.org", in_reply_to=reply.message_id,
                references=[first.message_id, reply.message_id], subject="Re: Platform work",
                author_name="Amina Rahman", author_email=AMINA, person_id=first.person_id,
                status="approved", body_text=FROM_LINES, full_text=FROM_LINES,
                received_at=reply.received_at.replace(second=30),
            )
        )  # fmt: skip


def read_mbox(data: bytes, tmp_path: Path, name: str) -> list[mailbox.mboxMessage]:
    path = tmp_path / name
    path.write_bytes(data)
    return list(mailbox.mbox(path, create=False))


def text_of(message: mailbox.mboxMessage) -> str:
    parsed = message_from_bytes(unquote(message.as_bytes()), policy=policy.default)
    part = parsed.get_body(("plain",))
    assert part is not None
    return part.get_content().rstrip("\n")  # type: ignore[no-any-return]


def published_posts(ctx: Context, *condition: Any) -> list[Post]:
    with ctx.session() as session:
        query = select(Post).where(*published(), *condition)
        return list(session.exec(query.order_by(col(Post.received_at), col(Post.id))))


def reimport(run_cli: Callable[..., Any], path: Path, slug: str, ctx: Context) -> list[Post]:
    made = run_cli("community", "create", slug, "--name", slug.title(), "--local-part", slug)
    assert made.exit_code == 0, made.output
    result = run_cli("import", "mbox", str(path), "-c", slug)
    assert result.exit_code == 0 and "0 unreadable" in result.output, result.output
    with ctx.session() as session:
        community = session.exec(select(Community).where(Community.slug == slug)).one()
    return published_posts(ctx, Post.community_id == community.id)


def mbox_link(client: Client, page: str) -> str:
    """The address of the page's mbox download, as its link gives it."""
    status, _, html = client.get(page)
    assert status == 200, page
    [href] = re.findall(r'href="([^"]+)" type="application/mbox"', html)
    return href


def parents(posts: list[Post]) -> dict[str, str | None]:
    by_id = {p.id: p.message_id for p in posts}
    return {p.message_id: by_id.get(p.parent_id) for p in posts}


def test_a_conversation_and_a_month_as_mbox_reimport_without_addresses(
    ctx: Context, tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    world = seed(ctx)
    prepare(ctx, world)
    expected = published_posts(ctx, Post.thread_id == world.ids["thread"])
    assert len(expected) == 3
    with running_web(ctx) as web_ctx:
        client = Client(web_ctx.settings.instance.public_url or "")
        # The downloads are found as a reader finds them: by the link on each page.
        thread_mbox = mbox_link(client, f"/c/irnet/t/{world.ids['thread']}")
        month_mbox = mbox_link(client, world.paths["month"])
        assert thread_mbox == f"/c/irnet/t/{world.ids['thread']}.mbox"
        assert month_mbox == world.paths["month"].rstrip("/") + ".mbox"
        status, headers, _ = client.get(thread_mbox)
        assert status == 200 and headers["content-type"] == "application/mbox"
        assert headers["content-disposition"].startswith(
            f'attachment; filename="irnet-conversation-{world.ids["thread"]}.mbox"'
        )
        # The client decodes text; the file's bytes are read again for the byte checks.
        data = raw_get(web_ctx, thread_mbox)
        month = raw_get(web_ctx, month_mbox)
    assert not any(person.encode() in data for person in PEOPLE)
    assert b"\n>From the ministry's side" in data and b"\n>>From an older mbox" in data
    messages = read_mbox(data, tmp_path, "thread.mbox")
    assert [m["Message-ID"].strip("<>") for m in messages] == [p.message_id for p in expected]
    for message, post in zip(messages, expected, strict=True):
        assert message["From"].endswith(f"<{LIST}>") and "@" not in message["From"].split("<")[0]
        assert text_of(message) == hide_addresses(post.full_text).rstrip("\n")
    files = [
        part.get_payload(decode=True)
        for message in messages
        for part in message.walk()
        if part.get_filename() == "study.pdf"
    ]
    assert files == [FILE_BYTES]

    copied = reimport(run_cli, tmp_path / "thread.mbox", "copy", ctx)
    assert [p.message_id for p in copied] == [p.message_id for p in expected]
    assert [p.full_text.rstrip("\n") for p in copied] == [
        hide_addresses(p.full_text).rstrip("\n") for p in expected
    ]
    assert parents(copied) == parents(expected)
    assert len({p.thread_id for p in copied}) == 1

    in_month = published_posts(ctx, Post.community_id == 1, Post.received_at < ctx.now())
    month_ids = [m["Message-ID"].strip("<>") for m in read_mbox(month, tmp_path, "month.mbox")]
    assert month_ids == [p.message_id for p in in_month] and len(month_ids) == 4


def raw_get(ctx: Context, path: str) -> bytes:
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(ctx.settings.instance.public_url or "")
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        assert response.status == 200, (path, response.status)
        return response.read()
    finally:
        connection.close()


def send(ctx: Context, text: str) -> str:
    """A member's post by SMTP to the real listener, with an attachment; processed."""
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = f"Amina Rahman <{AMINA}>", LIST, "Wage boards"
    mail["Message-ID"] = "<received-1@example.org>"
    mail["Cc"] = "colleague.private@example.net"
    mail.set_content(text)
    mail.add_attachment(FILE_BYTES, "application", "pdf", filename="boards.pdf")
    with running_listener(ctx) as port, smtplib.SMTP("127.0.0.1", port) as smtp:
        smtp.sendmail(AMINA, [LIST], mail.as_bytes(policy=policy.SMTP))
    pipeline.drain(ctx)
    return "received-1@example.org"


def test_export_mbox_gives_admins_the_mail_as_received(
    ctx: Context, tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    world = seed(ctx)
    prepare(ctx, world)
    message_id = send(ctx, FROM_LINES)
    with ctx.session() as session:
        post = session.exec(select(Post).where(Post.message_id == message_id)).one()
        raw = session.exec(select(InboundMessage.raw).where(InboundMessage.id == post.inbound_id))
        original = raw.one()
    assert run_cli("queue", "approve", str(post.id)).exit_code == 0
    expected = published_posts(ctx, Post.community_id == 1)

    target = tmp_path / "irnet.mbox"
    result = run_cli("export", "mbox", "-c", "irnet", "--to", str(target))
    assert result.exit_code == 0, result.output
    assert f"{len(expected)} posts of irnet written to {target}" in result.output
    messages = read_mbox(target.read_bytes(), tmp_path, "copy.mbox")
    assert [m["Message-ID"].strip("<>") for m in messages] == [p.message_id for p in expected]
    received = messages[-1]
    assert unquote(received.as_bytes()) == original.replace(b"\r\n", b"\n")
    assert received.get_from().startswith(AMINA)
    assert "colleague.private@example.net" in received["Cc"]  # admins see the mail as it came
    assert AMINA in messages[0]["From"]  # a post without original bytes: rebuilt, address kept

    copied = reimport(run_cli, target, "copy", ctx)
    assert [p.message_id for p in copied] == [p.message_id for p in expected]
    assert copied[-1].full_text.rstrip("\n") == FROM_LINES
    assert parents(copied) == parents(expected)

    month = run_cli("export", "mbox", "-c", "irnet", "--month", "2026-03", "--to", "-")
    assert month.exit_code == 0 and "1 posts of irnet written to standard output" in month.stderr
    assert month.stdout.count("Message-ID: <") == 1 and message_id in month.stdout
    # A folder, existing or named with a final '/', gets the default name inside it.
    existing = tmp_path / "exports"
    existing.mkdir()
    for folder, written in ((str(existing), existing), (f"{tmp_path}/new/", tmp_path / "new")):
        into = run_cli("export", "mbox", "-c", "irnet", "--month", "2026-03", "--to", folder)
        assert into.exit_code == 0, into.output
        copy = read_mbox((written / "irnet-2026-03.mbox").read_bytes(), tmp_path, "m.mbox")
        assert [m["Message-ID"].strip("<>") for m in copy] == [message_id]
    for args, code, words in (
        (("--month", "2026-13"), 2, "--month: '2026-13' is not a month like 2026-11"),
        (("--to", str(target)), 1, "already exists"),
        (("-c", "nope"), 1, "nope"),
        # A folder that is not there: one line naming the option, not a traceback.
        (("--to", f"{tmp_path}/missing/irnet.mbox"), 2, "--to: cannot write "),
        (("--to", f"{target}/sub/"), 2, "--to: cannot make the folder "),
    ):
        bad = run_cli("export", "mbox", "-c", "irnet", *args)
        assert bad.exit_code == code and words in bad.stderr, bad.output
        assert len(bad.stderr.strip().splitlines()) == 1
