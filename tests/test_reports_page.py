"""The moderators' report page, /c/<slug>/reports, on SQLite and PostgreSQL: who may see it
(its moderators and admins; everyone else gets the portal's 404, the same page as for what
does not exist), its figures over the seeded February, and bad input. The page in a real
Chromium (photographed, axe-checked) is in test_reports_browser.py."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import pytest
from portal_client import Client, sign_in
from report_seed import MODERATOR, seed_reports
from test_web import running_web

from mailhub.communities import create_community
from mailhub.context import Context
from mailhub.members import MemberFields, add_member

PAGE = "/c/irnet/reports?since=2026-02-01&until=2026-02-28"
OTHER_MODERATOR = "other.mod@example.org"


@pytest.fixture
def site(ctx: Context) -> Iterator[tuple[Context, str]]:
    seed_reports(ctx)
    with ctx.session() as session:
        other = create_community(session, slug="yen", name="YEN", now=ctx.now())
        add_member(session, other, MemberFields(email=OTHER_MODERATOR, role="moderator"), ctx.now())
    with running_web(ctx) as web_ctx:
        yield web_ctx, web_ctx.settings.instance.public_url or ""


def cells(*values: object) -> str:
    """A table row's cells after its first, as the page writes them."""
    return "".join(f'<td class="num">{v}</td>' for v in values)


def test_only_the_communitys_moderators_and_admins_see_it(site: tuple[Context, str]) -> None:
    ctx, base = site
    anonymous = Client(base)
    not_found = anonymous.get("/c/irnet/t/999999")[2]
    for who, client in {
        "anonymous": anonymous,
        "member": sign_in(ctx, base, "g1@example.org"),
        "moderator of another community": sign_in(ctx, base, OTHER_MODERATOR),
    }.items():
        status, _, page = client.get(PAGE)
        assert status == 404, who
        if who == "anonymous":
            # The same not-found page, its sign-in link coming back with the query.
            assert page == not_found.replace("/c/irnet/t/999999", quote(PAGE, safe="/"))
    moderator = sign_in(ctx, base, MODERATOR)
    status, _, page = moderator.get(PAGE)
    assert status == 200
    # The balance row of government: 3 members, 37.5 %, 7 posts (2 new, 5 replies) by
    # 2 authors, 53.8 % of posts, index 1.44; and the median first reply of all themes.
    assert '<th scope="row">government</th>' + cells(3, 37.5, 7, 2, 5, 2, 53.8, 1.44) in page
    assert '<th scope="row">(all)</th>' + cells(5, 3, 2, 6.0) in page
    assert '<th scope="row">unsubscribes</th>' + cells(1) in page
    assert page.count("<svg") == 3 and "<script" not in page
    # The community page shows moderators the way here.
    assert 'href="/c/irnet/reports"' in moderator.get("/c/irnet/")[2]
    assert 'href="/c/irnet/reports"' not in sign_in(ctx, base, "g2@example.org").get("/c/irnet/")[2]


def test_a_bad_day_is_answered_on_the_page(site: tuple[Context, str]) -> None:
    ctx, base = site
    moderator = sign_in(ctx, base, MODERATOR)
    status, _, page = moderator.get("/c/irnet/reports?since=2026-02-30")
    assert status == 400
    assert "--since: &#39;2026-02-30&#39; is not a day such as 2027-03-31" in page
