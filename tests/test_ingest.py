"""`mailhub ingest` as an MTA pipe transport runs it: exit codes and one-line reasons."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlmodel import select

from mailhub.context import Context
from mailhub.models import InboundMessage

MESSAGE = b"From: a@example.org\r\nTo: irnet@lists.example.org\r\nSubject: piped\r\n\r\nHello\r\n"


def ingest(config: Path, data: bytes, *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "mailhub", "ingest", *args],
        input=data,
        capture_output=True,
        env={**os.environ, "MAILHUB_CONFIG": str(config)},
        timeout=60,
    )
    return subprocess.CompletedProcess(
        result.args, result.returncode, result.stdout.decode(), result.stderr.decode()
    )


def test_exit_codes(config_path: Path, ctx: Context, tmp_path: Path) -> None:
    ok = ingest(config_path, MESSAGE, "-r", "IRNet@lists.example.org", "-f", "a@example.org")
    assert ok.returncode == 0 and ok.stderr == ""
    unknown = ingest(config_path, MESSAGE, "-r", "nobody@lists.example.org")
    assert (
        unknown.returncode == 67 and "unknown recipient nobody@lists.example.org" in unknown.stderr
    )
    empty = ingest(config_path, b"", "-r", "irnet@lists.example.org")
    assert empty.returncode == 65 and "empty input" in empty.stderr
    junk = ingest(config_path, b"\x89PNG\r\n\x1a\n binary", "-r", "irnet@lists.example.org")
    assert junk.returncode == 65 and "mail header" in junk.stderr
    for result in (ok, unknown, empty, junk):
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) <= 1
    with ctx.session() as session:
        rows = session.exec(select(InboundMessage)).all()
    assert [(r.source, r.mail_from, r.rcpt_to) for r in rows] == [
        ("pipe", "a@example.org", ["IRNet@lists.example.org"])
    ]
    assert rows[0].raw == MESSAGE


def test_temporary_failure_is_75(tmp_path: Path) -> None:
    """A database that does not answer: the MTA must keep the message and retry."""
    config = tmp_path / "c.toml"
    config.write_text(
        '[instance]\nsecret = "0123456789abcdef0123"\n'
        '[database]\nurl = "postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=2"\n'
    )
    result = ingest(config, MESSAGE, "-r", "irnet@lists.example.org")
    assert result.returncode == 75 and "cannot store the message now" in result.stderr
    assert "Traceback" not in result.stderr
