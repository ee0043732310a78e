"""The monthly report mail on SQLite and PostgreSQL: `[reports] cron` fires, run_due mails
the community's moderators the month before (in the community's zone) once, however often it
runs; its text part and its HTML tables carry the seeded February's figures exactly, its
link names that month's page. Its addresses and link are acted on in test_mail_contract.py.
"""

from __future__ import annotations

import re
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from html.parser import HTMLParser

from conftest import derive
from report_seed import MODERATOR, seed_reports
from sqlmodel import select
from test_reports import BALANCE, FIRST_REPLY

from mailhub.clock import FrozenClock
from mailhub.context import Context
from mailhub.models import OutboundMessage
from mailhub.scheduler import run_due

MONTHLY = {"cron": "0 8 1 * *"}  # 08:00 on the 1st, in Africa/Nairobi for irnet
PUBLIC = {"public_url": "https://lists.example.org"}


class Tables(HTMLParser):
    """Every table row of a page as the texts of its cells (nested tables flattened)."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None
        self._depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._depth += tag == "table"
        if self._depth > 1:
            return
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        self._depth -= tag == "table"
        if self._depth == 1 and tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def reports(ctx: Context) -> list[OutboundMessage]:
    with ctx.session() as session:
        return list(session.exec(select(OutboundMessage).where(OutboundMessage.kind == "report")))


def shown(value: object) -> str:
    return "–" if value is None else str(value)


def test_the_monthly_mail_goes_once_with_every_figure(ctx: Context, clock: FrozenClock) -> None:
    seed_reports(ctx)
    assert run_due(ctx).failed == [] and reports(ctx) == []  # no cron, no mail
    scheduled = derive(ctx, reports=MONTHLY, instance=PUBLIC)
    report = run_due(scheduled)
    assert report.failed == [] and report.done == ["report of community 1: 1 queued"]
    assert run_due(scheduled).done == []  # once per month and moderator
    [mail] = reports(ctx)
    assert mail.recipient == MODERATOR
    message = BytesParser(policy=policy.default).parsebytes(mail.raw)
    assert isinstance(message, EmailMessage)
    assert message["Subject"] == "[IRNet] Participation report, February 2026"
    assert message["Auto-Submitted"] == "auto-generated"
    assert "irnet-owner@lists.example.org" in message["Reply-To"]
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "(2026-02-01 to 2026-02-28, Africa/Nairobi;" in text
    page = "https://lists.example.org/c/irnet/reports?since=2026-02-01&until=2026-02-28"
    assert page in text and page.replace("&", "&amp;") in html
    # Every row of the balance and first-reply tables, in the text's aligned columns.
    lines = {" ".join(line.split()) for line in text.splitlines()}
    for row in [*BALANCE, *FIRST_REPLY]:
        assert " ".join(shown(v) for v in row) in lines, row
    # ... and in the HTML tables, the balance rows with their bars' two figures after them.
    tables = Tables()
    tables.feed(html)
    for row in BALANCE:
        cells = [shown(v) for v in row]
        assert [*cells, f"{cells[2]} {cells[7]}"] in tables.rows, row
    for row in FIRST_REPLY:
        assert [shown(v) for v in row] in tables.rows, row
    assert ["unsubscribes", "1"] in tables.rows
    # What mail clients drop or refuse is not relied on.
    assert not re.search(r"<(script|style|svg|img|link)\b", html)
    assert len(mail.raw) < 100_000


def test_a_moderator_added_later_gets_the_month_too(ctx: Context) -> None:
    seed_reports(ctx)
    scheduled = derive(ctx, reports=MONTHLY)
    run_due(scheduled)
    from mailhub.communities import get_community
    from mailhub.members import MemberFields, add_member

    with ctx.session() as session:
        irnet = get_community(session, "irnet")
        add_member(
            session, irnet, MemberFields(email="new.mod@example.org", role="admin"), ctx.now()
        )
    run_due(scheduled)
    assert sorted(r.recipient for r in reports(ctx)) == ["new.mod@example.org", MODERATOR]
