"""The headers that make a delivered mail a list mail: List-* (RFC 2369, 2919, 8058),
Precedence, X-Loop, the community tag in the subject, and threading ids written verbatim.

Posts and digests share these, so a mail client shows the same list, the same unsubscribe
button and the same threads whichever way a member reads. Header lines are written here as
ASCII text rather than by the email package, whose folding turns long ids, links and address
lists into encoded words that no client can use any more.
"""

from __future__ import annotations

import re
from email.header import Header
from email.utils import formataddr

from mailhub import tokens
from mailhub.addresses import AddressBook, Kind
from mailhub.config import Settings
from mailhub.models import Community

ONE_CLICK = "List-Unsubscribe=One-Click"
_PRINTABLE_ID = re.compile(r"[!-;=?-~]+")  # visible ASCII without '<' and '>'


def loop_marker(domain: str) -> str:
    """The X-Loop value on everything we send; mail carrying it is never posted."""
    return f"mailhub@{domain}"


def reply_token(secret: str, post_id: int, person_id: int) -> str:
    """The token of a member's reply address for one post."""
    return tokens.sign(secret, tokens.REPLY, post_id, person_id)


def mailbox(name: str, address: str) -> str:
    """``Name <address>`` with the name quoted or RFC 2047-encoded as it needs; line breaks
    in a name (a member's, from an encoded word) become spaces, so they add no header."""
    return formataddr((" ".join(name.split()), address), "utf-8")


def encoded_text(name: str, value: str) -> str:
    """An unstructured value (Subject) folded and, when not ASCII, encoded; line breaks in
    it (a member's subject can carry them in an encoded word) become spaces."""
    return Header(" ".join(value.split()), header_name=name).encode(linesep="\r\n")


def header_line(name: str, value: str) -> str:
    """One ASCII header line; a long list of items is folded after its commas."""
    line = f"{name}: {value}"
    if len(line) > 78:
        line = line.replace(", ", ",\r\n ")
    return line + "\r\n"


def list_id(settings: Settings, community: Community) -> str:
    """RFC 2919: the community's name and its dotted machine id."""
    return mailbox(community.name, f"{community.local_part}.{settings.instance.domain}")


def list_headers(
    settings: Settings, book: AddressBook, community: Community, unsubscribe: str
) -> dict[str, str]:
    """The list headers of one mail to one member, ``unsubscribe`` being their token.

    The one-click link is offered only when the web endpoint has a public address; the
    mailto link always is, so every client can unsubscribe.
    """
    post = book.address(community.slug, Kind.POST)
    request = book.address(community.slug, Kind.REQUEST)
    mailto = book.address(community.slug, Kind.UNSUBSCRIBE, unsubscribe)
    headers = {
        "List-Id": list_id(settings, community),
        "List-Post": f"<mailto:{post}>",
        "List-Help": f"<mailto:{request}?subject=help>",
    }
    archive = settings.instance.archive_url
    if archive:
        headers["List-Archive"] = f"<{archive.rstrip('/')}/{community.slug}/>"
    public = settings.instance.public_url
    if public:
        link = f"{public.rstrip('/')}/unsubscribe/{unsubscribe}"
        headers["List-Unsubscribe"] = f"<mailto:{mailto}>, <{link}>"
        headers["List-Unsubscribe-Post"] = ONE_CLICK
    else:
        headers["List-Unsubscribe"] = f"<mailto:{mailto}>"
    headers["Precedence"] = "list"
    headers["X-Loop"] = loop_marker(settings.instance.domain)
    return headers


def tag_subject(subject: str, tag: str | None) -> str:
    """Put the community tag in front, unless it is already anywhere in the subject."""
    subject = " ".join(subject.split()) or "(no subject)"
    if not tag or tag.lower() in subject.lower():
        return subject
    return f"{tag} {subject}"


def list_subject(subject: str, community: Community) -> str:
    """The subject of a mail of the community's own (digest, newsletter, event digest): the
    tag names the community, so "IRNet digest" reads "[IRNet] Digest", not "[IRNet] IRNet
    digest"."""
    name = community.name
    if community.tag and subject.startswith(f"{name} ") and name in community.tag:
        rest = subject[len(name) + 1 :]
        subject = rest[:1].upper() + rest[1:]
    return tag_subject(subject, community.tag)


def id_header(name: str, ids: list[str]) -> bytes:
    """A Message-ID, In-Reply-To or References line, one id per folded line.

    Written by hand because the email package turns a long id into an encoded word, which
    no client recognises as an id any more. Ids that are not plain ASCII are left out.
    """
    usable = [i for i in ids if _PRINTABLE_ID.fullmatch(i)]
    if not usable:
        return b""
    return (f"{name}: " + "\r\n ".join(f"<{i}>" for i in usable) + "\r\n").encode("ascii")
