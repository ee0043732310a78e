"""One digest content (a set of items, a format) made once and shared by every member who
gets exactly that set; abridged when a member's copy would pass the size Gmail clips at.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mailhub.digest import mime
from mailhub.digest.items import Item
from mailhub.digest.pieces import Pieces
from mailhub.digest.render import arrange, new_mark, render
from mailhub.outbound.leave import LEAVE, leave_lines, leave_marker

# Gmail clips a message past about 102 KB; the headers take the rest.
SIZE_LIMIT = 100_000
HEADER_ALLOWANCE = 3_000
CACHE_SIZE = 16
RFC1153 = "rfc1153"


@dataclass(frozen=True)
class Issue:
    """What every digest of one run shares: the community's words and links."""

    community: str
    tag: str
    date: str
    zone: str
    request: str
    archive: str
    override: Path | None
    unsubscribe: str = ""  # the member's unsubscribe link but its token; "" for none


@dataclass(frozen=True)
class Content:
    """A rendered digest body with holes for reply addresses."""

    pieces: Pieces
    count: int
    abridged: int

    @property
    def post_ids(self) -> frozenset[int]:
        return frozenset(self.pieces.holes) - {LEAVE}


def footer_words(issue: Issue, mark: str) -> dict[str, str]:
    """What every digest footer shows besides the items: commands, archive, and the
    member's unsubscribe link (a hole each copy fills with its token)."""
    url = issue.unsubscribe + leave_marker(mark) if issue.unsubscribe else ""
    return {
        "zone": issue.zone,
        "request": issue.request,
        "archive": issue.archive,
        "leave": leave_lines(issue.override, issue.community, url),
        "leave_url": url,
    }


def _pieces(issue: Issue, items: Sequence[Item], full: int, fmt: str) -> Pieces:
    digest = arrange(items, full, new_mark(), issue.community, issue.tag, issue.date)
    words = footer_words(issue, digest.mark)

    def draw(name: str, **extra: object) -> str:
        return render(name, issue.override, digest, **words, **extra)

    if fmt == RFC1153:
        return mime.rfc1153(digest, draw)
    return mime.alternative(digest, draw("digest.txt"), draw("digest.html"))


def build(issue: Issue, items: Sequence[Item], fmt: str) -> Content:
    """The digest of ``items``; past the size limit, the most items in full that fit, and
    subject and reply link for the rest."""
    budget = SIZE_LIMIT - HEADER_ALLOWANCE
    pieces = _pieces(issue, items, len(items), fmt)
    if pieces.size() <= budget:
        return Content(pieces, len(items), 0)
    low, high = 0, len(items) - 1
    best = _pieces(issue, items, 0, fmt)
    while low <= high:
        middle = (low + high) // 2
        trial = _pieces(issue, items, middle, fmt)
        if trial.size() <= budget:
            best, low = trial, middle + 1
        else:
            high = middle - 1
    return Content(best, len(items), len(items) - max(high, 0))


class ContentCache:
    """Recently built contents by (format, post ids): members with the same new posts share
    one; bounded, so memory does not grow with the number of distinct members."""

    def __init__(self, issue: Issue) -> None:
        self.issue = issue
        self._store: OrderedDict[tuple[str, tuple[int, ...]], Content] = OrderedDict()
        self.built = 0

    def get(self, items: Sequence[Item], fmt: str) -> Content:
        key = (RFC1153 if fmt == RFC1153 else "mime", tuple(i.post_id for i in items))
        found = self._store.get(key)
        if found is None:
            found = build(self.issue, items, key[0])
            self.built += 1
            self._store[key] = found
            if len(self._store) > CACHE_SIZE:
                self._store.popitem(last=False)
        else:
            self._store.move_to_end(key)
        return found
