"""Finding and running Postfix's programs (postconf, postmap, postfix).

Debian installs them in /usr/sbin, which a service user's PATH often lacks; they are looked
for there too, so `mailhub mta` works from cron and systemd as well as from a root shell.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

SBIN = ("/usr/sbin", "/usr/local/sbin", "/sbin", "/usr/bin")
TIMEOUT_SECONDS = 30.0


def find(name: str) -> str | None:
    """The path of Postfix program ``name``, or None when it is not installed."""
    found = shutil.which(name)
    if found:
        return found
    for folder in SBIN:
        candidate = Path(folder) / name
        if os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def with_config(program: str, config_dir: Path | None) -> list[str]:
    """``program`` and, for a Postfix other than the default one, ``-c DIR``."""
    return [program, "-c", str(config_dir)] if config_dir else [program]


def run(args: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run a Postfix program; its output as text, never raising on a non-zero exit."""
    return subprocess.run(
        args, input=stdin, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False
    )
