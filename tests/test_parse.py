"""parse_message on every corpus message and on hand-written MIME edge cases."""

from __future__ import annotations

import hashlib
import mailbox
import re
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path

import pytest

from mailhub.inbound.classify import KINDS, classify
from mailhub.inbound.parse import (
    ParsedMessage,
    UnparseableMessage,
    derive_message_id,
    parse_message,
)

CORPORA = Path(__file__).resolve().parents[1].parent / "shared" / "corpora"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "mime"
needs_corpora = pytest.mark.needs(CORPORA.is_dir(), f"real-mail corpora not found at {CORPORA}")
# Corpus messages that are not mail at all; none so far.
HOPELESS: set[str] = set()


def corpus_messages() -> Iterator[tuple[str, bytes]]:
    """Every message of the MIME corpora: .eml files, notmuch files, each mbox message."""
    for folder in ("flanker", "sisimai-bounces", "notmuch"):
        for path in sorted((CORPORA / folder).rglob("*.eml")):
            yield str(path.relative_to(CORPORA)), path.read_bytes()
    for path in sorted((CORPORA / "ponymail" / "mbox").glob("*.mbox")):
        for index, message in enumerate(mailbox.mbox(path)):
            yield f"{path.name}#{index}", message.as_bytes()


def fixture(name: str) -> ParsedMessage:
    return parse_message((FIXTURES / name).read_bytes())


@needs_corpora
def test_every_corpus_message_parses_and_classifies() -> None:
    unparseable = set()
    count = 0
    for name, raw in corpus_messages():
        count += 1
        try:
            msg = parse_message(raw)
        except UnparseableMessage:
            unparseable.add(name)
            continue
        assert classify(msg).kind in KINDS, name
        assert isinstance(msg.text, str), name
    assert unparseable == HOPELESS
    # 47 flanker (46 messages and torture-part.eml) + 591 sisimai + 288 notmuch + 548 ponymail.
    assert count == 1474


def _read_pony_yaml(path: Path) -> dict[str, list[dict]]:
    """The few shapes Pony Mail's expectation files use, without a YAML dependency."""
    result: dict[str, list[dict]] = {}
    messages: list[dict] = []
    for line in path.read_text().splitlines():
        if m := re.match(r"^  (corpus/\S+\.mbox):$", line):
            messages = result.setdefault(m.group(1).removeprefix("corpus/"), [])
        elif m := re.match(r"^  - index: (\d+)$", line):
            messages.append({"index": int(m.group(1)), "attachments": []})
        elif m := re.match(r"^    message-id: (.*)$", line):
            messages[-1]["message-id"] = m.group(1).strip("'")
        elif m := re.match(r"^    - content_type: (.*)$", line):
            messages[-1]["attachments"].append({"content_type": m.group(1)})
        elif m := re.match(r"^      (size|filename|hash): (.*)$", line):
            messages[-1]["attachments"][-1][m.group(1)] = m.group(2)
    return result


@needs_corpora
def test_ponymail_message_ids_and_attachments_match_the_archive() -> None:
    checked = 0
    for yaml in sorted((CORPORA / "ponymail" / "expected").glob("*.yaml")):
        for mbox_name, expected in _read_pony_yaml(yaml).items():
            # Files grouped for de-duplication share one list, under the last name.
            if not expected:
                continue
            box = list(mailbox.mbox(CORPORA / "ponymail" / "mbox" / mbox_name))
            for item in expected:
                msg = parse_message(box[item["index"]].as_bytes())
                wanted_id = item["message-id"].strip("<>") or None
                assert msg.message_id == wanted_id, (mbox_name, item["index"])
                # Pony Mail lists named parts only; unnamed inline parts are ours to keep.
                got = [
                    {
                        "content_type": a.content_type,
                        "filename": a.filename,
                        "size": str(len(a.data)),
                        "hash": a.sha256,
                    }
                    for a in msg.attachments
                    if a.filename
                ]
                assert got == item["attachments"], (mbox_name, item["index"])
                checked += 1
    assert checked >= 500


@needs_corpora
def test_ponymail_html_only_message_gets_readable_text() -> None:
    box = mailbox.mbox(CORPORA / "ponymail" / "mbox" / "nexus-html-only.mbox")
    msg = parse_message(box[0].as_bytes())
    assert "Accidental publication." in msg.text
    assert "Action performed by Jochen Wiedmann (jochen)" in msg.text
    assert "<b>" not in msg.text and "<br>" not in msg.text
    assert msg.html is not None and "Deployer properties" in msg.html


@needs_corpora
def test_torture_test_yields_all_its_parts() -> None:
    msg = parse_message((CORPORA / "flanker" / "messages" / "torture.eml").read_bytes())
    # Mark Crispin's torture test: images, audio, postscript, nested messages.
    types = {a.content_type for a in msg.attachments}
    assert {"image/gif", "audio/basic", "application/postscript"} <= types
    assert len(msg.attachments) == 22
    assert "Multi-media mail demonstration" in msg.subject


@needs_corpora
def test_notmuch_headers_decoded() -> None:
    raw = next(
        p.read_bytes()
        for p in sorted((CORPORA / "notmuch" / "default").rglob("*.eml"))
        if b"In-Reply-To:" in p.read_bytes()
    )
    msg = parse_message(raw)
    assert msg.in_reply_to and "@" in msg.in_reply_to[0]
    assert msg.references[-1] == msg.in_reply_to[0]
    assert msg.date is not None and msg.date.tzinfo is not None


def test_unknown_charset_falls_back_to_utf8() -> None:
    msg = fixture("bad_charset_unknown.eml")
    assert msg.text.strip() == "Salario mínimo en Côte d'Ivoire: revisión."


def test_utf8_declared_but_latin1_sent_is_repaired_and_noted() -> None:
    msg = fixture("bad_charset_utf8_declared_latin1_sent.eml")
    assert msg.text.strip() == "La négociation collective a été signée à Genève."
    assert any("charset 'utf-8'" in d for d in msg.defects)


def test_eight_bit_headers_are_read_as_utf8() -> None:
    msg = fixture("eightbit_headers.eml")
    assert msg.subject == "Tarifverhandlungen für Auszubildende"
    assert msg.from_name == "Jürgen Müller"
    assert msg.from_address == "juergen@example.de"
    assert msg.text.strip() == "Grüße aus Köln."


def test_broken_base64_keeps_what_decodes() -> None:
    msg = fixture("broken_base64.eml")
    assert msg.text.startswith("Youth employment figures for 2025")
    assert any("Base64" in d for d in msg.defects)


def test_missing_boundary_keeps_the_body() -> None:
    msg = fixture("missing_mime_boundary.eml")
    assert "the boundary never appears" in msg.text
    assert "Second line of the message." in msg.text
    assert "multipart/mixed without its parts" in msg.defects


def test_html_table_and_the_text_after_it_survive() -> None:
    msg = fixture("html_only_table_then_text.eml")
    assert re.search(r"Kenya\s+12\.5%", msg.text)
    assert re.search(r"Ghana\s+8\.1%", msg.text)
    assert "The text after the table must survive: please comment by Friday." in msg.text
    assert msg.text.rstrip().endswith("Ana")
    assert "color:red" not in msg.text


def test_script_injection_is_sanitised_and_plain_text_preferred() -> None:
    msg = fixture("html_script_injection.eml")
    assert msg.text == "Plain text wins when present."
    assert msg.html is not None
    assert "<b>members</b>" in msg.html
    for bad in ("<script", "alert(", "onclick", "javascript:", "<iframe"):
        assert bad not in msg.html
    assert 'src="cid:logo@example.org"' in msg.html


def test_attachments_with_encoded_filenames_and_inline_image() -> None:
    msg = fixture("attachment_rfc2231_filename.eml")
    names = [a.filename for a in msg.attachments]
    assert names == ["Rapport sur l'emploi des jeunes été 2025.pdf", None, "Отчёт.txt"]
    pdf, image, text = msg.attachments
    assert pdf.content_type == "application/pdf"
    assert pdf.data == b"%PDF-1.4 fake report bytes\n"
    assert pdf.sha256 == hashlib.sha256(pdf.data).hexdigest()
    assert image.content_type == "image/png" and image.data.startswith(b"\x89PNG")
    assert text.data.strip() == b"report body"
    assert msg.text == "See the attached report."


def test_missing_message_id_and_unreadable_date() -> None:
    msg = fixture("no_message_id_bad_date.eml")
    assert msg.message_id is None
    assert msg.date is None
    assert msg.in_reply_to == ["parent@example.org"]
    assert msg.references == ["root@example.org", "parent@example.org"]
    assert "no Message-ID" in msg.defects


def test_header_fields_are_normalised() -> None:
    raw = (
        b"From: =?utf-8?q?Ana_P=C3=A9rez?= <Ana.Perez@Example.ORG>\r\n"
        b"Reply-To: list-reply@example.org\r\n"
        b'To: a@example.org, "Doe, John" <JOHN@example.org>\r\n'
        b"Cc: c@example.org\r\n"
        b"Subject: =?utf-8?q?R=C3=A9union?=\r\n =?utf-8?q?_du_r=C3=A9seau?= sur les\r\n"
        b" salaires\r\n"
        b"Date: Tue, 3 Mar 2026 10:00:00 -0000\r\n"
        b"Message-ID:  < abc.123@example.org >\r\n"
        b"Auto-Submitted: auto-replied\r\n\r\nbody\r\n"
    )
    msg = parse_message(raw)
    assert msg.from_address == "ana.perez@example.org"
    assert msg.from_name == "Ana Pérez"
    assert msg.to == ["a@example.org", "john@example.org"]
    assert msg.cc == ["c@example.org"] and msg.reply_to == ["list-reply@example.org"]
    assert msg.subject == "Réunion du réseau sur les salaires"
    assert msg.message_id == "abc.123@example.org"
    assert msg.date is not None and msg.date.tzinfo == UTC
    assert msg.headers["auto-submitted"] == "auto-replied"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty"),
        (b"  \r\n\r\n", "empty"),
        (b"just some words, no headers\nat all\n", "no header lines"),
    ],
)
def test_hopeless_input_is_unparseable(raw: bytes, reason: str) -> None:
    with pytest.raises(UnparseableMessage, match=reason):
        parse_message(raw)


def test_binary_garbage_is_unparseable() -> None:
    with pytest.raises(UnparseableMessage):
        fixture("binary_garbage.eml")


def test_derived_message_id_is_stable_and_distinct() -> None:
    first = derive_message_id(b"same bytes", "lists.example.org")
    assert first == derive_message_id(b"same bytes", "lists.example.org")
    assert first != derive_message_id(b"other bytes", "lists.example.org")
    assert first.endswith("@lists.example.org") and "<" not in first


def test_in_reply_to_of_nmh_and_folded_ids_gives_the_parent_last() -> None:
    nmh = b'In-Reply-To: Message from Ann <ann@example.org>\r\n of "Tue, 17 Nov 2009." <p1@x>\r\n'
    folded = b"In-Reply-To: <20091117190054.GU3165@\r\n dottiness.seas.harvard.edu>\r\n"
    for header, parent in (
        (nmh, "p1@x"),
        (folded, "20091117190054.GU3165@dottiness.seas.harvard.edu"),
    ):
        parsed = parse_message(b"From: a@example.org\r\n" + header + b"\r\nHello\r\n")
        assert parsed.in_reply_to[-1] == parent
