"""Plain-text mails keep their own lines within 78 characters (RFC 5322's advice), so no
mail client wraps a sentence of ours in the middle: each line of every text template, its
``{{ ... }}`` values left out, fits. Lines that choose between texts (``{% if %}``) are
read in the golden mails instead (tests/test_golden.py)."""

from __future__ import annotations

import re
from pathlib import Path

import mailhub

TEMPLATES = Path(mailhub.__file__).parent / "templates"
WIDEST = 78


def own_text(line: str) -> str:
    """What a template line writes itself: values and comments left out."""
    return re.sub(r"\{\{.*?\}\}|\{#.*?#\}", "", line)


def test_every_text_template_line_fits_a_mail_line() -> None:
    templates = sorted(TEMPLATES.rglob("*.txt"))
    assert len(templates) > 30  # the mails' templates are all here
    too_long = [
        f"{path.relative_to(TEMPLATES)}:{number}: {line}"
        for path in templates
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if "{%" not in line and len(own_text(line)) > WIDEST
    ]
    assert too_long == []
