"""The headers that make a delivered mail a list mail: List-* (RFC 2369, 2919, 8058),
Archived-At (RFC 5064, a post's place on the portal), Precedence, X-Loop, the community tag
in the subject, and threading ids written verbatim.

Posts and digests share these, so a mail client shows the same list, the same unsubscribe
button and the same threads whichever way a member reads. Header lines are written here as
ASCII text rather than by the email package, whose folding turns long ids, links and address
lists into encoded words that no client can use any more.

Every line stays within RFC 5322's limit of 998 octets, which strict relays (and our own
listener) enforce, and within 78 characters wherever there is a space to fold at: display
names are cut (a member may call themselves anything, 3,000 characters included) and
encoded in words short enough to fold between; subjects fold, and a word too long for a
line is encoded so it can be split; ids too long for a line are left out.
"""

from __future__ import annotations

import re
from email.charset import Charset
from email.header import Header
from email.utils import formataddr
from itertools import repeat

from mailhub import tokens
from mailhub.addresses import AddressBook, Kind
from mailhub.config import Settings
from mailhub.models import Community
from mailhub.portal import links

ONE_CLICK = "List-Unsubscribe=One-Click"
_PRINTABLE_ID = re.compile(r"[!-;=?-~]+")  # visible ASCII without '<' and '>'
LINE = 78  # RFC 5322: a line SHOULD be at most 78 characters ...
MAX_LINE = 998  # ... and MUST be at most 998
PERSON_NAME = 64  # a person's name in a header; longer ones are cut
MAILBOX_NAME = 128  # any display name, e.g. "<person> via <community>"
ENCODED_WORD = 70  # so that "From: " and one encoded word fit in LINE
UTF8 = Charset("utf-8")


def loop_marker(domain: str) -> str:
    """The X-Loop value on everything we send; mail carrying it is never posted."""
    return f"mailhub@{domain}"


def reply_token(secret: str, post_id: int, person_id: int) -> str:
    """The token of a member's reply address for one post."""
    return tokens.sign(secret, tokens.REPLY, post_id, person_id)


def short_name(name: str | None, limit: int = PERSON_NAME) -> str:
    """A name on one line (line breaks from an encoded word become spaces, so they add no
    header), cut to ``limit`` characters with an ellipsis."""
    name = " ".join((name or "").split())
    return name if len(name) <= limit else name[: limit - 1].rstrip() + "…"


def mailbox(name: str, address: str) -> str:
    """``Name <address>``, the name on one line and cut to MAILBOX_NAME characters, quoted
    as it needs or, when not ASCII, RFC 2047-encoded in words a line can be folded between."""
    name = short_name(name, MAILBOX_NAME)
    if name.isascii():
        return formataddr((name, address))
    return f"{' '.join(_encoded_words(name))} <{address}>"


def _encoded_words(name: str) -> list[str]:
    """A name as RFC 2047 words of at most ENCODED_WORD characters, each ending after a
    space of the name where there is one: a reader ignores the blank between two encoded
    words, but some (Python's email package) keep it, and should then split no word."""
    words: list[str] = []
    chunk = ""
    for piece in re.findall(r"\S+\s*", name):
        if chunk and len(UTF8.header_encode(chunk + piece)) > ENCODED_WORD:
            words += _header_lines(chunk)
            chunk = ""
        chunk += piece
    return words + _header_lines(chunk)


def _header_lines(text: str) -> list[str]:
    """``text`` as encoded words of at most ENCODED_WORD characters. The email package
    types each as optional: None stands for "not one character fits", which cannot happen
    at that length."""
    return [line for line in UTF8.header_encode_lines(text, repeat(ENCODED_WORD)) if line]


def encoded_text(name: str, value: str) -> str:
    """An unstructured value (Subject) folded and, when not ASCII, encoded; line breaks in
    it (a member's subject can carry them in an encoded word) become spaces. A word too
    long for any line is encoded too, since encoded words can be split and words cannot."""
    value = " ".join(value.split())
    text = Header(value, header_name=name).encode(linesep="\r\n")
    if max(len(line) for line in text.split("\r\n")) + len(name) + 2 > MAX_LINE:
        text = Header(value, UTF8, header_name=name).encode(linesep="\r\n")
    return text


def header_line(name: str, value: str) -> str:
    """One ASCII header line, folded where it may be: a long list after its commas, one
    item a line, then any line still past LINE at its spaces. A run without a space (an
    id, a link) cannot be folded and stays whole."""
    line = f"{name}: {value}"
    if len(line) > LINE:
        line = line.replace(", ", ",\r\n ")
        line = "\r\n".join(_fold(part) for part in line.split("\r\n"))
    return line + "\r\n"


def _fold(line: str) -> str:
    """One physical line broken before spaces into lines of at most LINE characters, as far
    as its words allow; no line is left with nothing but white space."""
    if len(line) <= LINE:
        return line
    first, *words = line.split(" ")
    lines, current = [], first
    for word in words:
        if len(current) + 1 + len(word) > LINE and current.strip():
            lines.append(current)
            current = " " + word
        else:
            current += " " + word
    lines.append(current)
    return "\r\n".join(lines)


def list_key(community: Community, domain: str) -> str:
    """The community's dotted machine id (RFC 2919), which mail we sent carries in List-Id."""
    return f"{community.local_part}.{domain}"


def list_id(settings: Settings, community: Community) -> str:
    """RFC 2919's List-Id value: the community's name and its dotted machine id."""
    return mailbox(community.name, list_key(community, settings.instance.domain))


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
        "List-Owner": f"<mailto:{book.address(community.slug, Kind.OWNER)}>",
    }
    archive = links.archive_url(settings, community)
    if archive:
        headers["List-Archive"] = f"<{archive}>"
    link = unsubscribe_link(settings, unsubscribe)
    if link:
        headers["List-Unsubscribe"] = f"<mailto:{mailto}>, <{link}>"
        headers["List-Unsubscribe-Post"] = ONE_CLICK
    else:
        headers["List-Unsubscribe"] = f"<mailto:{mailto}>"
    headers["Precedence"] = "list"
    headers["X-Loop"] = loop_marker(settings.instance.domain)
    return headers


def unsubscribe_link(settings: Settings, unsubscribe: str) -> str | None:
    """The https unsubscribe link of one member (``unsubscribe`` being their token), or None
    without a public web address. The List-Unsubscribe header carries it for one-click
    clients; list mail also shows it in the body, which bulk-sender rules ask for."""
    public = settings.instance.public_url
    return f"{public.rstrip('/')}/unsubscribe/{unsubscribe}" if public else None


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
    no client recognises as an id any more.
    """
    usable = usable_ids(name, ids)
    if not usable:
        return b""
    return (f"{name}: " + "\r\n ".join(f"<{i}>" for i in usable) + "\r\n").encode("ascii")


def usable_ids(name: str, ids: list[str]) -> list[str]:
    """The ids that can stand in a ``name`` header: plain ASCII, and short enough for a line
    of their own (a folded line can hold one id, never part of one)."""
    room = MAX_LINE - len(name) - 4
    return [i for i in ids if len(i) <= room and _PRINTABLE_ID.fullmatch(i)]
