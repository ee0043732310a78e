"""Every labelled real message the classifier is measured on, with its kind and failed addresses.

One loader for tests/test_classify.py, tests/test_bounce_corpora.py and bench/bounces.py, so
that the tests and the benchmark count the same mail. Sources:

* the shared corpora beside the repository: sisimai (kinds from expected.tsv, one row per
  failed recipient), flanker (labels.tsv), and people's mail from list archives (notmuch,
  LKML, Apache lists in ponymail's mboxes), each labelled ``normal``;
* ``tests/fixtures/wild`` (labels.tsv): flufl.bounce, bounce_email, mail-parser and mailman
  test data, with the exact failed addresses where the notice names them (see its README).
"""

from __future__ import annotations

import mailbox
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mailhub.inbound.parse import ParsedMessage

CORPORA = Path(__file__).resolve().parents[1].parent / "shared" / "corpora"
WILD = Path(__file__).resolve().parent / "fixtures" / "wild"
MACHINE = ("bounce", "delay_warning", "feedback_report", "auto_reply")

SISIMAI_KIND = {"vacation": "auto_reply", "feedback": "feedback_report", "delivered": "auto_reply"}
# Sisimai counts delay notices (Action: delayed, "(Delay)" subjects) as bounces with a
# reason; by RFC 3464 nothing has failed yet, so these are delay warnings here, as in
# flanker's labels (no-mx.eml).
SISIMAI_DELAY_NOTICES = {
    "lhost-exim-38.eml",
    "lhost-exim-41.eml",
    "lhost-gmail-06.eml",
    "lhost-gmail-08.eml",
    "lhost-gmail-09.eml",
    "lhost-gmail-17.eml",
    "lhost-gsuite-06.eml",
    "lhost-messagingserver-07.eml",
    "lhost-opensmtpd-04.eml",
    "lhost-opensmtpd-06.eml",
    "lhost-opensmtpd-12.eml",
    "lhost-opensmtpd-13.eml",
    "lhost-opensmtpd-15.eml",
    "lhost-opensmtpd-16.eml",
    "lhost-outlook-06.eml",
    "lhost-sendmail-29.eml",
    "lhost-sendmail-55.eml",
    "lhost-zoho-04.eml",
    "rfc3464-07.eml",
    "rfc3464-09.eml",
    "rfc3464-34.eml",
}
# Machine mail among the list archives: Request Tracker's auto-reply in the threading traps.
RCPT_TO = re.compile(r"RCPT( TO)?:\s*<([^>]+)>", re.IGNORECASE)
ARCHIVED_MACHINE_MAIL = {"1532672447.R3166642290392477575": "auto_reply"}


@dataclass(frozen=True)
class Labelled:
    """One message and what it is.

    ``failed`` holds the exact failed addresses when the label names them (wild fixtures);
    ``failed_count`` the number of failed recipients when only that is known (sisimai).
    """

    corpus: str
    name: str
    path: Path
    kind: str
    failed: tuple[str, ...] | None = None
    failed_count: int | None = None
    raw_bytes: bytes | None = None

    def raw(self) -> bytes:
        return self.raw_bytes if self.raw_bytes is not None else self.path.read_bytes()


def shared_labels() -> dict[str, str]:
    """The shared corpora's labelled messages (sisimai, flanker), by path under CORPORA."""
    return {item.name: item.kind for item in sisimai() + flanker()}


def sisimai() -> list[Labelled]:
    root = CORPORA / "sisimai-bounces"
    rows: dict[str, list[str]] = defaultdict(list)
    for line in (root / "expected.tsv").read_text().splitlines()[1:]:
        name, reason = line.split("\t")[0], line.split("\t")[3]
        rows[name].append(reason)
    found = []
    for name, reasons in rows.items():
        kind = SISIMAI_KIND.get(reasons[0], "bounce")
        if name in SISIMAI_DELAY_NOTICES:
            kind = "delay_warning"
        count = len(reasons) if kind == "bounce" else None
        path = root / "bounces" / name
        label = f"sisimai-bounces/bounces/{name}"
        found.append(Labelled("sisimai", label, path, kind, None, count))
    for path in sorted((root / "not-bounces").glob("*.eml")):
        found.append(Labelled("sisimai", str(path.relative_to(CORPORA)), path, "normal"))
    return found


def flanker() -> list[Labelled]:
    root = CORPORA / "flanker"
    found = []
    for line in (root / "labels.tsv").read_text().splitlines()[1:]:
        name, label = line.split("\t")[:2]
        kind = "normal" if label == "not_bounce" else label
        path = root / "messages" / name
        found.append(Labelled("flanker", f"flanker/messages/{name}", path, kind))
    return found


def wild() -> list[Labelled]:
    found = []
    for line in (WILD / "labels.tsv").read_text().splitlines()[1:]:
        name, kind, failed = [*line.split("\t"), ""][:3]
        addresses = tuple(failed.split())
        source = "wild/" + name.split("/")[0]
        found.append(Labelled(source, name, WILD / name, kind, addresses or None))
    return found


def archives() -> Iterator[Labelled]:
    """People's mail from list archives: notmuch, LKML and the Apache mboxes."""
    for path in sorted((CORPORA / "notmuch").rglob("*")):
        if path.is_file() and path.suffix not in (".md", ".txt", ".tsv"):
            kind = ARCHIVED_MACHINE_MAIL.get(path.name.removesuffix(".len.eml"), "normal")
            yield Labelled("archives", str(path.relative_to(CORPORA)), path, kind)
    for path in sorted((CORPORA / "ponymail" / "mbox").glob("*.mbox")):
        for i, message in enumerate(mailbox.mbox(path)):
            name = f"{path.relative_to(CORPORA)}#{i}"
            yield Labelled("archives", name, path, "normal", raw_bytes=message.as_bytes())


def everything() -> list[Labelled]:
    """Every labelled message of every corpus that is present."""
    found = wild()
    if CORPORA.is_dir():
        found = sisimai() + flanker() + found + list(archives())
    return found


def address_right(item: Labelled, msg: ParsedMessage, failed: tuple[str, ...]) -> bool | None:
    """Whether ``failed`` are the failed addresses; None when nothing says which they are.

    Exact for the wild fixtures. sisimai gives one row per failed recipient but not the
    address: there the number must be right and each address attested where the bounce says
    who it was for (when it says so anywhere). sisimai anonymised some originals differently
    from the notice around them, and Bcc'd recipients are in no To, so a few right answers
    count as misses.
    """
    if item.failed is not None:
        return sorted(failed) == sorted(item.failed)
    if not item.failed_count:
        return None
    attested = attestations(msg)
    return len(failed) == item.failed_count and (not attested or all(a in attested for a in failed))


def attestations(msg: ParsedMessage) -> str:
    """Where a failed address of a sisimai bounce must appear, if the bounce says: the
    original's To and Cc, the ``for <...>`` of its Received lines, a ``RCPT TO:<...>``
    in the transcript, or the DSN's recipient fields (lower-cased, run together)."""
    parts = [h.get(name, "") for h in msg.enclosed_headers for name in ("to", "cc")]
    parts += [h.get("received", "") for h in msg.enclosed_headers]
    parts += [m.group(2) for m in RCPT_TO.finditer(msg.text)]
    parts += [x for r in msg.delivery_status for x in r.splitlines() if "recipient" in x.lower()]
    return " ".join(parts).lower() if any("@" in p for p in parts) else ""
