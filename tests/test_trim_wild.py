"""Reply trimming on talon's real replies: HTML quotes set off by a rule, and closings that
name the sender without a "-- " line (fixtures: tests/fixtures/wild/talon, see its README)."""

from __future__ import annotations

import re
from itertools import pairwise
from pathlib import Path

import pytest
from labelled_mail import WILD

from mailhub.inbound.htmltext import html_to_text
from mailhub.inbound.parse import parse_message
from mailhub.inbound.trim import trim_reply

TALON = WILD / "talon"
SIGNATURES = TALON / "signature" / "stripped"
# Two header lines in a row ("From: ...", "Sent: ...") are a quoted header block.
HEADER_LINE = re.compile(r"^\s*\**(from|to|sent|date|subject|cc)\**\s*:", re.IGNORECASE)


def visible(path: Path) -> str:
    if path.suffix == ".html":
        text = html_to_text(path.read_text(encoding="utf-8", errors="replace"))
    else:
        text = parse_message(path.read_bytes()).text
    return trim_reply(text).text


def words(text: str) -> str:
    return " ".join(text.split())


def has_header_block(text: str) -> bool:
    lines = [line for line in text.splitlines() if line.strip()]
    return any(HEADER_LINE.match(a) and HEADER_LINE.match(b) for a, b in pairwise(lines))


REPLIES = sorted(
    p for p in TALON.rglob("*") if p.suffix in (".html", ".eml") and "signature" not in p.parts
)


def test_no_quoted_header_block_is_left_in_any_reply() -> None:
    assert len(REPLIES) == 24
    left = [p.name for p in REPLIES if has_header_block(visible(p))]
    assert left == []


@pytest.mark.parametrize("path", sorted((TALON / "html_replies").glob("*.html")), ids=str)
def test_html_replies_keep_only_the_answer(path: Path) -> None:
    """talon's own expectation for each client (Gmail, Outlook 2003-2010, Yandex, ...)."""
    assert words(visible(path)) == "Hi. I am fine. Thanks, Alex"


def test_a_quote_set_off_by_a_rule_is_cut_at_the_rule() -> None:
    """Zimbra/Comcast: "Bob<hr><b>From: </b>..."; the header block once ran into "Bob"."""
    assert words(visible(TALON / "reply-separated-by-hr.html")) == "Hi there Bob"


@pytest.mark.parametrize("path", sorted((TALON / "standard_replies").glob("*.eml")), ids=str)
def test_standard_replies_keep_only_the_answer(path: Path) -> None:
    assert words(visible(path)) == "Hello"


@pytest.mark.parametrize("name", ["jeff", "long", "short_url"])
def test_a_closing_that_names_the_sender_goes_with_the_signature(name: str) -> None:
    """ "Thank you,\\nNoam", "Stavros Xxxxxx\\nvia mobile", a name over address and phone."""
    body = (SIGNATURES / f"{name}_body").read_text(encoding="utf-8")
    sender = (SIGNATURES / f"{name}_sender").read_text(encoding="utf-8").strip()
    expected = (SIGNATURES / f"{name}_signature").read_text(encoding="utf-8").strip()
    trimmed = trim_reply(body, sender)
    assert trimmed.signature == expected
    assert trimmed.text == body.strip()[: -len(expected)].rstrip()
    # Without the sender's name nothing says whose the last lines are: they stay.
    assert trim_reply(body).text == body.strip()


def test_a_message_without_a_closing_is_untouched() -> None:
    body = (SIGNATURES / "camel_case_body").read_text(encoding="utf-8")
    assert trim_reply(body, "Martin Xxxxx").text == body.strip()


@pytest.mark.parametrize(
    ("body", "sender"),
    [
        ("We will send the report.\n\nAna will attend.", "Ana Lopez"),
        ("I agree with the plan.\n\nBest regards,\nAna", "Maria Mod"),
        ("See the minutes.\n\nILO Office Nairobi", "Ana Lopez"),
    ],
)
def test_lines_that_do_not_name_the_sender_stay(body: str, sender: str) -> None:
    assert trim_reply(body, sender).text == body
