"""`mailhub resource`: the library of links and files, and attachments of approved posts
offered as resources (`candidates`, then `add --from-post`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from sqlmodel import col, select

from mailhub.cli.common import instance, make_app, out, print_json, print_table
from mailhub.cli.news import AS_JSON, ONLY_COMMUNITY, THEMES, community_slugs
from mailhub.communities import get_community
from mailhub.errors import InvalidInput
from mailhub.models import Resource
from mailhub.news import resources

resource_app = make_app("The resource library: links and files, tagged by theme and country.")


@resource_app.command("add")
def resource_add(
    ctx: typer.Context,
    community: str | None = typer.Option(
        None, "--community", "-c", help="Community slug (not with --from-post)."
    ),
    title: str = typer.Option("", help="The title (with --from-post: the file name)."),
    url: str | None = typer.Option(None, help="A web link to the resource."),
    file: Path | None = typer.Option(None, "--file", help="A file to store."),
    from_post: int | None = typer.Option(
        None, "--from-post", help="Each attachment of this approved post."
    ),
    kind: str = typer.Option("other", help=f"One of: {', '.join(resources.KINDS)}."),
    theme: list[str] = THEMES,
    country: str | None = typer.Option(None, help="ISO 3166-1 alpha-2 code, e.g. KE."),
    description: str = typer.Option("", help="What it is."),
) -> None:
    """Add a resource: a link (--url), a file (--file), or a post's attachments (--from-post)."""
    app = instance(ctx)
    sources = [s for s in (url, file, from_post) if s is not None]
    if len(sources) != 1:
        raise InvalidInput("give exactly one of --url, --file and --from-post")
    fields = resources.ResourceFields(title, kind, description, tuple(theme), country)
    with app.session() as session:
        if from_post is not None:
            made = resources.add_from_post(session, from_post, fields, app.now())
        else:
            if not community:
                raise InvalidInput("--community is needed with --url or --file")
            target = get_community(session, community)
            root = app.settings.data_dir / "attachments"
            made = [
                resources.add_link(session, target, fields, url, app.now())
                if url is not None
                else resources.add_file(session, target, fields, Path(str(file)), root, app.now())
            ]
        for resource in made:
            out.print(f"resource {resource.id} added: {resource.title}", markup=False)


def _resource_record(resource: Resource, slugs: dict[int | None, str]) -> dict[str, Any]:
    return {
        "id": resource.id,
        "community": slugs.get(resource.community_id),
        "title": resource.title,
        "kind": resource.kind,
        "url": resource.url,
        "attachment": resource.attachment_id,
        "themes": resource.themes,
        "country": resource.country,
        "created_at": resource.created_at,
    }


@resource_app.command("list")
def resource_list(
    ctx: typer.Context,
    community: str | None = ONLY_COMMUNITY,
    kind: str | None = typer.Option(None, help="Only this kind."),
    theme: str | None = typer.Option(None, help="Only resources tagged with this theme."),
    as_json: bool = AS_JSON,
) -> None:
    """List resources, newest first."""
    with instance(ctx).session() as session:
        query = select(Resource).order_by(col(Resource.id).desc())
        if community:
            query = query.where(Resource.community_id == get_community(session, community).id)
        if kind:
            query = query.where(Resource.kind == kind)
        rows = [r for r in session.exec(query) if theme is None or theme in r.themes]
        records = [_resource_record(r, community_slugs(session)) for r in rows]
    if as_json:
        print_json(records)
        return
    columns = ("id", "community", "kind", "title", "country", "url")
    print_table(columns, ([r[c] for c in columns] for r in records))


@resource_app.command("candidates")
def resource_candidates(
    ctx: typer.Context, community: str | None = ONLY_COMMUNITY, as_json: bool = AS_JSON
) -> None:
    """Attachments of approved posts not yet in the library (add with --from-post)."""
    with instance(ctx).session() as session:
        target = get_community(session, community) if community else None
        records = [
            {
                "post": post.id,
                "attachment": attachment.id,
                "filename": attachment.filename,
                "content_type": attachment.content_type,
                "size": attachment.size,
                "subject": post.subject,
                "from": post.author_email,
            }
            for attachment, post in resources.candidates(session, target)
        ]
    if as_json:
        print_json(records)
        return
    columns = ("post", "attachment", "filename", "size", "subject")
    print_table(columns, ([r[c] for c in columns] for r in records))
