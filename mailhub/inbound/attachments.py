"""Attachment files, stored once per content under the data folder by their sha256."""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path

from mailhub.config import InboundSettings


def attachment_path(root: Path, sha256: str) -> Path:
    return root / sha256[:2] / sha256


def save(root: Path, sha256: str, data: bytes) -> Path:
    """Write the bytes unless this content is already stored; safe to repeat after a crash."""
    path = attachment_path(root, sha256)
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{sha256}.{os.getpid()}.tmp")
    temp.write_bytes(data)
    os.replace(temp, path)
    return path


def refusal(
    settings: InboundSettings, filename: str | None, content_type: str, size: int
) -> str | None:
    """Why an attachment may not pass without a moderator's look, or None when it may."""
    name = filename or "(unnamed)"
    if size > settings.max_attachment_bytes:
        return f"attachment {name} is {size:,} bytes (limit {settings.max_attachment_bytes:,})"
    kind = content_type.lower()
    if not any(fnmatch.fnmatch(kind, allowed) for allowed in settings.allowed_attachment_types):
        return f"attachment {name} has a type not allowed here ({kind})"
    return None
