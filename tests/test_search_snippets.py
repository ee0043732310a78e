"""A result's snippet (search/snippets.py): cut from a window around the first match, with
the addresses in it hidden whole, however long the text and wherever the window's cuts fall."""

from __future__ import annotations

import pytest

from mailhub.search import snippets
from mailhub.search.query import parse
from mailhub.search.snippets import SNIPPET_CHARS, snippet

FILLER = "wages rose in the garment sector " * 6_000  # 198,000 characters


def shown(text: str, query: str) -> tuple[str, list[str]]:
    """The snippet's text and its marked words."""
    pieces = snippet(text, parse(query).terms)
    return "".join(piece for piece, _ in pieces), [piece for piece, hit in pieces if hit]


def test_a_long_text_has_its_addresses_hidden_only_around_the_match(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hidden: list[int] = []
    hide = snippets.hide_addresses

    def counting(text: str | None) -> str:
        hidden.append(len(text or ""))
        return hide(text)

    monkeypatch.setattr(snippets, "hide_addresses", counting)
    text = f"{FILLER}somchai@example.org wrote: tripartite councils agreed. {FILLER}"
    words, marked = shown(text, "tripartite")
    assert marked == ["tripartite"]
    assert "[address hidden] wrote: tripartite councils agreed." in words
    assert words.startswith("… ") and words.endswith(" …")
    assert hidden == [4 * SNIPPET_CHARS]  # not the 396,000 characters


@pytest.mark.parametrize(
    "text",
    [
        # The window's start (twice the snippet's size before the match) falls in the
        # address; the spaces between shrink, so the window's start is shown.
        "Write to somchai@example.org" + " " * 470 + "about tripartite councils.",
        # Its end falls in the address, after the match and the spaces.
        "Tripartite councils." + " " * 440 + "Write to somchai@example.org today.",
    ],
)
def test_an_address_across_the_windows_cut_never_shows_in_part(text: str) -> None:
    words, marked = shown(text, "tripartite")
    assert [word.lower() for word in marked] == ["tripartite"]
    assert "@" not in words and "example" not in words and "org" not in words, words
    assert "somchai" not in words and "mple" not in words, words


def test_a_word_inside_an_address_is_not_where_the_snippet_is_cut() -> None:
    text = f"Write to ombudsman@example.org. {FILLER[:600]}The ombudsman replied."
    words, marked = shown(text, "ombudsman")
    assert marked == ["ombudsman"]
    assert words.endswith("The ombudsman replied.")
