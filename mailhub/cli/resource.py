"""`mailhub resource`: the library of links and files, and attachments of approved posts
taken into it (`candidates`, then `add --from-post`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from sqlmodel import Session

from mailhub.cli.common import instance, make_app, out, print_json, print_record, print_table
from mailhub.cli.news import AS_JSON, ONLY_COMMUNITY, THEMES, community_slugs
from mailhub.communities import get_community
from mailhub.errors import InvalidInput
from mailhub.library import resources
from mailhub.members import find_person
from mailhub.models import Person, Resource

resource_app = make_app(
    "The resource library: links and files, tagged by theme and country "
    "(add, list, show, remove, export, candidates)."
)


# How the library's checks begin their problems (shared with the offers answered by mail,
# which name `kind=` and `country=`), and the option each one is on the command line.
OPTION_OF = {
    "kind ": "--kind",
    "country ": "--country",
    "title: ": "--title",
    "unknown theme": "--theme",
}


@contextmanager
def options_named() -> Iterator[None]:
    """A problem with a value names the option it was typed in (`--kind: 'poem': ...`)."""
    try:
        yield
    except InvalidInput as exc:
        said = str(exc)
        for start, option in OPTION_OF.items():
            if said.startswith(start):
                rest = said if start == "unknown theme" else said.removeprefix(start)
                raise InvalidInput(f"{option}: {rest}") from None
        raise


def _origin(session: Session, address: str | None) -> resources.Origin:
    if not address:
        return resources.Origin(None, "cli")
    person = find_person(session, address.strip())
    if person is None:
        raise InvalidInput(f"--as {address}: no such person")
    return resources.Origin(person.id, "cli")


@resource_app.command("add")
def resource_add(
    ctx: typer.Context,
    community: str | None = typer.Option(
        None, "--community", "-c", help="Community slug (not with --from-post)."
    ),
    title: str = typer.Option("", help="The title (default for files: the file name)."),
    url: str | None = typer.Option(None, help="A web link to the resource."),
    file: Path | None = typer.Option(None, "--file", help="A file to copy into the library."),
    from_post: int | None = typer.Option(
        None, "--from-post", help="An approved post whose attachments become resources."
    ),
    attachment: int | None = typer.Option(
        None,
        "--attachment",
        help="With --from-post: only its attachment number K (1 is the first; see candidates).",
    ),
    kind: str = typer.Option("other", help=f"One of: {', '.join(resources.KINDS)}."),
    theme: list[str] = THEMES,
    country: str | None = typer.Option(None, help="ISO 3166-1 alpha-2 code, e.g. TH."),
    description: str = typer.Option("", help="What it is."),
    added_by: str | None = typer.Option(None, "--as", help="Record it as added by this person."),
) -> None:
    """Add a resource: a link (--url), a file (--file), or a post's attachments (--from-post);
    from a post, themes default to the post's and the country to the author's."""
    app = instance(ctx)
    sources = [s for s in (url, file, from_post) if s is not None]
    if len(sources) != 1:
        raise InvalidInput("give exactly one of --url, --file and --from-post")
    if attachment is not None and from_post is None:
        raise InvalidInput("--attachment goes with --from-post")
    fields = resources.ResourceFields(title, kind, description, tuple(theme), country)
    root = app.settings.data_dir / "attachments"
    with app.session() as session, options_named():
        origin = _origin(session, added_by)
        if from_post is not None:
            if community:
                raise InvalidInput("--community does not go with --from-post (the post's is used)")
            made = resources.add_from_post(
                session, from_post, fields, app.now(), attachment, origin
            )
        else:
            if not community:
                raise InvalidInput("--community is needed with --url or --file")
            target = get_community(session, community)
            made = [
                resources.add_link(session, target, fields, url, app.now(), origin)
                if url is not None
                else resources.add_file(
                    session, target, fields, Path(str(file)), root, app.now(), origin
                )
            ]
        lines = [f"resource {r.id} added: {r.title}" for r in made]
    for line in lines:
        out.print(line, markup=False)


def _record(resource: Resource, slugs: dict[int | None, str]) -> dict[str, Any]:
    return {
        "id": resource.id,
        "community": slugs.get(resource.community_id),
        "title": resource.title,
        "kind": resource.kind,
        "url": resource.url,
        "filename": resource.filename,
        "content_type": resource.content_type,
        "size": resource.size,
        "sha256": resource.sha256,
        "post": resource.post_id,
        "attachment": resource.attachment_id,
        "themes": resource.themes,
        "country": resource.country,
        "description": resource.description,
        "added_via": resource.added_via,
        "created_at": resource.created_at,
    }


@resource_app.command("list")
def resource_list(
    ctx: typer.Context,
    community: str | None = ONLY_COMMUNITY,
    kind: str | None = typer.Option(None, help="Only this kind."),
    theme: str | None = typer.Option(None, help="Only resources tagged with this theme."),
    country: str | None = typer.Option(None, help="Only resources about this country (ISO code)."),
    as_json: bool = AS_JSON,
) -> None:
    """List resources, newest first."""
    with instance(ctx).session() as session, options_named():
        target = get_community(session, community) if community else None
        rows = resources.find(session, target, kind, theme, country)
        slugs = community_slugs(session)
        records = [_record(r, slugs) for r in rows]
    if as_json:
        print_json(records)
        return
    columns = ("id", "community", "kind", "title", "country", "themes")
    print_table(
        (*columns, "link or file"),
        (
            [", ".join(r[c]) if c == "themes" else r[c] for c in columns]
            + [r["url"] or r["filename"]]
            for r in records
        ),
    )


@resource_app.command("show")
def resource_show(
    ctx: typer.Context,
    resource_id: int = typer.Argument(..., help="Resource id."),
    as_json: bool = AS_JSON,
) -> None:
    """Show one resource: its link or file (name, type, size, sha256), tags and origin."""
    with instance(ctx).session() as session:
        resource = resources.get_resource(session, resource_id)
        record = _record(resource, community_slugs(session))
        person = session.get(Person, resource.added_by) if resource.added_by else None
        record["added_by"] = person.email if person else None
    if as_json:
        print_json(record)
        return
    print_record(record)


@resource_app.command("remove")
def resource_remove(
    ctx: typer.Context, resource_id: int = typer.Argument(..., help="Resource id.")
) -> None:
    """Take a resource out of the library (a stored file's bytes are kept)."""
    with instance(ctx).session() as session:
        resource = resources.remove(session, resource_id)
        line = f"resource {resource_id} removed: {resource.title}"
    out.print(line, markup=False)


@resource_app.command("export")
def resource_export(
    ctx: typer.Context,
    resource_id: int = typer.Argument(..., help="Resource id (a file resource)."),
    to: str = typer.Option(
        ...,
        "--to",
        help="File to write, or a folder to write it into: an existing one, or any path "
        "ending in '/' (made if missing).",
    ),
    force: bool = typer.Option(False, "--force", help="Replace a file that exists."),
) -> None:
    """Write a file resource's bytes to a file, checked against its sha256."""
    app = instance(ctx)
    with app.session() as session:
        resource = resources.get_resource(session, resource_id)
        root = app.settings.data_dir / "attachments"
        written = resources.export(resource, root, to, overwrite=force)
    out.print(f"resource {resource_id} written to {written}", markup=False)


@resource_app.command("candidates")
def resource_candidates(
    ctx: typer.Context, community: str | None = ONLY_COMMUNITY, as_json: bool = AS_JSON
) -> None:
    """Attachments of approved posts not yet in the library (add with --from-post, and
    --attachment for one of them)."""
    with instance(ctx).session() as session:
        target = get_community(session, community) if community else None
        numbers: dict[int | None, dict[int | None, int]] = {}
        records = []
        for attachment, post in resources.candidates(session, target):
            if post.id not in numbers:
                found = resources.post_attachments(session, post)
                numbers[post.id] = {a.id: n for n, a in enumerate(found, start=1)}
            records.append(
                {
                    "post": post.id,
                    "number": numbers[post.id].get(attachment.id),
                    "attachment": attachment.id,
                    "filename": attachment.filename,
                    "content_type": attachment.content_type,
                    "size": attachment.size,
                    "subject": post.subject,
                    "from": post.author_email,
                }
            )
    if as_json:
        print_json(records)
        return
    columns = ("post", "number", "filename", "size", "subject")
    print_table(columns, ([r[c] for c in columns] for r in records))
