"""`mailhub export mbox`: a community's archive as an mboxrd file, for admins.

Posts that came by mail are written as they were received (their original bytes, every
address in them); posts imported from an old archive are rebuilt from the store. The file
re-imports with `mailhub import mbox` (same Message-IDs, same threads).
"""

from __future__ import annotations

import re
import sys
from functools import partial
from pathlib import Path
from typing import BinaryIO

import typer
from rich.progress import Progress

from mailhub.cli.common import err, instance, make_app, out
from mailhub.communities import get_community
from mailhub.destinations import file_or_folder
from mailhub.errors import Conflict, InvalidInput
from mailhub.exports.archive import BATCH, MboxWriter, Selection, post_ids
from mailhub.portal.files import checked_bytes
from mailhub.portal.queries import month_bounds

export_app = make_app("Export a community's archive as an mbox file, as it was received.")
_MONTH = re.compile(r"(\d{4})-(\d{2})")


def _month(value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    found = _MONTH.fullmatch(value.strip())
    if not found or not 1 <= int(found.group(2)) <= 12:
        raise InvalidInput(f"--month: {value!r} is not a month like 2026-11")
    return int(found.group(1)), int(found.group(2))


def _new_file(path: Path) -> BinaryIO:
    """The file opened for writing, never over an existing one; a folder that is missing
    or not writable is the admin's to fix, said in one line."""
    try:
        return path.open("xb")
    except FileExistsError:
        raise Conflict(f"{path} already exists; remove it or name another file with --to") from None
    except OSError as exc:
        raise InvalidInput(f"--to: cannot write {path} ({exc.strerror})") from None


@export_app.command("mbox")
def export_mbox(
    ctx: typer.Context,
    community: str = typer.Option(..., "--community", "-c", help="Community slug."),
    month: str | None = typer.Option(
        None, "--month", help="Only posts received in this UTC month (YYYY-MM)."
    ),
    to: str | None = typer.Option(
        None,
        "--to",
        help="The file to write ('-': standard output), or a folder to write SLUG[-MONTH].mbox "
        "into: an existing one, or any path ending in '/' (made if missing). "
        "Default: SLUG[-MONTH].mbox here.",
    ),
) -> None:
    """Write a community's published posts (or a month's) to an mboxrd file, oldest first,
    as they were received; an existing file is not overwritten."""
    app = instance(ctx)
    wanted = _month(month)
    with app.session() as session:
        target = get_community(session, community)
        since, until = month_bounds(*wanted) if wanted else (None, None)
        ids = post_ids(session, Selection(target.id or 0, None, since, until))
    name = f"{target.slug}{'-' + month.strip() if month else ''}.mbox"
    path = Path(name) if to is None else file_or_folder(to, name)
    to_stdout = str(path) == "-"
    if not to_stdout and path.exists():
        raise Conflict(f"{path} already exists; remove it or name another file with --to")
    read = partial(checked_bytes, app.settings.data_dir / "attachments")
    writer = MboxWriter(app, target, read, as_received=True)
    stream = sys.stdout.buffer if to_stdout else _new_file(path)
    try:
        with Progress(console=err, transient=True) as bar:
            task = bar.add_task(f"exporting {target.slug}", total=len(ids))
            for start, chunk in zip(range(0, len(ids), BATCH), writer.chunks(ids), strict=True):
                stream.write(chunk)
                bar.update(task, completed=min(start + BATCH, len(ids)))
    finally:
        if not to_stdout:
            stream.close()
    where = "standard output" if to_stdout else str(path)
    (err if to_stdout else out).print(
        f"{len(ids)} posts of {target.slug} written to {where}", markup=False
    )
