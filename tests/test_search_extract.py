"""The text of resource files for the index (search/extract.py): HTML and plain text are
converted only as far as the index keeps their text (MAX_CHARS), giving what converting
the whole file gives, and text after a mass of markup is still found."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailhub.search import extract

LIMIT = 2_000


@pytest.fixture(autouse=True)
def small_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Index 2,000 characters of a file, so that a small file is a "large" one."""
    monkeypatch.setattr(extract, "MAX_CHARS", LIMIT)


def read(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return extract.file_text(path, None, name)


def test_a_large_html_file_is_converted_only_as_far_as_its_text_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paragraphs = "".join(
        f"<p>Paragraph {n}: tripartite councils set wages.</p>" for n in range(2_000)
    )
    data = f"<html><body>{paragraphs}</body></html>".encode()
    converted: list[int] = []
    convert = extract.html_to_text

    def measured(html: str) -> str:
        converted.append(len(html))
        return convert(html)

    monkeypatch.setattr(extract, "html_to_text", measured)
    assert read(tmp_path, "report.html", data) == convert(data.decode())[:LIMIT]
    assert converted == [2 * LIMIT]  # of 104,000 bytes


def test_text_after_a_mass_of_markup_is_still_found(tmp_path: Path) -> None:
    image = "<img alt='' src='data:image/png;base64," + "A" * 50_000 + "'>"
    data = f"<html><body>{image}<p>The ombudsman replied.</p></body></html>".encode()
    assert read(tmp_path, "report.html", data) == "The ombudsman replied."


@pytest.mark.parametrize("char", ["a", "é", "ค", "𝐰"])  # 1 to 4 bytes in UTF-8
def test_a_large_text_file_is_decoded_only_as_far_as_its_text_is_kept(
    tmp_path: Path, char: str
) -> None:
    data = (char * 50_000).encode()
    assert read(tmp_path, "notes.txt", data) == char * LIMIT
    assert len(extract.plain_text(data)) <= 4 * LIMIT
