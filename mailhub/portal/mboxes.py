"""Routes of mbox downloads: a conversation (``/c/irnet/t/31.mbox``) and a month
(``/c/irnet/2027/03.mbox``), for whoever may read the community.

The file is the archive's view of each post (exports/postmail.py): the portal shows no
email address, so neither does its mbox. It is streamed as it is read.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from mailhub.exports.archive import MboxWriter, Selection, post_ids
from mailhub.portal import queries
from mailhub.portal.access import Viewer, readable_community
from mailhub.portal.files import checked_bytes, disposition
from mailhub.portal.web import Portal

MEDIA_TYPE = "application/mbox"


class MboxRoutes(Portal):
    """Routes of a conversation's and a month's mbox."""

    keep_for_visitors = False

    def _mbox(
        self,
        session: Session,
        viewer: Viewer,
        slug: str,
        name: str,
        thread_id: int | None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Response | None:
        community = readable_community(session, viewer, slug)
        if community is None or community.id is None:
            return None
        if thread_id is not None and not queries.get_thread(session, community, thread_id):
            return None
        ids = post_ids(session, Selection(community.id, thread_id, since, until))
        if not ids:
            return None
        read = partial(checked_bytes, self.ctx.settings.data_dir / "attachments")
        writer = MboxWriter(self.ctx, community, read, as_received=False)
        return StreamingResponse(
            writer.chunks(ids),
            media_type=MEDIA_TYPE,
            headers={"content-disposition": disposition(f"{slug}-{name}.mbox")},
        )

    async def thread(self, request: Request) -> Response:
        params = request.path_params
        thread_id = params["thread_id"]
        name = f"conversation-{thread_id}"
        return await self.respond(request, self._mbox, params["slug"], name, thread_id)

    async def month(self, request: Request) -> Response:
        params = request.path_params
        year, month = params["year"], params["month"]
        if not (1 <= month <= 12 and 1990 <= year <= 9999):
            return await self.respond(request, lambda *_: None)
        since, until = queries.month_bounds(year, month)
        name = f"{year:04d}-{month:02d}"
        return await self.respond(request, self._mbox, params["slug"], name, None, since, until)
