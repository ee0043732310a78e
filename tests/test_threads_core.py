"""Threading core: header parsing, tree building, and the trees real corpora expect."""

from __future__ import annotations

import itertools
import mailbox
import re
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest
from needs import need

from mailhub.threads.jwz import (
    ThreadMessage,
    ThreadNode,
    build_threads,
    iter_nodes,
    parse_message_ids,
    root_id_map,
    thread_message_from_email,
    thread_root_ids,
)

CORPORA = Path(__file__).resolve().parents[1].parent / "shared" / "corpora"
START = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


def msg(mid: str, *refs: str, subject: str = "", minute: int | None = 0) -> ThreadMessage:
    """A message posted ``minute`` minutes after START (None: no date)."""
    date = None if minute is None else START + timedelta(minutes=minute)
    return ThreadMessage(mid, list(refs), subject, date)


def render(roots: list[ThreadNode]) -> list[str]:
    """One line per node, two spaces per level; placeholders in parentheses."""
    lines = []
    for node in iter_nodes(roots):
        depth, up = 0, node.parent
        while up is not None:
            depth, up = depth + 1, up.parent
        label = node.message_id if node.message is not None else f"({node.message_id})"
        lines.append("  " * depth + label)
    return lines


# --- header parsing -------------------------------------------------------------------


def test_parse_message_ids_keeps_order_and_strips_brackets() -> None:
    assert parse_message_ids("<a@x> <b@x>\r\n\t<c@x>") == ["a@x", "b@x", "c@x"]


def test_parse_message_ids_rejoins_an_id_folded_inside() -> None:
    assert parse_message_ids("<long-part-one\r\n part-two@x>") == ["long-part-onepart-two@x"]


def test_parse_message_ids_ignores_garbage_around_ids() -> None:
    header = 'Your message of "Mon, 1 Jan" <abc@x> (John Doe), <>'
    assert parse_message_ids(header) == ["abc@x"]


def test_parse_message_ids_accepts_ids_without_brackets() -> None:
    assert parse_message_ids(" a@x, b@x ") == ["a@x", "b@x"]


def test_parse_message_ids_refuses_prose_without_brackets() -> None:
    assert parse_message_ids("message from john@example.org of Monday") == []
    assert parse_message_ids(None) == []
    assert parse_message_ids("") == []


def test_in_reply_to_becomes_the_last_reference() -> None:
    message = ThreadMessage.from_headers("<m@x>", "<a@x> <b@x>", "<c@x> (garbage)")
    assert message.message_id == "m@x"
    assert message.references == ["a@x", "b@x", "c@x"]


def test_in_reply_to_already_last_is_not_repeated() -> None:
    message = ThreadMessage.from_headers("<m@x>", "<a@x> <b@x>", "<b@x>")
    assert message.references == ["a@x", "b@x"]


def test_in_reply_to_wins_over_misordered_references() -> None:
    message = ThreadMessage.from_headers("<m@x>", "<child@x> <root@x>", "<child@x>")
    assert message.references == ["root@x", "child@x"]


def test_self_reference_is_dropped_from_headers() -> None:
    message = ThreadMessage.from_headers("<m@x>", "<a@x> <m@x>", "<m@x>")
    assert message.references == ["a@x"]


def test_email_headers_are_read_tolerantly() -> None:
    email = EmailMessage()
    email["Message-ID"] = "<m@x>"
    email["References"] = "<a@x>"
    email["In-Reply-To"] = "<b@x>"
    email["Subject"] = "Re: Budget"
    email["Date"] = "not a date at all"
    message = thread_message_from_email(email)
    assert (message.message_id, message.references) == ("m@x", ["a@x", "b@x"])
    assert (message.subject, message.date) == ("Re: Budget", None)


def test_email_without_message_id_takes_the_fallback() -> None:
    email = EmailMessage()
    email["Date"] = "Mon, 04 Mar 2024 10:00:00 +0100"
    message = thread_message_from_email(email, fallback_id="spool-17")
    assert message.message_id == "spool-17"
    assert message.date == datetime(2024, 3, 4, 9, 0, tzinfo=UTC)


# --- tree building ----------------------------------------------------------------------


def test_replies_hang_below_their_parents_in_date_order() -> None:
    roots = build_threads(
        [
            msg("root"),
            msg("late", "root", minute=9),
            msg("early", "root", minute=2),
            msg("deep", "root", "early", minute=5),
        ]
    )
    assert render(roots) == ["root", "  early", "    deep", "  late"]


def test_missing_parent_becomes_a_placeholder_until_it_arrives() -> None:
    replies = [msg("r1", "gone", minute=1), msg("r2", "gone", minute=2)]
    assert render(build_threads(replies)) == ["(gone)", "  r1", "  r2"]
    later = [*replies, msg("gone", minute=0)]
    assert render(build_threads(later)) == ["gone", "  r1", "  r2"]


def test_lone_placeholder_is_pruned_and_its_child_promoted() -> None:
    roots = build_threads([msg("r1", "gone", minute=1)])
    assert render(roots) == ["r1"]
    assert roots[0].parent is None


def test_missing_middle_of_a_chain_is_spliced_out() -> None:
    roots = build_threads([msg("a"), msg("c", "a", "b", minute=2)])
    assert render(roots) == ["a", "  c"]


def test_arrival_order_does_not_change_the_tree() -> None:
    messages = [
        msg("a", minute=0),
        msg("b", "a", minute=1),
        msg("c", "a", "b", minute=2),
        msg("d", "x", "a", minute=3),
        msg("e", "ghost", "b", minute=4),
        msg("f", "a", minute=None),
    ]
    expected = render(build_threads(messages))
    assert expected == ["a", "  b", "    c", "    e", "  d", "  f"]
    for order in itertools.permutations(messages):
        assert render(build_threads(order)) == expected


def test_reference_loop_terminates_with_the_earliest_message_on_top() -> None:
    loop = [msg("one", "two", minute=0), msg("two", "three", minute=1)]
    loop.append(msg("three", "one", minute=2))
    assert render(build_threads(loop)) == ["one", "  three", "    two"]


def test_self_reference_does_not_make_a_cycle() -> None:
    roots = build_threads([ThreadMessage("me", ["me"], "", START)])
    assert render(roots) == ["me"]


def test_duplicate_message_id_keeps_the_first_delivery() -> None:
    first = msg("dup", "a", minute=1)
    second = msg("dup", "b", minute=2)
    roots = build_threads([msg("a"), msg("b", minute=3), first, second])
    assert render(roots) == ["a", "  dup", "b"]
    assert roots[0].children[0].message is first


def test_missing_dates_sort_last_and_mixed_time_zones_compare() -> None:
    plus_two = timezone(timedelta(hours=2))
    messages = [
        ThreadMessage("undated", ["root"], "", None),
        ThreadMessage("naive", ["root"], "", datetime(2024, 3, 1, 10, 0)),
        ThreadMessage("aware", ["root"], "", datetime(2024, 3, 1, 11, 30, tzinfo=plus_two)),
        ThreadMessage("root", [], "", START),
    ]
    assert render(build_threads(messages)) == ["root", "  aware", "  naive", "  undated"]


def test_message_without_id_is_refused() -> None:
    with pytest.raises(ValueError, match="Message-ID"):
        build_threads([msg("")])


def test_deep_thread_needs_no_recursion() -> None:
    chain = [msg("m0")] + [msg(f"m{i}", f"m{i - 1}", minute=i) for i in range(1, 5000)]
    roots = build_threads(reversed(chain))
    assert len(roots) == 1
    assert sum(1 for _ in iter_nodes(roots)) == 5000


def test_subject_groups_a_reply_below_its_original() -> None:
    messages = [
        msg("orig", subject="[IRNet] Budget", minute=0),
        msg("reply", subject="AW: RE: [IRNet] budget", minute=5),
    ]
    assert render(build_threads(messages)) == ["orig", "  reply"]
    apart = render(build_threads(messages, group_by_subject=False))
    assert apart == ["orig", "reply"]


def test_subject_reply_found_before_its_original_still_goes_below_it() -> None:
    messages = [msg("reply", subject="Re: Budget", minute=0)]
    messages.append(msg("orig", subject="Budget", minute=5))
    assert render(build_threads(messages)) == ["orig", "  reply"]


def test_two_originals_with_one_subject_share_a_new_placeholder() -> None:
    messages = [msg("one", subject="Agenda", minute=0), msg("two", subject="agenda", minute=1)]
    roots = build_threads(messages)
    assert render(roots) == ["()", "  one", "  two"]
    assert root_id_map(roots) == {"one": "one", "two": "one"}


def test_subject_grouping_joins_placeholder_threads() -> None:
    messages = [
        msg("r1", "lost-1", subject="Re: Skills", minute=1),
        msg("r2", "lost-1", subject="Re: Skills", minute=2),
        msg("r3", "lost-2", subject="Re: skills", minute=3),
        msg("other", subject="Regional meeting", minute=4),
    ]
    assert render(build_threads(messages)) == ["(lost-1)", "  r1", "  r2", "  r3", "other"]


def test_thread_root_ids_maps_every_message_to_its_root() -> None:
    messages = [msg("a"), msg("b", "a", minute=1), msg("c", "b", minute=2), msg("z", minute=3)]
    assert thread_root_ids(messages) == {"a": "a", "b": "a", "c": "a", "z": "z"}
    orphans = [msg("r1", "gone", minute=1), msg("r2", "gone", minute=2)]
    assert thread_root_ids(orphans) == {"r1": "gone", "r2": "gone"}


# --- real corpora -----------------------------------------------------------------------

PARSER = BytesParser(policy=policy.default)


def _corpus(*parts: str) -> Path:
    path = CORPORA.joinpath(*parts)
    need(path.exists(), f"corpus not present at {path}")
    return path


def _read_eml(folder: Path) -> list[tuple[Path, EmailMessage]]:
    pairs = []
    for path in sorted(folder.rglob("*.eml")):
        with path.open("rb") as handle:
            pairs.append((path, PARSER.parse(handle)))
    return pairs


def _messages(pairs: list[tuple[Path, EmailMessage]]) -> list[ThreadMessage]:
    return [thread_message_from_email(email, str(path)) for path, email in pairs]


def _expected_trees(text: str) -> list[list[str]]:
    """Read expected-trees.txt into one rendered tree per thread."""
    trees: list[list[str]] = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        indent = len(line) - len(line.lstrip(" "))
        found = re.search(r"<([^>]+)>", line)
        assert found, line
        label = found.group(1)
        if line.lstrip().startswith("(missing"):
            label = f"({label})"
        if indent == 0:
            trees.append([])
        trees[-1].append(" " * indent + label)
    return trees


def test_notmuch_threading_traps_give_the_expected_trees() -> None:
    folder = _corpus("notmuch", "threading")
    expected = _expected_trees((folder / "expected-trees.txt").read_text())
    roots = build_threads(_messages(_read_eml(folder)), group_by_subject=False)
    built = [render([root]) for root in roots]
    assert len(expected) == 3
    assert sorted(built) == sorted(expected)


def _newest_day(dates: list[datetime | None]) -> str:
    return max(date for date in dates if date is not None).astimezone(UTC).strftime("%Y-%m-%d")


def _author(email: EmailMessage) -> str:
    sender = email["From"].addresses[0]
    return sender.display_name or sender.addr_spec


@pytest.mark.parametrize("group_by_subject", [False, True])
def test_notmuch_list_month_gives_the_expected_threads(group_by_subject: bool) -> None:
    folder = _corpus("notmuch", "default")
    rows = (folder / "expected-threads.tsv").read_text(encoding="utf-8").splitlines()[1:]
    expected = Counter()
    for row in rows:
        day, count, files, authors, subject = row.split("\t")
        expected[(day, int(count), int(files), frozenset(authors.split(", ")), subject)] += 1
    pairs = _read_eml(folder)
    by_id: dict[str, list[EmailMessage]] = {}
    for message, (_, email) in zip(_messages(pairs), pairs, strict=True):
        by_id.setdefault(message.message_id, []).append(email)
    built = Counter()
    for root in build_threads(_messages(pairs), group_by_subject=group_by_subject):
        nodes = [node for node in root.walk() if node.message is not None]
        emails = [email for node in nodes for email in by_id[node.message_id]]
        # notmuch names a thread by its newest message, less one leading "Re: ".
        newest = max(nodes, key=lambda node: node.message.date)
        subject = " ".join(newest.message.subject.removeprefix("Re: ").split())
        day = _newest_day([node.message.date for node in nodes])
        authors = frozenset(_author(email) for email in emails)
        built[(day, len(nodes), len(emails), authors, subject)] += 1
    assert sum(expected.values()) == 24
    assert built == expected


def test_notmuch_reference_loop_terminates_and_keeps_both() -> None:
    folder = _corpus("notmuch", "broken", "loop")
    roots = build_threads(_messages(_read_eml(folder)))
    assert render(roots) == ["mid-loop-12@example.org", "  mid-loop-21@example.org"]


def test_notmuch_duplicates_keep_one_node_per_message_id() -> None:
    pairs = _read_eml(_corpus("notmuch", "duplicate"))
    messages = _messages(pairs)
    roots = build_threads(messages)
    ids = [node.message_id for node in iter_nodes(roots) if node.message is not None]
    assert len(pairs) == 9
    assert sorted(ids) == sorted({message.message_id for message in messages})
    assert len(ids) == 3
    # Five deliveries of one id with five different References: the first one counts.
    first = next(m for m in messages if m.message_id.startswith("87r2ecrr6x"))
    kept = next(n for n in iter_nodes(roots) if n.message_id == first.message_id)
    assert kept.message is first


def _reference_groups(messages: list[ThreadMessage]) -> set[frozenset[str]]:
    """Group messages that References/In-Reply-To connect, directly or through others."""
    leader: dict[str, str] = {}

    def find(key: str) -> str:
        leader.setdefault(key, key)
        while leader[key] != key:
            leader[key] = leader[leader[key]]
            key = leader[key]
        return key

    for message in messages:
        for ref in message.references:
            leader[find(ref)] = find(message.message_id)
    groups: dict[str, set[str]] = {}
    for message in messages:
        groups.setdefault(find(message.message_id), set()).add(message.message_id)
    return {frozenset(group) for group in groups.values()}


def _check_against_own_headers(messages: list[ThreadMessage]) -> list[ThreadNode]:
    """Assert the threads are what the messages' own headers imply; return the roots."""
    roots = build_threads(messages, group_by_subject=False)
    built = {frozenset(n.message_id for n in root.walk() if n.message) for root in roots}
    assert built == _reference_groups(messages)
    known = {message.message_id for message in messages}
    for node in iter_nodes(roots):
        refs = node.message.references if node.message else []
        if refs and refs[-1] in known:
            assert node.parent is not None and node.parent.message_id == refs[-1]
    return roots


def _mbox_messages(path: Path) -> list[ThreadMessage]:
    box = mailbox.mbox(path, factory=PARSER.parse, create=False)
    try:
        return [
            thread_message_from_email(email, f"{path.name}:{index}")
            for index, email in enumerate(box)
        ]
    finally:
        box.close()


def test_notmuch_lkml_patch_series_follow_their_headers() -> None:
    messages = _messages(_read_eml(_corpus("notmuch", "lkml")))
    roots = _check_against_own_headers(messages)
    assert len(messages) == 210
    assert len(roots) == 7


PONYMAIL_MBOXES = [
    "maven-dev-2017-11-listsao.mbox",
    "httpd-users-2020-07.mbox",
    "asterix-dev-201709-mailarchivesao.mbox",
    "httpd-users-200606-part.mbox",
]


@pytest.mark.parametrize("name", PONYMAIL_MBOXES)
def test_ponymail_archive_threads_follow_their_headers(name: str) -> None:
    messages = _mbox_messages(_corpus("ponymail", "mbox") / name)
    roots = _check_against_own_headers(messages)
    assert any(len(root.children) > 1 for root in roots)


def test_ponymail_message_ids_match_the_archive_index() -> None:
    folder = _corpus("ponymail")
    expected_yaml = (folder / "expected" / "par-maven-dev-2017-11-listsao.yaml").read_text()
    listed = re.findall(r"^\s+message-id: (.*)$", expected_yaml, flags=re.MULTILINE)
    expected = [value.strip().strip("'<>") for value in listed]
    box = mailbox.mbox(folder / "mbox" / "maven-dev-2017-11-listsao.mbox", factory=PARSER.parse)
    try:
        ids = [thread_message_from_email(email).message_id for email in box]
    finally:
        box.close()
    assert len(ids) == 320
    assert "" in expected
    assert ids == expected


def test_ponymail_copies_from_four_archivers_make_ten_messages() -> None:
    folder = _corpus("ponymail", "mbox")
    messages = []
    for path in sorted(folder.glob("maven_duplicates_2017_*.mbox")):
        messages.extend(_mbox_messages(path))
    ids = thread_root_ids(messages, group_by_subject=False)
    assert len(messages) == 40
    assert len(ids) == 10
    assert ids == thread_root_ids(messages[:10], group_by_subject=False)


def test_nmh_in_reply_to_names_its_parent_last() -> None:
    """nmh/exmh: ``Message from NAME <addr> of "date." <id>``; the address is not the parent."""
    header = (
        'Message from Jamie Zawinski <jwz@jwz.org>\r\n   of "Tue, 04 Nov 1997 14:16:28 PST."'
        " <34600FDD.3FC@jwz.org>"
    )
    message = ThreadMessage.from_headers("<r@x>", in_reply_to=header)
    assert message.references == ["34600FDD.3FC@jwz.org"]


def test_emacs_in_reply_to_comment_never_names_the_parent() -> None:
    header = '<a1@x> (Ann <ann@example.org>\'s message of "Tue, 17 Nov 2009 14:00:54")'
    assert ThreadMessage.from_headers("<r@x>", in_reply_to=header).references == ["a1@x"]
