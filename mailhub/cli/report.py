"""`mailhub report`: participation, discussions, resources and reach of a community (or of
each), over a period, as tables, JSON or CSV."""

from __future__ import annotations

import typer

from mailhub.cli.common import instance, make_app, out, print_json, print_table, to_terminal
from mailhub.communities import get_community, list_communities
from mailhub.reports import figures, output, periods

report_app = make_app("Participation reports: who takes part, what goes unanswered, what reaches.")

COMMUNITY_HELP = "A community's slug, or 'all' for a report of each."
SINCE_HELP = "First day of the period (YYYY-MM-DD, UTC; default: a year before --until)."
UNTIL_HELP = "Last day of the period, included (YYYY-MM-DD, UTC; default: today)."
SHAREABLE_HELP = (
    "Show '< 3' for every count that fewer than 3 people make up: for anything shown "
    "beyond the community's moderators."
)


def _report(
    ctx: typer.Context,
    kind: str,
    community: str,
    since: str | None,
    until: str | None,
    as_json: bool,
    as_csv: bool,
    shareable: bool,
) -> None:
    app = instance(ctx)
    period = periods.from_days(since, until, app.now())
    with app.session() as session:
        chosen = (
            list_communities(session) if community == "all" else [get_community(session, community)]
        )
        core = app.settings.reports.core_posts
        reports = [figures.build(session, c, kind, period, core) for c in chosen]
    if shareable:
        reports = [r.masked() for r in reports]
    if as_json:
        print_json([r.as_json() for r in reports])
        return
    if as_csv:
        typer.echo(output.as_csv(reports), nl=False)
        return
    for report in reports:
        out.print(output.heading(report), markup=False)
        for section in report.sections:
            if to_terminal():
                out.print("")
            print_table(section.columns, section.rows, title=section.title)


def _command(kind: str, help_text: str) -> None:
    def command(
        ctx: typer.Context,
        community: str = typer.Option("all", "--community", "-c", help=COMMUNITY_HELP),
        since: str | None = typer.Option(None, "--since", help=SINCE_HELP),
        until: str | None = typer.Option(None, "--until", help=UNTIL_HELP),
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
        as_csv: bool = typer.Option(False, "--csv", help="Print CSV, one block per section."),
        shareable: bool = typer.Option(False, "--shareable", help=SHAREABLE_HELP),
    ) -> None:
        _report(ctx, kind, community, since, until, as_json, as_csv, shareable)

    command.__doc__ = help_text
    report_app.command(kind)(command)


_command(
    "participation",
    "Members by affiliation and country against the target mix, growth, posts by "
    "constituency (balance index), core/active/peripheral members, first replies by theme.",
)
_command(
    "discussions",
    "Each discussion's contributions by affiliation and country, and days from closing to "
    "the synopsis.",
)
_command(
    "resources",
    "Resources and news contributed by constituency and country; themes by country.",
)
_command("reach", "Digests, newsletters and event digests delivered; bounces; unsubscribes.")
