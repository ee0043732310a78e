"""Downloads: a post's attachment, a library file, an event's `.ics`, and for a
community's moderators the files of a post that waits in their queue.

Files are read from data_dir/attachments by their sha256 and their bytes are checked
against it before they are served: a file changed or damaged on disk is not handed out as
if it were what the member sent. Every file is served as a download (Content-Disposition:
attachment), and types a browser would run as a page are served as plain bytes, so a
member's HTML attachment can never act as a page of the portal.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from urllib.parse import quote

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import Response

from mailhub.events.icsfile import calendar_for
from mailhub.inbound.attachments import attachment_path
from mailhub.models import Event, Resource
from mailhub.moderation.queue import held_attachment
from mailhub.portal import library, queries
from mailhub.portal.access import Viewer, readable_community
from mailhub.portal.moderate import moderated
from mailhub.portal.web import Portal

log = logging.getLogger("mailhub.portal")
SAFE_TYPES = ("application/pdf", "image/png", "image/jpeg", "image/gif", "text/plain")


def checked_bytes(root: Path, sha256: str) -> bytes | None:
    """The stored bytes, when they are there and match their sha256."""
    path = attachment_path(root, sha256)
    try:
        data = path.read_bytes()
    except OSError:
        log.warning("file %s is missing at %s", sha256, path)
        return None
    if hashlib.sha256(data).hexdigest() != sha256:
        log.error("file %s does not match its sha256; not served", path)
        return None
    return data


def disposition(filename: str) -> str:
    """``attachment`` with an ASCII fallback name and the real one (RFC 6266)."""
    plain = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename
    )
    return f"attachment; filename=\"{plain or 'file'}\"; filename*=UTF-8''{quote(filename)}"


def download(data: bytes, filename: str, content_type: str | None) -> Response:
    kind = (content_type or "").lower()
    media = kind if kind in SAFE_TYPES or kind.startswith("application/vnd.") else None
    return Response(
        data,
        media_type=media or "application/octet-stream",
        headers={"content-disposition": disposition(filename)},
    )


class FileRoutes(Portal):
    """Routes of attachments, library files and calendar files."""

    @property
    def root(self) -> Path:
        return self.ctx.settings.data_dir / "attachments"

    def _attachment(
        self, session: Session, viewer: Viewer, slug: str, item: int
    ) -> Response | None:
        community = readable_community(session, viewer, slug)
        found = queries.attachment_in(session, community, item) if community else None
        data = checked_bytes(self.root, found.sha256) if found else None
        if found is None or data is None:
            return None
        return download(data, found.filename, found.content_type)

    def _held_attachment(
        self, session: Session, viewer: Viewer, slug: str, item: int
    ) -> Response | None:
        """A held post's file, for the moderators who decide on it (anyone else: 404)."""
        community = moderated(session, viewer, slug)
        found = held_attachment(session, community, item) if community else None
        data = checked_bytes(self.root, found.sha256) if found else None
        if found is None or data is None:
            return None
        return download(data, found.filename, found.content_type)

    def _resource_file(
        self, session: Session, viewer: Viewer, slug: str, item: int
    ) -> Response | None:
        community = readable_community(session, viewer, slug)
        found = library.one(session, Resource, item, [community.id or 0]) if community else None
        if found is None or not found.sha256:
            return None
        data = checked_bytes(self.root, found.sha256)
        if data is None:
            return None
        return download(data, found.filename or "file", found.content_type)

    def _ics(self, session: Session, viewer: Viewer, slug: str, item: int) -> Response | None:
        community = readable_community(session, viewer, slug)
        found = library.one(session, Event, item, [community.id or 0]) if community else None
        if found is None:
            return None
        return Response(
            calendar_for(found),
            media_type="text/calendar; charset=utf-8",
            headers={"content-disposition": disposition(f"event-{found.id}.ics")},
        )

    async def attachment(self, request: Request) -> Response:
        params = request.path_params
        return await self.respond(request, self._attachment, params["slug"], params["item"])

    async def held_attachment(self, request: Request) -> Response:
        params = request.path_params
        return await self.respond(request, self._held_attachment, params["slug"], params["item"])

    async def resource_file(self, request: Request) -> Response:
        params = request.path_params
        return await self.respond(request, self._resource_file, params["slug"], params["item"])

    async def ics(self, request: Request) -> Response:
        params = request.path_params
        return await self.respond(request, self._ics, params["slug"], params["item"])
