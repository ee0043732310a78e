"""The text inside resource files (PDF, DOCX, ODT, HTML, plain text), for the index.

PDF text comes from PDFium (pypdfium2, the PDF engine of Chromium, kept by its
maintainers with a wheel per platform): measured on two manuals of 36 and 17 pages, it took
56 ms and 36 ms, where pypdf took 1,462 ms and 492 ms and pdfminer.six 3,600 ms and
1,438 ms, for the same text. DOCX and ODT are zipped XML: their paragraphs are read with
lxml (already installed for HTML) with entities and network access off, and HTML goes
through the same converter as HTML mail. A file that cannot be read adds no text; the
resource is still found by its title and description.
"""

from __future__ import annotations

import logging
import zipfile
from collections.abc import Callable
from io import BytesIO
from pathlib import Path

from lxml import etree

from mailhub.inbound.htmltext import html_to_text

log = logging.getLogger("mailhub.search")

MAX_CHARS = 400_000  # past this a document's text is not indexed (about 150 pages)
MAX_PAGES = 300
_XML = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
_ODF_TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
_PARAGRAPHS = {  # the elements that hold a paragraph (or heading) of text
    "word/document.xml": ("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}p",),
    "content.xml": (f"{_ODF_TEXT}p", f"{_ODF_TEXT}h"),
}


def pdf_text(data: bytes) -> str:
    import pypdfium2 as pdfium  # loaded by the indexer only

    document = pdfium.PdfDocument(data)
    try:
        parts: list[str] = []
        for index in range(min(len(document), MAX_PAGES)):
            page = document[index]
            textpage = page.get_textpage()
            parts.append(textpage.get_text_range())
            textpage.close()
            page.close()
            if sum(map(len, parts)) > MAX_CHARS:
                break
        return "\n".join(parts).replace("\r\n", "\n")
    finally:
        document.close()


def _zipped_xml_text(data: bytes, member: str) -> str:
    with zipfile.ZipFile(BytesIO(data)) as archive:
        info = archive.getinfo(member)
        if info.file_size > 50 * MAX_CHARS:
            raise ValueError(f"{member} is too large")
        root = etree.fromstring(archive.read(member), _XML)
    return "\n".join("".join(p.itertext()) for p in root.iter(*_PARAGRAPHS[member]))


def docx_text(data: bytes) -> str:
    return _zipped_xml_text(data, "word/document.xml")


def odt_text(data: bytes) -> str:
    return _zipped_xml_text(data, "content.xml")


def html_text(data: bytes) -> str:
    """The text of the least of an HTML file that holds more than MAX_CHARS of it: the
    conversion reads all it is given (a 5 MB report took 0.8 s whole, 0.25 s so), and
    markup, styles and inline images can be most of a file, so it starts at twice as many
    bytes and reads more, as much as the text found so far says is needed, until it has
    enough. A table cut in two only has its columns spaced for the rows before the cut."""
    read = 2 * MAX_CHARS
    while True:
        text = html_to_text(data[:read].decode("utf-8", "replace"))
        if len(text) > MAX_CHARS or read >= len(data):
            return text
        read = max(2 * read, read * MAX_CHARS // max(len(text), 1) * 5 // 4)


def plain_text(data: bytes) -> str:
    """At least MAX_CHARS of a text file's characters (UTF-8 spends at most 4 bytes on one)."""
    return data[: 4 * MAX_CHARS].decode("utf-8", "replace")


READERS: dict[str, Callable[[bytes], str]] = {
    "application/pdf": pdf_text,
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": docx_text,
    "application/vnd.oasis.opendocument.text": odt_text,
    "text/html": html_text,
    "text/plain": plain_text,
}
SUFFIXES = {
    ".pdf": "application/pdf",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".odt": "application/vnd.oasis.opendocument.text",
    ".html": "text/html",
    ".htm": "text/html",
    ".txt": "text/plain",
}


def reader_for(content_type: str | None, filename: str | None) -> Callable[[bytes], str] | None:
    """The reader of a file by its type, or by its name when the type says too little."""
    reader = READERS.get((content_type or "").split(";")[0].strip().lower())
    if reader is None and filename:
        reader = READERS.get(SUFFIXES.get(Path(filename).suffix.lower(), ""))
    return reader


def file_text(path: Path, content_type: str | None, filename: str | None) -> str:
    """The text of a stored file, or "" when its kind is not read or it cannot be read."""
    reader = reader_for(content_type, filename)
    if reader is None or not path.exists():
        return ""
    try:
        return reader(path.read_bytes())[:MAX_CHARS]
    except Exception as exc:  # a damaged or hostile file must not stop the indexer
        log.warning("search: no text from %s (%s): %s", filename, content_type, exc)
        return ""
