"""parse_bounce() against sisimai's expectations and on the common MTAs one by one."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

import pytest

from mailhub.inbound.parse import parse_message
from mailhub.outbound.bounces import BouncedRecipient, dsn_blocks, parse_bounce

CORPORA = Path(__file__).resolve().parents[1].parent / "shared" / "corpora"
BOUNCES = CORPORA / "sisimai-bounces" / "bounces"
needs_corpora = pytest.mark.needs(CORPORA.is_dir(), f"real-mail corpora not found at {CORPORA}")
NOT_FAILURES = {"vacation", "feedback", "delivered"}


def expected_rows() -> dict[str, list[list[str]]]:
    """file -> rows of (file, dsn_status, smtp_code, reason, hard_bounce) for failures."""
    rows: dict[str, list[list[str]]] = defaultdict(list)
    tsv = (CORPORA / "sisimai-bounces" / "expected.tsv").read_text().splitlines()[1:]
    for line in tsv:
        fields = line.split("\t")
        if fields[3] not in NOT_FAILURES:
            rows[fields[0]].append(fields)
    return rows


def score() -> Counter[str]:
    """Counts of agreement with sisimai, per file and per expected row."""
    tally: Counter[str] = Counter()
    for name, rows in expected_rows().items():
        msg = parse_message((BOUNCES / name).read_bytes())
        found = parse_bounce(msg).recipients
        tally["files"] += 1
        tally["files_with_recipient"] += bool(found)
        tally["files_recipient_count_right"] += len(found) == len(rows)
        original = " ".join(h.get("to", "") + h.get("cc", "") for h in msg.enclosed_headers)
        if found and original.strip():
            tally["files_with_original_to"] += 1
            tally["addresses_in_original_to"] += all(r.address in original.lower() for r in found)
        for i, row in enumerate(rows):
            _score_row(tally, row, found[min(i, len(found) - 1)] if found else None)
    return tally


def _score_row(tally: Counter[str], row: list[str], got: BouncedRecipient | None) -> None:
    _, status, code, _, hard = row
    tally["rows"] += 1
    if got is None:
        return
    if status:
        tally["rows_with_status"] += 1
        tally["status_class_right"] += ("5" if got.permanent else "4") == status[0]
        # Details of 900 and up are sisimai's own pseudo-statuses, never in a real bounce.
        if int(status.split(".")[2]) < 900:
            tally["rows_with_real_status"] += 1
            tally["status_exact_right"] += got.status == status
    if code:
        tally["rows_with_code"] += 1
        tally["smtp_code_right"] += got.smtp_code == int(code)
    tally["hard_soft_right"] += got.hard == (hard == "true")


@needs_corpora
def test_agreement_with_sisimai_expectations() -> None:
    tally = score()
    shares = {
        "recipient found": tally["files_with_recipient"] / tally["files"],
        "recipient count": tally["files_recipient_count_right"] / tally["files"],
        "address in original To": tally["addresses_in_original_to"]
        / tally["files_with_original_to"],
        "status class (permanent)": tally["status_class_right"] / tally["rows_with_status"],
        "status exact": tally["status_exact_right"] / tally["rows_with_real_status"],
        "smtp code": tally["smtp_code_right"] / tally["rows_with_code"],
        "hard/soft": tally["hard_soft_right"] / tally["rows"],
    }
    report = ", ".join(f"{k} {v:.1%}" for k, v in shares.items())
    print(report)
    # Floors just under the measured figures, so a regression fails the test.
    floors = {
        "recipient found": 0.97,
        "recipient count": 0.94,
        "address in original To": 0.92,
        "status class (permanent)": 0.96,
        "status exact": 0.91,
        "smtp code": 0.91,
        "hard/soft": 0.77,
    }
    for key, floor in floors.items():
        assert shares[key] >= floor, report


def first(name: str) -> list[BouncedRecipient]:
    return parse_bounce((BOUNCES / name).read_bytes()).recipients


@needs_corpora
@pytest.mark.parametrize(
    ("name", "address", "status", "code", "hard"),
    [
        ("lhost-postfix-01.eml", "kijitora@example.org", "5.1.1", None, True),
        ("lhost-qmail-01.eml", "kijitora@example.ne.jp", "5.5.0", 550, True),
        ("lhost-gmail-01.eml", "userunknown@example.jp", "5.1.1", 550, True),
        ("lhost-yahoo-01.eml", "kijitora@example.org", "5.1.1", 550, True),
        ("lhost-office365-02.eml", "kijitora@example.onmicrosoft.com", "5.1.1", 550, True),
        ("lhost-exchange2007-01.eml", "mikeneko@example.co.jp", "5.1.1", 550, True),
        ("lhost-outlook-01.eml", "kijitora@example.jp", "5.2.2", 550, False),
        ("lhost-amazonses-09.eml", "bounce@simulator.amazonses.com", "5.1.1", 550, True),
        ("lhost-amazonses-10.eml", "bounce@simulator.amazonses.com", "5.1.1", 550, True),
    ],
)
def test_common_mtas(name: str, address: str, status: str, code: int | None, hard: bool) -> None:
    [got] = first(name)
    assert (got.address, got.status, got.smtp_code, got.hard) == (address, status, code, hard)
    assert got.permanent


@needs_corpora
def test_exim_reports_each_recipient_with_its_own_status() -> None:
    got = first("lhost-exim-02.eml")
    assert [(r.address, r.status, r.smtp_code) for r in got] == [
        ("kijitora@example.jp", "5.1.1", 550),
        ("sabatora@example.jp", "5.2.1", 550),
    ]


@needs_corpora
def test_delay_is_soft() -> None:
    [got] = first("lhost-sendmail-29.eml")
    assert got.status is not None and got.status.startswith("4.")
    assert not got.permanent and not got.hard


def test_dsn_blocks_unfold_and_split() -> None:
    text = (
        "Reporting-MTA: dns; mx.example.org\n\n"
        "Final-Recipient: rfc822; Member@Example.org\n"
        "Action: failed\nStatus: 5.1.1\n"
        "Diagnostic-Code: smtp; 550 5.1.1 <member@example.org>:\n"
        "    Recipient address rejected: User unknown\n"
    )
    blocks = dsn_blocks(text)
    assert len(blocks) == 2
    assert blocks[1]["diagnostic-code"].endswith("Recipient address rejected: User unknown")


def test_hand_written_dsn_prefers_original_recipient() -> None:
    raw = (
        b"From: MAILER-DAEMON@mx.example.org\r\nTo: irnet+b-tok@lists.example.org\r\n"
        b"Subject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        b"--B\r\nContent-Type: text/plain\r\n\r\nsorry\r\n"
        b"--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        b"Reporting-MTA: dns; mx.example.org\r\n\r\n"
        b"Final-Recipient: rfc822; alias-target@example.net\r\n"
        b"Original-Recipient: rfc822; Member@Example.org\r\n"
        b"Action: failed\r\nStatus: 4.2.2\r\n"
        b"Diagnostic-Code: smtp; 452 4.2.2 Mailbox full\r\n\r\n"
        b"--B--\r\n"
    )
    [got] = parse_bounce(raw).recipients
    assert got.address == "member@example.org"
    assert (got.status, got.smtp_code, got.permanent, got.hard) == ("4.2.2", 452, False, False)
    assert got.diagnostic == "452 4.2.2 Mailbox full"
