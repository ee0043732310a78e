"""The digest mail of one member: shared headers written once, then per member their
address, unsubscribe token, Message-ID and reply addresses put in.

A digest's Reply-To is the list address, and its Message-ID (``digest-…@domain``) and the
header ``X-Mailhub-Digest: yes`` mark it, so a reply to the digest as a whole (its
In-Reply-To names that id) can be recognised and matched to the item it quotes
(replies.py). Each item carries its own reply address, which is the way to reply.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime

from mailhub import tokens
from mailhub.addresses import AddressBook, Kind
from mailhub.config import Settings
from mailhub.digest.build import Content
from mailhub.member_tokens import unsubscribe_token
from mailhub.models import Community
from mailhub.outbound.headers import (
    encoded_text,
    header_line,
    list_headers,
    list_subject,
    mailbox,
)
from mailhub.outbound.leave import LEAVE

DIGEST_MARK = "X-Mailhub-Digest"


def digest_id(community_id: int, due_at: datetime, person_id: int, domain: str) -> str:
    return f"digest-{community_id}-{due_at:%Y%m%dT%H%MZ}-{person_id}@{domain}"


@dataclass(frozen=True)
class Letterhead:
    """The headers of one run with marks where each member's values go."""

    text: str
    to_mark: str
    unsubscribe_mark: str
    id_mark: str


def letterhead(
    settings: Settings, book: AddressBook, community: Community, due_at: datetime, date: str
) -> Letterhead:
    marks = [f"mhh{secrets.token_hex(8)}{n}" for n in "tui"]
    to_mark, unsubscribe_mark, id_mark = marks
    post = book.address(community.slug, Kind.POST)
    subject = list_subject(f"{community.name} digest, {date}", community)
    lines = [
        header_line("From", mailbox(f"{community.name} digest", post)),
        header_line("To", to_mark),
        f"Subject: {encoded_text('Subject', subject)}\r\n",
        header_line("Date", format_datetime(due_at)),
        header_line("Reply-To", post),
        f"Message-ID: <{id_mark}>\r\n",
        header_line(DIGEST_MARK, "yes"),
    ]
    lines += [
        header_line(name, value)
        for name, value in list_headers(settings, book, community, unsubscribe_mark).items()
    ]
    lines.append("MIME-Version: 1.0\r\n")
    return Letterhead("".join(lines), to_mark, unsubscribe_mark, id_mark)


class Personaliser:
    """Fills one run's letterhead and contents for one member at a time, cheaply."""

    def __init__(
        self,
        settings: Settings,
        book: AddressBook,
        community: Community,
        due_at: datetime,
        head: Letterhead,
    ) -> None:
        assert community.id is not None
        self.settings = settings
        self.community = community
        self.due_at = due_at
        self.head = head
        self.signer = tokens.BatchSigner(settings.instance.secret, tokens.REPLY)
        # Every reply address is this prefix, the token, and this suffix.
        sample = book.address(community.slug, Kind.REPLY, "TOKEN")
        self.prefix, _, self.suffix = sample.partition("TOKEN")

    def letter(self, content: Content, person_id: int, email: str, membership_id: int) -> bytes:
        secret = self.settings.instance.secret
        prefix, suffix = self.prefix, self.suffix
        signed = self.signer.sign_each(content.post_ids, person_id)
        addresses = {post_id: f"{prefix}{token}{suffix}" for post_id, token in signed.items()}
        leave = unsubscribe_token(secret, membership_id, person_id)
        addresses[LEAVE] = leave
        head = (
            self.head.text.replace(self.head.to_mark, email)
            .replace(self.head.unsubscribe_mark, leave)
            .replace(
                self.head.id_mark,
                digest_id(
                    self.community.id or 0, self.due_at, person_id, self.settings.instance.domain
                ),
            )
        )
        return (head + content.pieces.fill(addresses)).encode("utf-8")
