"""Rendered pages kept for readers who all see the same thing: visitors without a session.

A page is kept under its path (with the query) and the store's change count (PortalMark,
bumped by triggers in the same transaction as any change the portal shows, whoever makes
it). Every request reads the count first, so a page approved, edited or removed a moment
ago is rendered afresh, never served stale; the count is read before the page is built,
so what is built is never older than the count it is kept under.

Each page carries an ETag of its count and bytes: a browser that sends it back gets 304.
Signed-in readers are never served from here (their pages carry their own form tokens).
"""

from __future__ import annotations

import hashlib
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import Engine
from starlette.requests import Request
from starlette.responses import Response

# Browsers may keep a page but must ask whether it is still current before showing it.
REVALIDATE = "no-cache"
MAX_BODY = 512 * 1024
BUDGET = 64 * 1024 * 1024
MARK = text("SELECT changes FROM portal_mark WHERE id = 1")


@dataclass(frozen=True)
class Kept:
    mark: int
    status: int
    media_type: str
    body: bytes
    etag: str


class PageCache:
    """At most ``budget`` bytes of pages, least recently used dropped first; safe across
    threads."""

    def __init__(self, engine: Engine, budget: int = BUDGET) -> None:
        self.engine = engine
        self.budget = budget
        self._pages: OrderedDict[str, Kept] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def mark(self) -> int:
        """The store's change count now (0 for a store without the table)."""
        with self.engine.connect() as connection:
            return int(connection.execute(MARK).scalar() or 0)

    def get(self, key: str, mark: int) -> Kept | None:
        with self._lock:
            kept = self._pages.get(key)
            if kept is None or kept.mark != mark:
                return None
            self._pages.move_to_end(key)
            return kept

    def put(self, key: str, mark: int, response: Response) -> Kept | None:
        """Keep a built page (not files, redirects or not-found answers, which anyone can
        ask for by the million)."""
        body = bytes(response.body)
        media = response.headers.get("content-type", "")
        if response.status_code != 200 or not media.startswith("text/html"):
            return None
        if len(body) > MAX_BODY:
            return None
        tag = hashlib.blake2b(body, digest_size=8).hexdigest()
        kept = Kept(mark, response.status_code, media, body, f'"{mark}-{tag}"')
        with self._lock:
            old = self._pages.pop(key, None)
            self._bytes += len(body) - (len(old.body) if old else 0)
            self._pages[key] = kept
            while self._bytes > self.budget:
                _, dropped = self._pages.popitem(last=False)
                self._bytes -= len(dropped.body)
        return kept


_CACHES: weakref.WeakKeyDictionary[Engine, PageCache] = weakref.WeakKeyDictionary()
_CACHES_LOCK = threading.Lock()


def cache_for(engine: Engine) -> PageCache:
    """The one cache of a store, shared by every portal route of the process."""
    with _CACHES_LOCK:
        found = _CACHES.get(engine)
        if found is None:
            found = _CACHES[engine] = PageCache(engine)
        return found


def key_of(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def answer(request: Request, kept: Kept) -> Response:
    """The kept page, or 304 when the browser holds it already."""
    # Vary: a shared cache on the way must not hand a visitor's page to a signed-in reader.
    headers = {"etag": kept.etag, "cache-control": REVALIDATE, "vary": "cookie"}
    if kept.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(kept.body, kept.status, {**headers, "content-type": kept.media_type})
