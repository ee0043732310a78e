"""Where a command writes a file it is given `--to` for: a file, or a folder to put it in.

One rule for every export (`resource export`, `export mbox`): `--to` names the file, or a
folder that takes the file under its own name, either one that exists or any path ending
in '/' (made if missing). The path comes in as typed, a str: Path("exports/") would drop
the '/' that says "a folder".
"""

from __future__ import annotations

import os
from pathlib import Path

from mailhub.errors import InvalidInput


def file_or_folder(to: str, name: str) -> Path:
    """``to`` itself, or ``name`` inside it when ``to`` is a folder."""
    if to.endswith(("/", os.sep)):
        try:
            Path(to).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InvalidInput(f"--to: cannot make the folder {to} ({exc.strerror})") from None
    return Path(to) / name if Path(to).is_dir() else Path(to)
