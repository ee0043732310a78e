"""Benchmark: thread 100,000 synthetic list messages, against the jwzthreading package.

Run as ``.venv/bin/python bench/threads.py [--messages N] [--seed S]``. The input has
realistic shapes: many short threads and a few long ones, random reply trees, missing
parents, messages out of date order, replies whose only link is the subject, reply and
forward prefixes in several languages, and some missing dates.

jwzthreading (PyPI, 0.91) is written in Python 2. When its import fails for that reason
the bench converts its source with the standard library's lib2to3 and gives its
``Container`` class the one attribute slot its code assigns but does not declare; the
threading code itself runs unchanged. Without the package the comparison is skipped.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import random
import resource
import sys
import time
import tracemalloc
import types
import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

REPLY_PREFIXES = ["Re: ", "Re: ", "Re: ", "RE: ", "AW: ", "Re[2]: ", "SV: ", "Fwd: ", "回复："]
WORDS = [
    "wage", "bargaining", "youth", "employment", "skills", "green", "jobs", "migration",
    "survey", "report", "meeting", "agenda", "minutes", "draft", "policy", "council",
    "tripartite", "dialogue", "training", "budget", "review",
]  # fmt: skip


def _thread_size(rng: random.Random) -> int:
    """Mostly short threads, a long tail of big ones."""
    return min(400, int(rng.paretovariate(1.2)))


def generate(
    count: int, seed: int, prefixes: list[str] = REPLY_PREFIXES, headerless: float = 0.01
) -> list[Any]:
    """``count`` synthetic messages: random trees, gaps, disorder, lost headers, odd dates."""
    from mailhub.threads.jwz import ThreadMessage

    rng = random.Random(seed)
    start = datetime(2020, 1, 1, tzinfo=UTC)
    messages: list[ThreadMessage] = []
    thread_no = 0
    written = int(count / 0.97) + 100
    while len(messages) < written:
        thread_no += 1
        topic = " ".join(rng.sample(WORDS, 3)) + f" {thread_no}"
        when = start + timedelta(minutes=rng.randrange(3_000_000))
        chains: list[list[str]] = []
        for index in range(min(_thread_size(rng), written - len(messages))):
            mid = f"{thread_no}.{index}.{rng.getrandbits(32):08x}@lists.example.org"
            if index == 0:
                chains.append([mid])
                refs: list[str] = []
                subject = f"[IRNet] {topic}"
            else:
                # Replies favour recent messages, as discussions do.
                parent = chains[max(0, index - 1 - int(rng.expovariate(0.3)))]
                chains.append([*parent, mid])
                refs = parent[-20:] if rng.random() > 0.05 else parent[-1:]
                subject = rng.choice(prefixes) + f"[IRNet] {topic}"
                if rng.random() < headerless:
                    refs = []  # a client that drops headers: only the subject links it
            when += timedelta(minutes=rng.randrange(1, 600))
            date = None if rng.random() < 0.005 else when
            messages.append(ThreadMessage(mid, refs, subject, date))
    # Some parents never reach the archive.
    kept = [message for message in messages if rng.random() > 0.03][:count]
    kept.sort(key=lambda message: message.date or start)
    # Archives and imports are only roughly in date order.
    for _ in range(len(kept) // 10):
        i, j = rng.randrange(len(kept)), rng.randrange(len(kept))
        kept[i], kept[j] = kept[j], kept[i]
    return kept


def load_jwzthreading() -> types.ModuleType | None:
    """Import jwzthreading, converting its Python 2 source if need be; None if absent."""
    try:
        import jwzthreading  # type: ignore[import-not-found]

        return jwzthreading
    except ImportError:
        print("jwzthreading: not installed (pip install jwzthreading); comparison skipped")
        return None
    except SyntaxError:
        pass
    spec = importlib.util.find_spec("jwzthreading")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from lib2to3 import refactor

        tool = refactor.RefactoringTool(refactor.get_fixers_from_package("lib2to3.fixes"))
        source = Path(spec.origin).read_text() + "\n"  # type: ignore[union-attr, arg-type]
        module = types.ModuleType("jwzthreading")
        exec(compile(str(tool.refactor_string(source, "jwzthreading")), spec.origin, "exec"),
             module.__dict__)  # fmt: skip
    except Exception as error:
        print(f"jwzthreading: installed but cannot be loaded ({error!r}); comparison skipped")
        return None
    base = module.Container
    module.Container = type("Container", (base,), {"__slots__": ("message_id",)})
    print("jwzthreading: Python 2 source converted with lib2to3 for this run")
    return module


def best_time(run: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Fastest of several runs, and the last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        # Free the previous run's trees first, so no run pays for another's garbage.
        result = None
        gc.collect()
        began = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - began)
    return best, result


def peak_memory(run: Callable[[], Any]) -> int:
    """Peak bytes allocated by Python during one run."""
    gc.collect()
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


Views = tuple[dict[str, frozenset[str]], dict[str, str | None], dict[str, str | None]]


def our_threads(roots: list[Any]) -> Views:
    """Thread-mates, parent id and root id of every message in our output."""
    from mailhub.threads.jwz import iter_nodes

    mates: dict[str, frozenset[str]] = {}
    parents: dict[str, str | None] = {}
    tops: dict[str, str | None] = {}
    for root in roots:
        ids = frozenset(n.message_id for n in root.walk() if n.message is not None)
        for mid in ids:
            mates[mid] = ids
            tops[mid] = root.message_id
    for node in iter_nodes(roots):
        if node.message is not None:
            parents[node.message_id] = node.parent.message_id if node.parent else None
    return mates, parents, tops


def _jwz_id(container: Any) -> str | None:
    if container.message is not None:
        return container.message.message_id
    return getattr(container, "message_id", None) or ""


def their_threads(table: dict[str, Any]) -> Views:
    """Thread-mates, parent id and root id of every message in jwzthreading's output."""
    mates: dict[str, frozenset[str]] = {}
    parents: dict[str, str | None] = {}
    tops: dict[str, str | None] = {}
    for root in table.values():
        stack, ids = [root], []
        while stack:
            container = stack.pop()
            stack.extend(container.children)
            if container.message is not None:
                ids.append(container.message.message_id)
                parents[ids[-1]] = _jwz_id(container.parent) if container.parent else None
        for mid in ids:
            mates[mid] = frozenset(ids)
            tops[mid] = _jwz_id(root)
    return mates, parents, tops


def share(ours: dict[str, Any], theirs: dict[str, Any]) -> float:
    """Share of our messages for which both outputs say the same."""
    same = sum(1 for mid, value in ours.items() if theirs.get(mid, ...) == value)
    return same / len(ours)


def to_jwz(module: types.ModuleType, messages: list[Any]) -> list[Any]:
    """The same input as jwzthreading Message objects."""
    converted = []
    for message in messages:
        item = module.Message()
        item.message_id = message.message_id
        item.references = list(message.references)
        item.subject = message.subject
        converted.append(item)
    return converted


def compare(module: types.ModuleType, messages: list[Any], label: str) -> None:
    """Print how far our threads and jwzthreading's agree on the same input."""
    from mailhub.threads.jwz import build_threads

    ours = our_threads(build_threads(messages))
    theirs = their_threads(module.thread(to_jwz(module, messages)))
    print(f"agreement with jwzthreading, {label}:")
    for name, index in (("same root", 2), ("same parent", 1), ("same thread-mates", 0)):
        print(f"  {name + ':':19} {share(ours[index], theirs[index]):7.2%} of messages")
    print(f"  missing from jwzthreading's output: {len(ours[0]) - len(theirs[0]):,}")


def main() -> None:
    from mailhub.threads.jwz import build_threads

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=20240301)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    messages = generate(args.messages, args.seed)
    print(f"input: {len(messages):,} messages")
    ours_s, roots = best_time(lambda: build_threads(messages), args.repeat)
    print(f"mailhub build_threads: {ours_s:.3f} s, {len(roots):,} threads")
    our_peak = peak_memory(lambda: build_threads(messages)) / 2**20
    print(f"mailhub peak traced memory: {our_peak:.1f} MiB")

    module = load_jwzthreading()
    if module is not None:
        sys.setrecursionlimit(max(sys.getrecursionlimit(), 100_000))
        converted = to_jwz(module, messages)
        theirs_s, table = best_time(lambda: module.thread(converted), args.repeat)
        print(f"jwzthreading thread:   {theirs_s:.3f} s, {len(table):,} threads")
        jwz_peak = peak_memory(lambda: module.thread(converted)) / 2**20
        print(f"jwzthreading peak traced memory: {jwz_peak:.1f} MiB")
        print(f"speed-up: {theirs_s / ours_s:.1f}x")
        compare(module, messages, "bench input")
        # jwzthreading's subject pattern leaves a space behind "Re: ", so it never
        # joins a reply that lost its headers to its original by subject. Without such
        # replies, and with only the prefixes it knows, the outputs can be compared
        # on the header-based threading alone.
        plain = generate(args.messages, args.seed, prefixes=["Re: "], headerless=0.0)
        compare(module, plain, 'no header-less replies, "Re:" prefixes only')
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"process peak RSS: {maxrss:.0f} MiB")


if __name__ == "__main__":
    main()
