"""DKIM signing of every outgoing mail, at send time, in one place (the sender).

Signing last means the signature covers the bytes the relay gets, whatever built them. The
key is read once; a key that cannot be read stops the sender at start, not mail by mail.
"""

from __future__ import annotations

import re
from pathlib import Path

import dkim

from mailhub.config import ConfigError, Settings

# What a receiver must be able to trust: who, what, when, the thread, the list and its
# unsubscribe links, and how the body is to be read.
SIGNED_HEADERS = (
    "From",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "Reply-To",
    "In-Reply-To",
    "References",
    "List-Id",
    "List-Post",
    "List-Help",
    "List-Archive",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
)
_FIELD_NAME = re.compile(rb"^([!-9;-~]+)[ \t]*:", re.MULTILINE)


class SigningError(ValueError):
    """A message the signer could not sign (it cannot be parsed as a mail)."""


class Signer:
    """Adds a DKIM-Signature (relaxed/relaxed, rsa-sha256) for one selector and domain."""

    def __init__(self, key: bytes, selector: str, domain: str) -> None:
        self.key = key
        self.selector = selector.encode()
        self.domain = domain.encode()
        self._wanted = {name.lower().encode(): name.encode() for name in SIGNED_HEADERS}

    def sign(self, raw: bytes) -> bytes:
        """The message with its signature header in front."""
        try:
            signature = dkim.sign(
                raw,
                self.selector,
                self.domain,
                self.key,
                canonicalize=(b"relaxed", b"relaxed"),
                include_headers=self._present(raw),
            )
        except dkim.DKIMException as exc:
            raise SigningError(f"DKIM signing failed: {exc}") from None
        return signature + raw

    def _present(self, raw: bytes) -> list[bytes]:
        """The headers to sign that this message has, so h= names only what is there."""
        head = raw.split(b"\r\n\r\n", 1)[0]
        names = {m.group(1).lower() for m in _FIELD_NAME.finditer(head)}
        return [self._wanted[name] for name in self._wanted if name in names]


def signer_from_settings(settings: Settings) -> Signer | None:
    """The configured signer, or None when [dkim] names no key."""
    dkim_settings = settings.dkim
    if dkim_settings.private_key is None:
        return None
    path = dkim_settings.private_key
    if not path.is_absolute() and settings.source is not None:
        path = settings.source.parent / path
    try:
        key = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"dkim.private_key: cannot read {path}: {exc.strerror or exc}") from None
    domain = dkim_settings.domain or settings.instance.domain
    signer = Signer(key, dkim_settings.selector, domain)
    try:
        signer.sign(b"From: check@" + domain.encode() + b"\r\n\r\n")
    except SigningError as exc:
        raise ConfigError(f"dkim.private_key: {path} is not a usable RSA key: {exc}") from None
    return signer
