"""The moderators' report page (/c/<slug>/reports): the four participation reports of a
period with their charts. Only the community's moderators and admins see it; anyone else
gets the portal's 404, whatever the community's archive setting (like the queue, it is
moderators' work, not the archive). Figures are exact here: the page never reaches beyond
moderators; `mailhub report --shareable` is the form for anything that does."""

from __future__ import annotations

from sqlmodel import Session, select
from starlette.requests import Request
from starlette.responses import Response

from mailhub.errors import InvalidInput
from mailhub.models import Community
from mailhub.portal.access import Viewer
from mailhub.portal.web import Page, Portal
from mailhub.reports import charts, figures, periods


class ReportPages(Portal):
    """The route of the moderators' report page."""

    def _reports(
        self, session: Session, viewer: Viewer, slug: str, since: str, until: str
    ) -> Page | None:
        community = session.exec(select(Community).where(Community.slug == slug)).first()
        if community is None or not viewer.can_moderate(community):
            return None
        values: dict[str, object] = {
            "community": community,
            "since": since,
            "until": until,
            "error": None,
            "period": None,
            "charts": {},
        }
        try:
            period = periods.from_days(since or None, until or None, self.ctx.now())
        except InvalidInput as exc:
            return Page("reports", {**values, "error": str(exc), "reports": []}, status=400)
        core = self.ctx.settings.reports.core_posts
        built = [figures.build(session, community, k, period, core) for k in figures.REPORTS]
        values |= {
            "reports": built,
            "charts": charts.participation_charts(built[0]),
            "period": period,
        }
        return Page("reports", values)

    async def reports(self, request: Request) -> Response:
        query = request.query_params
        return await self.respond(
            request,
            self._reports,
            request.path_params["slug"],
            query.get("since", "")[:20],
            query.get("until", "")[:20],
        )
