"""Web addresses that people give (a news item's link, an event's page, a resource): checked
when they are stored, and shown as links only when they are absolute http(s) addresses."""

from __future__ import annotations

import re


def check_url(value: str, label: str = "Link") -> str:
    """The address, trimmed of <>; ValueError naming ``label`` when it is not http(s)."""
    url = value.strip().strip("<>")
    if not re.match(r"^https?://\S+$", url):
        raise ValueError(f"{label}: {value!r} is not a web address (http:// or https://)")
    return url


def web_link(url: str | None) -> str:
    """Only absolute http(s) addresses become links; anything else is left out."""
    url = (url or "").strip()
    if url.lower().startswith(("http://", "https://")) and not any(c.isspace() for c in url):
        return url
    return ""
