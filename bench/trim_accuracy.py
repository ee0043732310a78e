"""Accuracy and speed of reply trimming on the shared reply corpora.

Prints, for our trimmer and for each reply-parsing library that is installed
(email-reply-parser, mail-parser-reply, talon, quotequail), the share of fixtures whose
visible reply matches the expected one, per corpus, and the mean time per message.

"Matches" means equal after normalising whitespace: line endings become LF, trailing
whitespace is removed from every line, and blank lines at either end are dropped.
Nothing else is forgiven (inner blank lines, indentation and wording must agree).

Usage: python bench/trim_accuracy.py [--verbose]
"""

from __future__ import annotations

import json
import random
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from mailhub.inbound.trim import trim_reply

CORPORA = Path(__file__).resolve().parents[1].parent / "shared" / "corpora"
DISCOURSE = CORPORA / "email_reply_trimmer"
GITHUB = CORPORA / "email_reply_parser"

Trimmer = Callable[[str], str]


@dataclass(frozen=True)
class Case:
    """One fixture: an input body and a check on the visible reply."""

    corpus: str
    name: str
    body: str
    check: Callable[[str], bool]
    expected: str


def normalise(text: str) -> str:
    """Whitespace normalisation used for every comparison (see module docstring)."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    while lines and not lines[0]:
        lines.pop(0)
    return "\n".join(lines)


def discourse_cases(root: Path = DISCOURSE) -> Iterator[Case]:
    """Every Discourse fixture: the trimmed body must equal trimmed/NAME.txt."""
    for path in sorted((root / "emails").glob("*.txt")):
        expected = normalise((root / "trimmed" / path.name).read_text(encoding="utf-8"))
        body = path.read_text(encoding="utf-8")
        yield Case("discourse", path.stem, body, _equals(expected), expected)


def github_cases(root: Path = GITHUB) -> Iterator[Case]:
    """Every GitHub fixture with an expectation on the visible reply."""
    expectations = json.loads((root / "expected.json").read_text(encoding="utf-8"))
    for name, spec in sorted(expectations.items()):
        body = (root / "emails" / name).read_text(encoding="utf-8")
        stem = name.removesuffix(".txt")
        if "reply_equals" in spec:
            want = normalise(spec["reply_equals"])
            yield Case("github", stem, body, _equals(want), want)
        elif "reply_starts_with" in spec:
            want = spec["reply_starts_with"]
            yield Case("github", stem, body, lambda got, w=want: got.startswith(w), want + "...")
        elif "reply_contains" in spec:
            want = spec["reply_contains"]
            yield Case("github", stem, body, lambda got, w=want: w in got, "..." + want + "...")
        elif spec.get("single_fragment"):
            want = normalise(body)
            yield Case("github", stem, body, _equals(want), want)


def _equals(expected: str) -> Callable[[str], bool]:
    return lambda got: normalise(got) == expected


def all_cases() -> list[Case]:
    return [*discourse_cases(), *github_cases()]


def ours(text: str) -> str:
    return trim_reply(text).text


def _libraries() -> dict[str, Trimmer]:
    """The comparable libraries that are installed, each as body -> visible reply."""
    found: dict[str, Trimmer] = {}
    try:
        from email_reply_parser import EmailReplyParser

        found["email-reply-parser"] = EmailReplyParser.parse_reply
    except ImportError:
        pass
    try:
        from mailparser_reply import EmailReplyParser as MultiLanguageParser

        languages = ["en", "de", "fr", "es", "it", "nl", "da", "sv", "pl", "cs", "ja", "zh"]
        parser = MultiLanguageParser(languages=languages)
        found["mail-parser-reply"] = lambda text: parser.parse_reply(text) or ""
    except ImportError:
        pass
    try:
        from talon import quotations

        found["talon"] = quotations.extract_from_plain
    except ImportError:
        pass
    try:
        import quotequail

        found["quotequail"] = lambda text: "\n".join(
            part for shown, part in quotequail.quote(text) if shown
        )
    except ImportError:
        pass
    return found


def score(trim: Trimmer, cases: list[Case]) -> tuple[dict[str, tuple[int, int]], float, list]:
    """Per-corpus (passed, total), mean seconds per message, and the failing cases."""
    totals: dict[str, tuple[int, int]] = {}
    failures = []
    started = time.perf_counter()
    for case in cases:
        try:
            ok = case.check(trim(case.body))
        except Exception:  # a library crashing on a fixture counts as a miss
            ok = False
        passed, total = totals.get(case.corpus, (0, 0))
        totals[case.corpus] = (passed + ok, total + 1)
        if not ok:
            failures.append(case)
    return totals, (time.perf_counter() - started) / len(cases), failures


def _timing_files() -> list[str]:
    return [
        (GITHUB / "emails" / name).read_text(encoding="utf-8")
        for name in ("email_long_quote.txt", "pathological.txt")
    ]


_WORDS = (
    "the of and to in is that for it as was with be by on not this are or from at which but"
    " have an they you were there would their we been has when who will more no if out so"
    " what up about into than them can only other new some could time these two may then"
)


def _prose_line(rng: random.Random, width: int = 150) -> str:
    vocabulary, words = _WORDS.split(), []
    while sum(len(w) + 1 for w in words) < width:
        words.append(rng.choice(vocabulary))
    return " ".join(words).capitalize() + "."


def synthetic_messages(count: int = 1000, seed: int = 1) -> dict[str, list[str]]:
    """The pipeline's two common shapes: 5 KB of prose, and a reply above a quote block."""
    rng = random.Random(seed)
    prose = ["\n".join(_prose_line(rng) for _ in range(30)) for _ in range(count)]
    replies = []
    for n in range(count):
        answer = "\n".join(_prose_line(rng) for _ in range(4))
        if n % 2:  # Gmail: an attribution over a '>' quote
            quoted = "\n".join("> " + _prose_line(rng, 74) for _ in range(25))
            history = (
                f"On Mon, Mar 4, 2024 at 10:00 AM Bob Smith <bob@example.com> wrote:\n\n{quoted}"
            )
        else:  # Outlook: a rule and a header block over the unquoted original
            quoted = "\n".join(_prose_line(rng, 74) for _ in range(25))
            history = (
                "________________________________\nFrom: Bob Smith <bob@example.com>\n"
                "Sent: Monday, March 4, 2024 10:00 AM\nTo: Ann Lee <ann@example.com>\n"
                f"Subject: RE: plans\n\n{quoted}"
            )
        replies.append(f"{answer}\n\nThanks,\nAnn\n\n{history}\n")
    return {"prose-only 5 KB": prose, "reply with quote": replies}


def microseconds_per_message(messages: list[str], rounds: int = 3) -> float:
    """Best of `rounds` mean times of trim_reply over the messages, in microseconds."""
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for body in messages:
            trim_reply(body)
        best = min(best, (time.perf_counter() - started) / len(messages))
    return best * 1e6


def main(argv: list[str]) -> int:
    if not CORPORA.is_dir():
        print(f"corpora not found at {CORPORA}")
        return 1
    cases = all_cases()
    trimmers: dict[str, Trimmer] = {"mailhub": ours, **_libraries()}
    print(f"{'trimmer':<20} {'discourse':>14} {'github':>14} {'all':>14} {'ms/msg':>8}")
    for label, trim in trimmers.items():
        totals, seconds, failures = score(trim, cases)
        row = [f"{p}/{t} {p / t:6.1%}" for p, t in totals.values()]
        passed = sum(p for p, _ in totals.values())
        row.append(f"{passed}/{len(cases)} {passed / len(cases):6.1%}")
        print(f"{label:<20} {row[0]:>14} {row[1]:>14} {row[2]:>14} {seconds * 1000:8.2f}")
        if "--verbose" in argv and failures:
            print("   fails:", ", ".join(f"{c.corpus}/{c.name}" for c in failures))
    started = time.perf_counter()
    for body in _timing_files():
        trim_reply(body)
    print(f"mailhub on the 766 KB quote and the regex trap: {time.perf_counter() - started:.3f}s")
    speeds = [
        f"{shape} {microseconds_per_message(messages):.0f}"
        for shape, messages in synthetic_messages().items()
    ]
    print("mailhub µs/msg:", ", ".join(speeds))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
