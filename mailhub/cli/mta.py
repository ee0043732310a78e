"""`mailhub mta`: put mailhub behind Postfix (the maps and main.cf lines) and check it."""

from __future__ import annotations

from pathlib import Path

import typer

from mailhub.cli.common import err, instance, make_app, out

mta_app = make_app("The MTA in front of mailhub: Postfix maps and main.cf lines, and a check.")


@mta_app.command("postfix")
def postfix(
    ctx: typer.Context,
    folder: Path | None = typer.Option(
        None, "--dir", help="Where to write the maps (default: [mta] postfix_dir or data/postfix)."
    ),
) -> None:
    """Write the maps Postfix needs (transport, relay domains, relay recipients), index
    them with postmap, and print the main.cf lines that use them."""
    from mailhub.mta import postfix as maps

    app = instance(ctx)
    with app.session() as session:
        book = app.address_book(session)
    written = maps.write(app.settings, book, folder.resolve() if folder else None)
    changed = ", ".join(written.changed) or "none (already up to date)"
    out.print(f"# maps in {written.folder}; changed: {changed}", markup=False)
    if written.postmap_ran:
        out.print("# indexed with postmap", markup=False)
    else:
        out.print("# postmap is not installed here; on the Postfix host run:", markup=False)
        for command in written.postmap:
            out.print(f"#   {command}", markup=False)
    out.print("# main.cf (where a parameter is set already, add these tables to it):")
    for line in maps.main_cf_lines(written.folder, written.map_type):
        out.print(line, markup=False)
    out.print("# then: postfix reload", markup=False)
    for problem in written.problems:
        err.print(f"error: {problem}", markup=False)
    if written.problems:
        raise typer.Exit(1)


@mta_app.command("check")
def check(
    ctx: typer.Context,
    config_dir: Path | None = typer.Option(
        None,
        "--postfix-config",
        help="Postfix's configuration folder (default: [mta] postfix_config, else Postfix's own).",
    ),
    folder: Path | None = typer.Option(
        None, "--dir", help="Where the maps are (default: [mta] postfix_dir or data/postfix)."
    ),
) -> None:
    """Read the running Postfix's settings (postconf) and say what it lacks, one line each;
    exit 1 when anything is missing."""
    from mailhub.mta import postconf
    from mailhub.mta.postfix import database_type

    app = instance(ctx)
    settings = app.settings
    config_dir = config_dir or settings.mta.postfix_config
    with app.session() as session:
        book = app.address_book(session)
    values = postconf.read_postconf(config_dir)
    findings = postconf.check(
        settings,
        book,
        values,
        postconf.postmap_query(config_dir),
        (folder or settings.postfix_maps).resolve(),
        database_type(config_dir),
    )
    for finding in findings:
        out.print(str(finding), markup=False)
    if not all(finding.ok for finding in findings):
        raise typer.Exit(1)
