"""A published post as a mail message again, for mbox files.

Two forms. For readers of the portal, the post as the archive shows it: From the author's
name at the community's list address (the portal shows no address, so neither does its
mbox), the whole text with addresses in it hidden, the attachments, and the ids that keep
its thread (Message-ID, In-Reply-To, References) and its Date. For admins, the post's
original bytes as they were received; a post imported from an old archive has none, and is
rebuilt with its author's real address.

Header lines are written as ASCII by the list-mail helpers (outbound/headers.py), whose
folding keeps ids usable.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime

from mailhub.models import Attachment, Post
from mailhub.outbound import headers

# The stored bytes of an attachment, checked against its sha256; None when unusable.
FileReader = Callable[[str], bytes | None]


@dataclass(frozen=True)
class Sender:
    """Who a rebuilt message is From: a name and an address."""

    name: str
    address: str


def rebuilt(
    post: Post,
    sender: Sender,
    to: str,
    text: str,
    attachments: list[Attachment],
    read: FileReader,
    archived_at: str | None = None,
    parent: str | None = None,
) -> bytes:
    """The post as a MIME message: the given sender and text, its ids, its files.
    ``parent`` is the Message-ID of the post it answers as the store knows it (a reply
    pinned by its reply address may not name it): named, the thread survives a re-import."""
    lines = [
        headers.header_line("From", headers.mailbox(sender.name, sender.address)),
        headers.header_line("To", to),
        headers.header_line("Subject", headers.encoded_text("Subject", post.subject)),
        headers.header_line("Date", format_datetime(post.sent_at or post.received_at)),
    ]
    if archived_at:
        lines.append(headers.header_line("Archived-At", f"<{archived_at}>"))
    in_reply_to = parent or post.in_reply_to
    references = list(post.references)
    if in_reply_to and in_reply_to not in references:
        references.append(in_reply_to)
    ids = (
        headers.id_header("Message-ID", [post.message_id])
        + headers.id_header("In-Reply-To", [in_reply_to] if in_reply_to else [])
        + headers.id_header("References", references)
    )
    body = text if text.endswith("\n") else text + "\n"
    files = [(item, data) for item in attachments if (data := read(item.sha256)) is not None]
    head = "".join(lines).encode("ascii") + ids
    return head + (_mime(body, files) if files else _text_only(body))


def _text_only(body: str) -> bytes:
    """A text without files, written directly: the email package took 1.7 ms a post, most
    of a month's mbox. 8bit is what mbox files and mail clients importing them carry; a
    line too long for SMTP (998 octets) is quoted-printable instead."""
    data = body.encode("utf-8")
    if any(len(line) >= 990 for line in data.splitlines()):
        return _mime(body, [])
    encoding = "7bit" if data.isascii() else "8bit"
    return (
        b'MIME-Version: 1.0\r\nContent-Type: text/plain; charset="utf-8"\r\n'
        + f"Content-Transfer-Encoding: {encoding}\r\n\r\n".encode("ascii")
        + data
    )


def _mime(body: str, files: list[tuple[Attachment, bytes]]) -> bytes:
    part = EmailMessage(policy=policy.SMTP)
    plain = body.isascii() and all(len(line) < 990 for line in body.splitlines())
    part.set_content(body, cte="7bit" if plain else "quoted-printable")
    for item, data in files:
        maintype, _, subtype = item.content_type.partition("/")
        part.add_attachment(
            data,
            maintype=maintype or "application",
            subtype=subtype or "octet-stream",
            filename=item.filename,
        )
    return part.as_bytes()
