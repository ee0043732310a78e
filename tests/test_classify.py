"""classify() against the labelled corpora and hand-written header cases."""

from __future__ import annotations

import pytest
from labelled_mail import CORPORA, shared_labels

from mailhub.inbound.classify import classify
from mailhub.inbound.parse import parse_message

needs_corpora = pytest.mark.needs(CORPORA.is_dir(), f"real-mail corpora not found at {CORPORA}")
# Labelled messages whose class differs from the label, each with its reason. Empty: all
# 603 labelled messages get their expected class.
KNOWN_DIFFERENCES: set[str] = set()


@needs_corpora
def test_every_labelled_message_gets_its_class() -> None:
    labels = shared_labels()
    wrong = {}
    for name, kind in labels.items():
        got = classify(parse_message((CORPORA / name).read_bytes()))
        if got.kind != kind and name not in KNOWN_DIFFERENCES:
            wrong[name] = (kind, got)
    share = 1 - len(wrong) / len(labels)
    assert len(labels) == 603
    assert wrong == {}, f"{share:.1%} right"


@needs_corpora
def test_list_archives_are_normal_mail() -> None:
    """Real list posts (notmuch, LKML, Apache) are written by people, Precedence: bulk or not."""
    for path in sorted((CORPORA / "notmuch" / "default").rglob("*.eml")):
        assert classify(parse_message(path.read_bytes())).kind == "normal", path.name
    lkml = sorted((CORPORA / "notmuch" / "lkml").rglob("*.eml"))
    assert all(classify(parse_message(p.read_bytes())).kind == "normal" for p in lkml)


@needs_corpora
def test_request_tracker_autoreply_is_recognised() -> None:
    path = next((CORPORA / "notmuch" / "threading").rglob("1532672447.*.eml"))
    assert classify(parse_message(path.read_bytes())).kind == "auto_reply"


def message(*headers: str, body: str = "Hello all,\nsee you there.\n") -> bytes:
    base = ["From: Ana <ana@example.org>", "To: irnet@lists.example.org"]
    names = {h.split(":")[0].lower() for h in headers}
    base = [h for h in base if h.split(":")[0].lower() not in names]
    lines = [*base, *headers, "Message-ID: <x@example.org>", "", body]
    return "\r\n".join(lines).encode()


@pytest.mark.parametrize(
    "subject",
    [
        "Out of Office: Wage policy",
        "Automatic reply: Wage policy",
        "Abwesenheitsnotiz: Tarifrunde",
        "Automatische Antwort: Tarifrunde",
        "Réponse automatique : Négociation",
        "Absence",
        "Absence: réunion",
        "Respuesta automática: Empleo juvenil",
        "Fuera de la oficina",
        "Risposta automatica: Riunione",
        "Fravær: møte",
        "Frånvaro: möte",
        "Autosvar: møde",
        "Afwezig",
        "Automatisch antwoord: vergadering",
        "自动回复: 会议",
        "Re: [irnet] Out of office",
        # Outlook's and webmail's localised prefixes in our members' region.
        "Arpus biroja atrasanas automatiska atbilde: sanāksme",
        "Automātiskā atbilde: sanāksme",
        "ตอบกลับอัตโนมัติ: การประชุม",
        "Trả lời tự động: Cuộc họp",
        "Balasan Otomatis: Rapat",
        "Balasan automatik: Mesyuarat",
        "Di luar kantor",
        "自动答复: 会议",
        "自動回覆：會議",
        "不在のお知らせ",
        "自動返信: 会議",
        "자동 회신: 회의",
        "부재중 안내",
        "स्वचालित उत्तर: बैठक",
        "Absent du bureau",
        "Message d'absence : réunion",
        "Fuera de oficina",
    ],
)
def test_vacation_subjects(subject: str) -> None:
    found = classify(parse_message(message(f"Subject: {subject}")))
    assert found.kind == "auto_reply", subject


@pytest.mark.parametrize(
    "subject",
    [
        "Absence of data on youth employment",
        "Office hours for the skills network",
        "Automation and the future of work",
        "Returned migrants and labour markets",
        "Policy on vacation leave",
        "Working out of office hours",
        "Re: Balasan untuk survei",
        "Kantor di luar kota",
    ],
)
def test_ordinary_subjects_stay_normal(subject: str) -> None:
    assert classify(parse_message(message(f"Subject: {subject}"))).kind == "normal"


@pytest.mark.parametrize(
    ("header", "kind"),
    [
        ("Auto-Submitted: auto-replied", "auto_reply"),
        ("Auto-Submitted: auto-generated", "auto_reply"),
        ("Auto-Submitted: no", "normal"),
        ("X-Autoreply: yes", "auto_reply"),
        ("X-Autorespond: vacation", "auto_reply"),
        ("X-Auto-Response-Suppress: OOF, AutoReply", "auto_reply"),
        ("Precedence: junk", "auto_reply"),
        ("Precedence: bulk", "auto_reply"),
        ("Precedence: list", "normal"),
    ],
)
def test_rfc3834_and_vendor_headers(header: str, kind: str) -> None:
    found = classify(parse_message(message("Subject: Minutes", header)))
    assert found.kind == kind, found


def test_bulk_from_a_foreign_list_is_not_an_auto_reply() -> None:
    raw = message("Subject: Minutes", "Precedence: bulk", "List-Id: <other.lists.example.net>")
    assert classify(parse_message(raw)).kind == "normal"


def test_our_own_list_id_and_loop_marker_mean_a_loop() -> None:
    raw = message("Subject: Minutes", "List-Id: IR network <IRNET.lists.example.org>")
    msg = parse_message(raw)
    assert classify(msg, our_list_ids=["irnet.lists.example.org"]).kind == "loop"
    assert classify(msg, our_list_ids=["<other.example.org>"]).kind == "normal"
    looped = parse_message(message("Subject: Minutes", "X-Loop: irnet@lists.example.org"))
    assert classify(looped, our_loop_marker="irnet@lists.example.org").kind == "loop"
    assert classify(looped).kind == "normal"


def test_bounce_wins_over_auto_submitted() -> None:
    raw = message(
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.net>",
        "Subject: Undelivered Mail Returned to Sender",
        "Auto-Submitted: auto-replied",
    )
    assert classify(parse_message(raw)).kind == "bounce"


def test_daemon_sender_without_failure_text_is_not_a_bounce() -> None:
    raw = message("From: postmaster@example.org", "Subject: Our new mail server")
    assert classify(parse_message(raw)).kind == "normal"
