"""Walking a parsed MIME tree into body text, HTML, attachments and machine-readable reports.

Every leaf is one of: a body part (text/plain or text/html shown inline), a report part
(message/delivery-status, message/feedback-report), an enclosed message (message/rfc822 or
text/rfc822-headers, as bounces and complaints carry), or an attachment. Anything with a
filename or ``Content-Disposition: attachment`` is an attachment, and so is any other inline
non-text part, such as an image of multipart/related.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, field
from email.message import Message

from mailhub.inbound.charsets import decode_bytes
from mailhub.inbound.headerfields import decode_words

_ENRICHED_TAG = re.compile(r"</?[A-Za-z0-9-]+>")
_REPORT_TYPES = {"message/delivery-status", "message/global-delivery-status"}
_ENCLOSED_TYPES = {"text/rfc822-headers", "message/rfc822-headers", "text/rfc822", "message/global"}
_MAX_DEPTH = 40


@dataclass(frozen=True)
class ParsedAttachment:
    """One decoded attachment; the hash lets storage de-duplicate and archives compare."""

    filename: str | None
    content_type: str
    data: bytes
    sha256: str


@dataclass
class Parts:
    """What a walk over a MIME tree found, in document order."""

    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    attachments: list[ParsedAttachment] = field(default_factory=list)
    delivery_status: list[str] = field(default_factory=list)
    feedback_report: list[str] = field(default_factory=list)
    enclosed: list[Message] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)


def collect_parts(msg: Message) -> Parts:
    """Walk the whole tree once; malformed parts are noted as defects, never raised."""
    parts = Parts()
    _walk(msg, parts, 0)
    return parts


def _walk(part: Message, parts: Parts, depth: int) -> None:
    _walk_part(part, parts, depth)
    # Decoding a payload can add defects to its part, so they are read afterwards.
    parts.defects.extend(type(d).__name__ for d in part.defects)


def _walk_part(part: Message, parts: Parts, depth: int) -> None:
    if depth > _MAX_DEPTH:
        parts.defects.append("MIME nesting too deep")
        return
    ctype = part.get_content_type()
    # Reports are read as reports even when a filename makes them look like attachments.
    if ctype in _REPORT_TYPES or ctype == "message/feedback-report":
        _walk_message(part, ctype, parts, depth)
    elif not ctype.startswith("multipart/") and _is_attachment(part):
        _add_attachment(part, parts)
    elif ctype.startswith("message/") or ctype in _ENCLOSED_TYPES:
        _walk_message(part, ctype, parts, depth)
    elif part.is_multipart():
        for child in part.get_payload():
            if isinstance(child, Message):
                _walk(child, parts, depth + 1)
    else:
        _leaf(part, ctype, parts)


def _walk_message(part: Message, ctype: str, parts: Parts, depth: int) -> None:
    if ctype in _REPORT_TYPES:
        parts.delivery_status.append(_report_text(part))
    elif ctype == "message/feedback-report":
        parts.feedback_report.append(_report_text(part))
    elif ctype == "message/rfc822" and part.is_multipart():
        enclosed = part.get_payload(0)
        if isinstance(enclosed, Message):
            parts.enclosed.append(enclosed)
            _collect_enclosed_attachments(enclosed, parts, depth + 1)
    elif ctype in _ENCLOSED_TYPES or ctype == "message/rfc822":
        parts.enclosed.append(part)
    else:
        _add_attachment(part, parts)


def _collect_enclosed_attachments(enclosed: Message, parts: Parts, depth: int) -> None:
    """Attachments of an enclosed (forwarded or returned) message count as ours; its text
    does not, so a bounce's body stays the bounce's own words."""
    inner = Parts()
    _walk(enclosed, inner, depth)
    parts.attachments.extend(inner.attachments)
    parts.enclosed.extend(inner.enclosed)
    parts.defects.extend(inner.defects)


def _leaf(part: Message, ctype: str, parts: Parts) -> None:
    if ctype.startswith("multipart/"):
        # A multipart whose boundary never appears: its body is all that is left.
        parts.defects.append(f"{ctype} without its parts")
        ctype = "text/plain"
    if ctype in ("text/plain", "text/enriched", "text/richtext"):
        text = part_text(part, parts.defects)
        if ctype != "text/plain":
            text = _ENRICHED_TAG.sub("", text)
        parts.plain.append(text)
    elif ctype == "text/html":
        parts.html.append(part_text(part, parts.defects))
    else:
        _add_attachment(part, parts)


def part_text(part: Message, defects: list[str]) -> str:
    """The decoded text of a leaf part, whatever its declared charset says."""
    data = _payload_bytes(part)
    charset = part.get_content_charset()
    text, fell_back = decode_bytes(data, charset)
    if fell_back and charset:
        defects.append(f"charset {charset!r} did not decode the body")
    elif fell_back:
        defects.append("8-bit body without a declared charset")
    return text


def _payload_bytes(part: Message) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
    raw = part.get_payload()
    if isinstance(data, bytes):
        if _base64_failed(part):
            return _salvage_base64(raw if isinstance(raw, str) else "")
        return data
    if isinstance(raw, str):
        return raw.encode("utf-8", "surrogateescape")
    return b""


def _base64_failed(part: Message) -> bool:
    if part.get("content-transfer-encoding", "").strip().lower() != "base64":
        return False
    return any("Base64" in type(d).__name__ for d in part.defects)


def _salvage_base64(text: str) -> bytes:
    """Decode what can be decoded of damaged base64: drop stray characters, trim the tail."""
    clean = re.sub(r"[^A-Za-z0-9+/]", "", text)
    clean = clean[: len(clean) - len(clean) % 4]
    try:
        return base64.b64decode(clean)
    except ValueError:
        return text.encode("ascii", "replace")


def _report_text(part: Message) -> str:
    """Report fields as text, whether the parser split them into blocks or left a string."""
    payload = part.get_payload()
    if isinstance(payload, list):
        blocks = []
        for block in payload:
            if isinstance(block, Message):
                blocks.append("\n".join(f"{k}: {v}" for k, v in block.raw_items()))
        return "\n\n".join(blocks)
    return decode_bytes(_payload_bytes(part), part.get_content_charset())[0]


def _is_attachment(part: Message) -> bool:
    try:
        disposition = part.get_content_disposition()
    except Exception:
        disposition = None
    return disposition == "attachment" or _filename(part) is not None


def _filename(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except Exception:
        return None
    if not name:
        return None
    return decode_words(str(name)).strip() or None


def _add_attachment(part: Message, parts: Parts) -> None:
    data = _enclosed_bytes(part) if part.is_multipart() else _payload_bytes(part)
    sha = hashlib.sha256(data).hexdigest()
    parts.attachments.append(ParsedAttachment(_filename(part), part.get_content_type(), data, sha))


def _enclosed_bytes(part: Message) -> bytes:
    """An attached message/rfc822 as the bytes of the message it carries."""
    inner = part.get_payload(0)
    try:
        return inner.as_bytes() if isinstance(inner, Message) else b""
    except Exception:
        return b""
