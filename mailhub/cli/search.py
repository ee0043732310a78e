"""`mailhub search`: rebuild the index, and search everything as an admin."""

from __future__ import annotations

import typer

from mailhub.cli.common import err, instance, make_app, out, print_json, print_table

search_app = make_app(
    "The search index over posts, discussions, synopses, news, events and resources "
    "(reindex, query)."
)


@search_app.command("reindex")
def search_reindex(
    ctx: typer.Context,
    community: str | None = typer.Option(
        None, "--community", "-c", help="Only this community (default: every one)."
    ),
) -> None:
    """Rebuild the search index from the store (every item, files read again), with a
    progress bar; search keeps answering from what is indexed meanwhile."""
    from rich.progress import Progress

    from mailhub.communities import get_community
    from mailhub.search import index

    app = instance(ctx)
    community_id = None
    if community:
        with app.session() as session:
            community_id = get_community(session, community).id
    total = index.total(app, community_id)
    with Progress(console=err, transient=True, redirect_stdout=False, redirect_stderr=False) as bar:
        task = bar.add_task("indexing", total=total)
        written = index.reindex(app, community_id, lambda n: bar.advance(task, n))
    out.print(f"{written} document(s) indexed from {total} item(s)", markup=False)


@search_app.command("query")
def search_query(
    ctx: typer.Context,
    text: str = typer.Argument(..., help="The query, e.g. '\"minimum wage\" country:TH -youth'."),
    page: int = typer.Option(1, min=1, help="Which page of results."),
    as_json: bool = typer.Option(False, "--json", help="Every field, as JSON."),
) -> None:
    """Search every community (admins see all; from: may name an address); the query
    language is in README's "Search" section."""
    from sqlmodel import select

    from mailhub.models import Community
    from mailhub.search.query import parse
    from mailhub.search.results import search

    app = instance(ctx)
    query = parse(text, addresses=True)
    with app.session() as session:
        everything = list(session.exec(select(Community)).all())
        results = search(
            session, query, everything, page=page, per_page=app.settings.search.results_per_page
        )
    rows = [
        {
            "kind": hit.kind,
            "community": hit.community.slug,
            "date": hit.occurred_at.date().isoformat(),
            "title": hit.title,
            "path": hit.path,
            "snippet": hit.snippet_text,
            "score": round(hit.score, 4),
        }
        for hit in results.hits
    ]
    if as_json:
        print_json({"results": rows, "more": results.more})
        return
    columns = ["kind", "community", "date", "title", "path", "snippet"]
    print_table(columns, [[row[c] for c in columns] for row in rows])
