"""DKIM body hashes (relaxed canonicalisation, SHA-256) computed once per body, not once
per copy.

A fan-out's copies share their body, or differ only near its end (a member's own
unsubscribe link in the footer): canonicalising and hashing it ten thousand times is most
of the work that is not the signature itself, and grows with the attachments. The hasher
keeps the hashes of the last few bodies, and the SHA-256 state after the longest run of
whole lines that the last two bodies shared: a copy that starts with that run hashes only
what follows it. Relaxed body canonicalisation works line by line (RFC 6376, 3.4.4), so the
hash of a shared run of whole lines followed by the rest is the hash of the whole; only the
removal of empty lines at the very end looks further, and a rest that is nothing but
empty lines is hashed from the start. tests/test_signing.py checks every hash against
dkimpy's verification.
"""

from __future__ import annotations

import base64
import hashlib
import re
import threading
from typing import Any

CRLF = b"\r\n"
_TRAILING_WSP = re.compile(rb"[\t ]+\r\n")
_WSP_RUN = re.compile(rb"[\t ]+")
_END_BLANK_LINES = re.compile(rb"(\r\n)+\Z")
# A shared run shorter than this is not worth remembering.
MIN_PREFIX = 512
KEEP_BODIES = 16


def relaxed_lines(body: bytes) -> bytes:
    """RFC 6376 relaxed rules that work line by line: no white space at the end of a line,
    every other run of white space one space."""
    return _WSP_RUN.sub(b" ", _TRAILING_WSP.sub(CRLF, body))


def relaxed_body(body: bytes) -> bytes:
    """The whole relaxed canonical body: also no empty lines at the end, and a non-empty
    body ends with CRLF."""
    canonical = _END_BLANK_LINES.sub(b"", relaxed_lines(body))
    if canonical and not canonical.endswith(CRLF):
        canonical += CRLF
    return canonical


def body_hash(body: bytes) -> bytes:
    """bh= of ``body``, computed from scratch."""
    return base64.b64encode(hashlib.sha256(relaxed_body(body)).digest())


def common_line_prefix(a: bytes, b: bytes) -> int:
    """The length of the longest run of whole lines (ending with CRLF) both start with."""
    low, high = 0, min(len(a), len(b))
    # Binary search on equal slices: log n comparisons, each done by memcmp.
    while low < high:
        middle = (low + high + 1) // 2
        if a[:middle] == b[:middle]:
            low = middle
        else:
            high = middle - 1
    return a.rfind(CRLF, 0, low) + 2 if low else 0


class BodyHasher:
    """bh= values for a stream of bodies, reusing what earlier bodies had in common."""

    def __init__(self) -> None:
        self._known: dict[bytes, bytes] = {}
        # The shared run of lines and the SHA-256 state after it, replaced as one.
        self._shared: tuple[bytes, Any] = (b"", None)
        self._last = b""
        self._lock = threading.Lock()
        self.full_hashes = 0  # bodies canonicalised from the start (tests read this)

    def hash(self, body: bytes) -> bytes:
        known = self._known.get(body)
        if known is not None:
            return known
        prefix, state = self._shared
        digest = None
        if state is not None and body.startswith(prefix):
            rest = relaxed_body(body[len(prefix) :])
            if rest:
                running = state.copy()
                running.update(rest)
                digest = base64.b64encode(running.digest())
        if digest is None:
            digest = body_hash(body)
            self.full_hashes += 1
            self._learn(body)
        with self._lock:
            if len(self._known) >= KEEP_BODIES:
                self._known.clear()
            self._known[body] = digest
        return digest

    def _learn(self, body: bytes) -> None:
        """Remember the run of lines this body shares with the previous one."""
        with self._lock:
            last, self._last = self._last, body
        shared = common_line_prefix(body, last) if last else 0
        if shared < MIN_PREFIX:
            return
        prefix = body[:shared]
        self._shared = (prefix, hashlib.sha256(relaxed_lines(prefix)))
