"""Jinja2 rendering: built-in templates in mailhub/templates, overridable per instance.

An instance names a folder in `instance.templates_dir`; a template there replaces the
built-in one of the same name. Plain-text templates are rendered without autoescaping,
HTML templates (``*.html``) with it; members' words go into HTML through the
``member_html`` filter (mailhub/memberhtml.py), which also sanitises them.
"""

from __future__ import annotations

import textwrap
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, select_autoescape

from mailhub.memberhtml import member_html
from mailhub.threads.subjects import display_subject
from mailhub.times import human

BUILT_IN = Path(__file__).parent / "templates"


def local_time(
    value: datetime | None, zone: str = "UTC", fmt: str = "%A %d %B %Y, %H:%M %Z"
) -> str:
    """A time as people of a community read it, in their time zone."""
    if value is None:
        return ""
    if fmt.endswith(" %Z"):
        return human(value, zone, fmt.removesuffix(" %Z"))
    return value.astimezone(ZoneInfo(zone)).strftime(fmt)


def human_size(size: int) -> str:
    """1.2 MB, 350 KB or 900 bytes, as mail clients show them."""
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def one_line(value: object) -> str:
    """A member's name, subject or reason on one line: a line break in it (an encoded word
    can carry one) would start a line of its own in a notice and could pass for a field."""
    return " ".join(str(value or "").split())


def reflow(value: str, width: int = 76) -> str:
    """A paragraph that holds names, subjects and dates of any length, wrapped to fit a
    mail line: each blank-line-separated paragraph joined, then broken at ``width``."""
    paragraphs = [" ".join(p.split()) for p in str(value).split("\n\n")]
    return "\n\n".join(
        textwrap.fill(p, width, break_long_words=False, break_on_hyphens=False)
        for p in paragraphs
        if p
    )


@lru_cache(maxsize=8)
def environment(override: Path | None = None) -> Environment:
    loaders = [FileSystemLoader(str(override))] if override else []
    loaders.append(FileSystemLoader(str(BUILT_IN)))
    env = Environment(
        loader=ChoiceLoader(loaders),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["local_time"] = local_time
    env.filters["member_html"] = member_html
    env.filters["one_line"] = one_line
    env.filters["shown_subject"] = display_subject
    env.filters["reflow"] = reflow
    return env


def render(name: str, override: Path | None = None, **context: Any) -> str:
    """Render template ``name`` with ``context``; a missing variable is an error, not a blank."""
    return environment(override).get_template(name).render(**context)
