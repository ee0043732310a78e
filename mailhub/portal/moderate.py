"""The moderators' queue on the web: a community's held posts and held news and event
submissions, each with every reason it was held for and every deferral, and the four
decisions a moderator gives by mail (approve, with themes for the conversation if they
like; reject with a reason; discard; defer).

Only the community's moderators and admins see it; anyone else gets the portal's 404.
A decision is a POST carrying the session's CSRF token and goes through the one function
the mail decision uses (moderation.actions.decide), recorded with via="web" and the
moderator's person id. It runs in a transaction of its own whose first act is to take
the post (actions.claim_held), so a double submit, or a decision by mail at the same
moment, decides once; the second is told who decided first.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from mailhub.errors import InvalidInput
from mailhub.models import (
    Attachment,
    Community,
    Decision,
    Event,
    NewsItem,
    Person,
    Post,
)
from mailhub.moderation import actions
from mailhub.moderation.queue import QueueItem, held_posts, queue_items
from mailhub.portal import library, sessions
from mailhub.portal.access import Viewer
from mailhub.portal.csrf import Fields, checked_fields
from mailhub.portal.web import Page, Portal

ACTIONS = ("approve", "reject", "discard", "defer")
MAX_REASON = 500


@dataclass(frozen=True)
class Held:
    """One queue entry as the page shows it."""

    item: QueueItem
    history: list[tuple[Decision, str]]  # holds and deferrals, with who gave them
    attachments: list[Attachment]
    submission: NewsItem | Event | None


def moderated(session: Session, viewer: Viewer, slug: str) -> Community | None:
    """The community of a URL when this viewer moderates it; None (404) otherwise."""
    community = session.exec(select(Community).where(Community.slug == slug)).first()
    if community is None or not viewer.can_moderate(community):
        return None
    return community


def held_entries(session: Session, community: Community, now: datetime) -> list[Held]:
    items = queue_items(session, held_posts(session, community), now)
    ids = [i.post.id for i in items]
    decisions = session.exec(
        select(Decision, Person)
        .outerjoin(Person, col(Person.id) == col(Decision.person_id))
        .where(col(Decision.post_id).in_(ids))
        .order_by(col(Decision.id))
    ).all()
    files = session.exec(select(Attachment).where(col(Attachment.post_id).in_(ids))).all()
    news = session.exec(select(NewsItem).where(col(NewsItem.post_id).in_(ids))).all()
    events = session.exec(select(Event).where(col(Event.post_id).in_(ids))).all()
    submissions: dict[int | None, NewsItem | Event] = {i.post_id: i for i in news}
    submissions.update({i.post_id: i for i in events})
    history: dict[int | None, list[tuple[Decision, str]]] = defaultdict(list)
    for decision, person in decisions:
        history[decision.post_id].append((decision, actions.person_label(person, decision.via)))
    attached: dict[int | None, list[Attachment]] = defaultdict(list)
    for file in files:
        attached[file.post_id].append(file)
    return [
        Held(
            item,
            history[item.post.id],
            attached[item.post.id],
            submissions.get(item.post.id),
        )
        for item in items
    ]


class ModerationPages(Portal):
    """Routes of the moderators' queue."""

    def _queue(
        self,
        session: Session,
        viewer: Viewer,
        slug: str,
        item: int | None,
        already: bool,
        problem: str = "",
    ) -> Page | None:
        community = moderated(session, viewer, slug)
        if community is None:
            return None
        decided = session.get(Post, item) if item else None
        if decided is not None and decided.community_id != community.id:
            decided = None
        values = {
            "community": community,
            "entries": held_entries(session, community, self.ctx.now()),
            "decided": decided,
            "decided_by": actions.decider_label(session, decided) if decided else "",
            "already": already,
            "problem": problem,
            "themes": library.themes(session),
        }
        status = 400 if problem else 409 if already and decided else 200
        return Page("queue", values, status)

    def _decide(self, request: Request, slug: str, item: int, posted: Fields) -> Response:
        token = request.cookies.get(sessions.COOKIE)
        with self.ctx.session() as session:
            viewer = self.viewer(session, token)
            community = moderated(session, viewer, slug)
            post = session.get(Post, item) if community else None
            if post is None or community is None or post.community_id != community.id:
                return self.not_found(viewer, token, request)
            person_id = viewer.person.id if viewer.person else None
        fields = dict(posted)
        themes = [value for name, value in posted if name == "themes"]
        action = fields.get("action", "")
        if action not in ACTIONS:
            problem = f"No decision was read (expected one of {', '.join(ACTIONS)})."
            return self._run(request, self._queue, (slug, None, False, problem))
        reason = " ".join(fields.get("reason", "").split())[:MAX_REASON] or None
        # The decision's own transaction: its first statement takes the post.
        with self.ctx.session() as session:
            post, by = session.get(Post, item), session.get(Person, person_id)
            assert post is not None and by is not None
            try:
                actions.decide(
                    self.ctx,
                    session,
                    post,
                    action,
                    by=by,
                    via="web",
                    reason=reason if action == "reject" else None,
                    themes=themes,
                )
            except actions.AlreadyDecided:
                session.rollback()
                already = True
            except InvalidInput as exc:
                session.rollback()
                return self._run(request, self._queue, (slug, None, False, str(exc)))
            else:
                already = False
        if already:
            return self._run(request, self._queue, (slug, item, True))
        return RedirectResponse(f"/c/{slug}/queue?item={item}#result", status_code=303)

    # Routes

    async def queue(self, request: Request) -> Response:
        given = request.query_params.get("item", "")
        item = int(given) if given.isascii() and given.isdigit() and len(given) < 12 else None
        return await self.respond(request, self._queue, request.path_params["slug"], item, False)

    async def decide(self, request: Request) -> Response:
        fields = await checked_fields(request, self.ctx.secret)
        if fields is None:
            return await self.refuse(request)
        params = request.path_params
        args = (request, params["slug"], params["item"], fields)
        return await run_in_threadpool(self._decide, *args)
