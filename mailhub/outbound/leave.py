"""The member's own https unsubscribe link shown in the body of every list mail.

Bulk-sender rules ask for a visible unsubscribe link besides the List-Unsubscribe header.
A mail is written once with a placeholder where the member's unsubscribe token goes, and
each copy gets the same token as its header (member_tokens.unsubscribe_token), so the link
in the body and the one-click link in the header are one link. Without
instance.public_url there is no web page to leave on, and no link.

Bodies written as `Pieces` (digests, newsletters, event mail) take the token in the hole
numbered `LEAVE`; post ids start at 1, so that hole can never name a post.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from mailhub import rendering
from mailhub.config import Settings
from mailhub.outbound.headers import unsubscribe_link

log = logging.getLogger("mailhub.delivery")
LEAVE = 0


def leave_lines(override: Path | None, community: str, url: str) -> str:
    """The body's lines that show ``url``, or "" when there is no link."""
    if not url:
        return ""
    return rendering.render("delivery/leave.txt", override, community=community, url=url)


def leave_text(settings: Settings, community: str, mark: str) -> str:
    """The body's lines with the member's link, its token the placeholder ``mark``; "" without
    instance.public_url."""
    url = unsubscribe_link(settings, mark) or ""
    return leave_lines(settings.templates_override, community, url)


def leave_words(settings: Settings, community: str, mark: str) -> dict[str, str]:
    """What a template needs to show the link: ``leave`` (the text lines) and ``leave_url``
    (for HTML), both "" without instance.public_url."""
    url = unsubscribe_link(settings, mark) or ""
    return {"leave": leave_lines(settings.templates_override, community, url), "leave_url": url}


def leave_marker(mark: str) -> str:
    """The placeholder a `Pieces` body turns into its `LEAVE` hole (see ``leave_hole``)."""
    return f"{mark}{LEAVE}x"


def leave_hole(mark: str) -> re.Pattern[str]:
    """The marker pattern of a body whose only hole is the member's token: it matches
    ``leave_marker(mark)`` and nothing else, whatever members wrote."""
    return re.compile(re.escape(mark) + f"({LEAVE})x")


def mark_survived(body: bytes, mark: str, leave: str) -> bool:
    """Whether the placeholder came through the body's encoding whole: quoted-printable
    breaks lines longer than 76 characters, and a placeholder cut in two would reach
    members as it is. A body that lost it is built again without the link."""
    if not leave or mark.encode() in body:
        return True
    log.warning("unsubscribe link left out of a body: its line is too long to encode")
    return False
