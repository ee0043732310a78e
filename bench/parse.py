"""Messages per second for parse_message + classify over the real-mail corpora.

Run: .venv/bin/python bench/parse.py [rounds]. The service must sustain ~300 messages/s.
"""

from __future__ import annotations

import contextlib
import mailbox
import sys
import time
from pathlib import Path

from mailhub.inbound.classify import classify
from mailhub.inbound.parse import UnparseableMessage, parse_message

CORPORA = Path(__file__).resolve().parents[1].parent / "shared" / "corpora"


def load() -> list[bytes]:
    raws = [p.read_bytes() for p in sorted(CORPORA.rglob("*.eml"))]
    for path in sorted((CORPORA / "ponymail" / "mbox").glob("*.mbox")):
        raws.extend(message.as_bytes() for message in mailbox.mbox(path))
    return raws


def run(raws: list[bytes]) -> float:
    start = time.perf_counter()
    for raw in raws:
        with contextlib.suppress(UnparseableMessage):
            classify(parse_message(raw))
    return time.perf_counter() - start


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    raws = load()
    size = sum(map(len, raws)) / 1e6
    best = min(run(raws) for _ in range(rounds))
    print(f"{len(raws)} messages ({size:.1f} MB), best of {rounds}: {len(raws) / best:.0f} msg/s")


if __name__ == "__main__":
    main()
