"""Bounce accuracy over every labelled corpus: what would be posted, and who is blamed.

Prints, per corpus and in total: bounces recognised (recall), the share of what is called a
bounce that is one (precision), machine mail that would be posted (bounces, delay warnings,
reports and auto-replies classified as a person's mail), people's mail taken for machine
mail, and failed-address accuracy; then every miss, one line each.

Failed addresses are right when they equal the label's addresses exactly (tests/fixtures/
wild) or, for sisimai, when their number is right and each is attested where the bounce
says who it was for: the To or Cc of the enclosed original, a ``for <...>`` in its Received
lines, a ``RCPT TO:<...>`` in the transcript, or the DSN's recipient fields (see
labelled_mail.address_right).

The envelope sender is taken from an mbox ``From `` line where a fixture has one (``From
MAILER-DAEMON`` is the null sender), as a mail server hands it to ``mailhub ingest``.

The corpora: tests/labelled_mail.py. Usage: python bench/bounces.py [--quiet]
"""

from __future__ import annotations

import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from labelled_mail import MACHINE, Labelled, address_right, everything

from mailhub.inbound.classify import classify
from mailhub.inbound.parse import UnparseableMessage, parse_message
from mailhub.outbound.bounces import parse_bounce


@dataclass(frozen=True)
class Result:
    item: Labelled
    kind: str
    reason: str
    failed: tuple[str, ...]
    address_right: bool | None  # None: nothing to check against


def envelope_sender(raw: bytes) -> str | None:
    """The sender of an mbox ``From `` line; "" for MAILER-DAEMON; None when there is none."""
    if not raw.startswith(b"From "):
        return None
    sender = raw.split(None, 2)[1].decode("ascii", "replace")
    return "" if sender.upper() == "MAILER-DAEMON" else sender


def judge(item: Labelled) -> Result:
    raw = item.raw()
    try:
        msg = parse_message(raw)
    except UnparseableMessage as exc:
        return Result(item, "quarantined", exc.reason, (), None)
    found = classify(msg, envelope_sender=envelope_sender(raw))
    failed: tuple[str, ...] = ()
    right = None
    if item.kind in ("bounce", "delay_warning"):
        failed = tuple(r.address for r in parse_bounce(msg).recipients)
        right = address_right(item, msg, failed)
    return Result(item, found.kind, found.reason, failed, right)


def share(part: int, whole: int) -> str:
    return f"{part}/{whole} {part / whole:6.1%}" if whole else "-"


def tally(results: list[Result]) -> Counter[str]:
    count: Counter[str] = Counter()
    for r in results:
        label, got = r.item.kind, r.kind
        count["bounces"] += label == "bounce"
        count["recognised"] += label == "bounce" and got == "bounce"
        count["called_bounce"] += got == "bounce"
        count["true_bounce"] += got == "bounce" and label == "bounce"
        count["machine"] += label in MACHINE
        count["machine_posted"] += label in MACHINE and got == "normal"
        count["people"] += label == "normal"
        count["people_as_machine"] += label == "normal" and got != "normal"
        count["address_checked"] += r.address_right is not None
        count["address_right"] += bool(r.address_right)
    return count


def row(name: str, c: Counter[str]) -> str:
    cells = [
        share(c["recognised"], c["bounces"]),
        share(c["true_bounce"], c["called_bounce"]),
        share(c["machine_posted"], c["machine"]),
        share(c["people_as_machine"], c["people"]),
        share(c["address_right"], c["address_checked"]),
    ]
    return f"{name:<22}" + "".join(f"{cell:>19}" for cell in cells)


def misses(results: list[Result]) -> list[str]:
    lines = []
    for r in results:
        label = r.item.kind
        if r.kind != label:
            lines.append(f"  {r.item.name}: {label} taken as {r.kind} ({r.reason})")
        elif r.address_right is False:
            want = " ".join(r.item.failed or ()) or f"{r.item.failed_count} in the original To"
            lines.append(f"  {r.item.name}: failed {' '.join(r.failed) or '-'}, want {want}")
    return lines


def main(argv: list[str]) -> int:
    started = time.perf_counter()
    results = [judge(item) for item in everything()]
    seconds = time.perf_counter() - started
    by_corpus: dict[str, list[Result]] = defaultdict(list)
    for r in results:
        by_corpus[r.item.corpus].append(r)
    heads = ("bounces found", "precision", "machine posted", "people as machine", "failed addr")
    print(f"{'corpus':<22}" + "".join(f"{h:>19}" for h in heads))
    for name, group in sorted(by_corpus.items()):
        print(row(name, tally(group)))
    total = tally(results)
    print(row("all", total))
    posted = Counter(r.item.kind for r in results if r.item.kind in MACHINE and r.kind == "normal")
    print("machine mail posted by kind:", dict(posted) or "none")
    print(f"{len(results)} messages in {seconds:.1f} s")
    if "--quiet" not in argv:
        print("misses:")
        print("\n".join(misses(results)) or "  none")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
