"""The check every POST form of a signed-in reader passes: the form carries the token of
the session it was served to (sessions.csrf_token), so a page on another site cannot post
it in the reader's name. SameSite=Lax alone is not relied on: it lets through top-level
POSTs from some browsers and any request from a sibling subdomain."""

from __future__ import annotations

from starlette.requests import Request

from mailhub.portal import sessions
from mailhub.portal.account import fields_of

MAX_FIELDS = 100
Fields = list[tuple[str, str]]  # in the posted order; a ticked box's name once per box


async def checked_fields(request: Request, secret: str) -> Fields | None:
    """The posted fields in order, or None when the form's token is not this session's."""
    fields = await fields_of(request, MAX_FIELDS)
    given = next((value for name, value in fields if name == "csrf"), None)
    token = request.cookies.get(sessions.COOKIE)
    return fields if sessions.csrf_ok(secret, token, given) else None
