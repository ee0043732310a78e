"""HMAC-signed tokens for the address scheme: verifiable with the instance secret alone.

A token reads ``<value>.<value>...<expiry>.<signature>``: values are short lower-case
alphanumerics (ids), the expiry is base-36 seconds since the epoch (``0`` for none) and the
signature is 64 bits of HMAC-SHA256 in lower-case base32. Everything stays lower-case so
mail systems that fold the case of local parts do no harm, and short enough to fit in the
64 characters of a local part. The signature also covers a purpose string, so a moderation
token never passes as a reply token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime

SIGNATURE_BYTES = 8

# Purposes: a token signed for one can never pass for another.
REPLY = "reply"  # values: post id, person id
MODERATION = "moderation"  # values: post id (or news/event item), moderator person id
QUEUE = "queue"  # values: community id, moderator person id (the reminder of held items)
SYNOPSIS = "synopsis"  # values: discussion id
CONFIRM = "confirm"  # values: membership id, action
UNSUBSCRIBE = "unsubscribe"  # values: membership id
BOUNCE = "bounce"  # values: community id, person id
VALUE = re.compile(r"[a-z0-9]+")


class TokenError(ValueError):
    """A token that is malformed, forged, for another purpose or expired."""


@dataclass(frozen=True)
class Token:
    """The values a verified token carried."""

    purpose: str
    values: tuple[str, ...]
    expires: int | None

    def int_value(self, index: int) -> int:
        return int(self.values[index])


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while number:
        number, rest = divmod(number, 36)
        text = digits[rest] + text
    return text or "0"


def _signature(secret: str, purpose: str, payload: str) -> str:
    digest = hmac.new(secret.encode(), f"{purpose}\x00{payload}".encode(), hashlib.sha256)
    return base64.b32encode(digest.digest()[:SIGNATURE_BYTES]).decode().rstrip("=").lower()


def sign(secret: str, purpose: str, *values: str | int, expires_at: datetime | None = None) -> str:
    """Make a token binding ``values`` to ``purpose``, optionally valid until ``expires_at``."""
    parts = [str(v).lower() for v in values]
    if not all(VALUE.fullmatch(p) for p in parts):
        raise ValueError("token values must be lower-case letters and digits")
    expiry = _base36(int(expires_at.timestamp())) if expires_at else "0"
    payload = ".".join([*parts, expiry])
    return f"{payload}.{_signature(secret, purpose, payload)}"


def verify(secret: str, purpose: str, token: str, *, now: datetime) -> Token:
    """Check a token's signature, purpose and expiry in constant time; return its values."""
    payload, dot, given = token.strip().lower().rpartition(".")
    if not dot or not payload:
        raise TokenError("malformed token")
    expected = _signature(secret, purpose, payload)
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise TokenError("token signature does not match")
    *values, expiry = payload.split(".")
    try:
        expires = int(expiry, 36) or None
    except ValueError:
        raise TokenError("malformed token") from None
    if expires is not None and now.timestamp() > expires:
        raise TokenError("token has expired")
    return Token(purpose=purpose, values=tuple(values), expires=expires)
