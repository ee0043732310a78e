"""Replies to a digest as a whole: placed under the one item they quote, or held.

A member who hits "reply" on a digest writes to the list address, and their client names
the digest's Message-ID (``digest-<community>-<due>-<person>@domain``, see letters.py) in
In-Reply-To or References. Posting that blindly would start a thread about "IRNet digest,
Monday ..." that answers nobody. So the quoted part of the reply is compared with the posts
that digest could hold: when exactly one of them is clearly quoted (a run of words found in
no other candidate, or its own reply address), the reply becomes an ordinary reply to that
post; otherwise it is held for a moderator and the sender is told how to reply to one item.

The digest id itself is never used for threading: it names a personal mail, not a post,
and two replies to one digest may answer two different conversations.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select

from mailhub import tokens
from mailhub.addresses import AddressBook, Kind
from mailhub.context import Context
from mailhub.digest.items import Item, approved_between
from mailhub.inbound.outcomes import DigestReply, Prepared
from mailhub.inbound.parse import ParsedMessage
from mailhub.inbound.trim import trim_reply
from mailhub.models import Community, DigestIssue, Person, Post, PostStatus
from mailhub.outbound.compose import Notice, owner_reply_to, send_notice
from mailhub.outbound.headers import reply_token
from mailhub.rendering import render
from mailhub.threads.subjects import display_subject, is_reply_subject

UNMATCHED = "reply to a whole digest, not matched to one item"
NOTE_TEMPLATE = "digest/whole_reply.txt"
NOTE_KIND = "digest-reply"
# How far back a digest's items may reach: a weekly digest, a missed week, a late approval.
LOOKBACK = timedelta(days=45)
# Quoted words are compared in runs of this many; a shorter run is too common to tell.
RUN = 6
# Runs of one item's own words that must be quoted (fewer when its text is shorter).
RUNS_NEEDED = 3
DIGEST_ID = re.compile(r"digest-(\d+)-(\d{8}T\d{4})Z-(\d+)@(.+)", re.IGNORECASE)
ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class DigestRef:
    """What a digest's Message-ID says: whose digest, of which community, due when."""

    community_id: int
    due_at: datetime
    person_id: int


@dataclass(frozen=True)
class Match:
    """The post a digest reply answers, or why it answers none (``quoted``: the items it
    quotes when there are several)."""

    parent_id: int | None
    quoted: tuple[Item, ...] = ()


def named_digest_ids(parsed: ParsedMessage, domain: str) -> list[str]:
    """The digest ids of this domain that In-Reply-To or References name (a string test:
    cheap enough for every message)."""
    suffix = "@" + domain.lower()
    return [
        value
        for value in (*parsed.in_reply_to, *parsed.references)
        if value[:7].lower() == "digest-" and value.lower().endswith(suffix)
    ]


def looks_like_digest_reply(parsed: ParsedMessage, community: Community) -> bool:
    """For clients that drop In-Reply-To and References: a reply subject naming the
    community's digest. (A reply with those headers is a reply to what they name.)"""
    if parsed.in_reply_to or parsed.references:
        return False
    return names_digest(parsed.subject, community) and is_reply_subject(parsed.subject)


def names_digest(subject: str, community: Community) -> bool:
    """Whether a subject is (a reply to) one of the community's digests."""
    folded = " ".join(subject.lower().split())
    # Our digests say "[IRNet] Digest, ..." (or "IRNet digest, ..." with no tag).
    marks = [f"{community.name} digest", *([f"{community.tag} digest"] if community.tag else [])]
    return any(m.lower() in folded for m in marks)


def read_digest_id(value: str) -> DigestRef | None:
    found = DIGEST_ID.fullmatch(value.strip())
    if found is None:
        return None
    try:
        due_at = datetime.strptime(found.group(2), "%Y%m%dT%H%M").replace(tzinfo=UTC)
    except ValueError:
        return None
    return DigestRef(int(found.group(1)), due_at, int(found.group(3)))


def words(text: str) -> list[str]:
    """Lower-case words: quote marks, line wrapping and punctuation do not count."""
    return WORD.findall(text.lower())


def runs(sequence: Sequence[str]) -> set[tuple[str, ...]]:
    if len(sequence) < RUN:
        return {tuple(sequence)} if sequence else set()
    return {tuple(sequence[i : i + RUN]) for i in range(len(sequence) - RUN + 1)}


def contains(haystack: Sequence[str], needle: Sequence[str]) -> bool:
    """Whether ``needle`` occurs as consecutive words in ``haystack``."""
    if not needle:
        return False
    return f" {' '.join(needle)} " in f" {' '.join(haystack)} "


def quoted_by_text(quoted: str, candidates: Sequence[Item]) -> set[int]:
    """The candidates of which the quote holds runs of words that no other candidate has.

    A short item (fewer than RUN words) counts when its whole text and its subject are
    quoted and its text is not another candidate's too.
    """
    said = words(quoted)
    if not said:
        return set()
    quoted_runs = runs(said)
    own = {item.post_id: runs(words(item.body)) for item in candidates}
    shared = Counter(run for item_runs in own.values() for run in item_runs)
    found: set[int] = set()
    for item in candidates:
        unique = {run for run in own[item.post_id] if shared[run] == 1}
        if not unique:
            continue
        body = words(item.body)
        if len(body) < RUN:
            if contains(said, body) and contains(said, words(item.subject)):
                found.add(item.post_id)
        elif len(unique & quoted_runs) >= min(RUNS_NEEDED, len(unique)):
            found.add(item.post_id)
    return found


def quoted_by_address(
    ctx: Context, book: AddressBook, community: Community, quoted: str
) -> set[int]:
    """The posts whose per-item reply address (a signed token) the quote holds."""
    found = set()
    for address in ADDRESS.findall(quoted):
        destination = book.resolve(address)
        if destination is None or destination.kind is not Kind.REPLY or not destination.token:
            continue
        if destination.community != community.slug:
            continue
        try:
            token = tokens.verify(ctx.secret, tokens.REPLY, destination.token, now=ctx.now())
            found.add(token.int_value(0))
        except (tokens.TokenError, ValueError, IndexError):
            continue
    return found


def judge(
    ctx: Context,
    session: Session,
    book: AddressBook,
    community: Community,
    quoted: str,
    candidates: Sequence[Item],
) -> Match:
    """One post clearly quoted → it; several or none → no parent."""
    ids = quoted_by_text(quoted, candidates) | quoted_by_address(ctx, book, community, quoted)
    by_id = {item.post_id: item for item in candidates}
    # A reply address may name a post older than the window: check it is a published one.
    valid = sorted(i for i in ids if i in by_id or _published(session, community, i))
    if len(valid) == 1:
        return Match(valid[0])
    return Match(None, tuple(by_id[i] for i in valid if i in by_id))


def _published(session: Session, community: Community, post_id: int) -> bool:
    post = session.get(Post, post_id)
    return (
        post is not None
        and post.community_id == community.id
        and post.status == PostStatus.APPROVED.value
    )


def digest_ref(
    session: Session, community: Community, parsed: ParsedMessage, domain: str
) -> DigestRef | None:
    """The digest the reply answers, if it is one this community really sent (a forged or
    foreign id answers none)."""
    for value in named_digest_ids(parsed, domain):
        ref = read_digest_id(value)
        if ref is None or ref.community_id != community.id:
            continue
        sent = session.exec(
            select(DigestIssue.id).where(
                DigestIssue.community_id == community.id, DigestIssue.due_at == ref.due_at
            )
        ).first()
        if sent is not None:
            return ref
    return None


def match_replies(ctx: Context, book: AddressBook, items: list[Prepared]) -> None:
    """The worker's digest-reply step, after the claim and before anything is written: each
    post that replies to a whole digest (it names one of ours, or its subject says so) is
    pinned to the item it quotes, or marked to be held with a note for its sender. Rare, so
    the store is read here, one reply at a time."""
    domain = ctx.settings.instance.domain
    for item in items:
        parsed, community, destination = item.parsed, item.community, item.destination
        if item.outcome is not None or parsed is None or community is None or destination is None:
            continue
        if destination.kind is not Kind.POST:
            continue
        if named_digest_ids(parsed, domain) or looks_like_digest_reply(parsed, community):
            resolve(ctx, book, item)


def resolve(ctx: Context, book: AddressBook, item: Prepared) -> None:
    """Decide where a digest reply goes and write it into ``item``: a pinned parent (and the
    threading headers of a real reply to it), or a forced hold and a note for the sender."""
    parsed, community = item.parsed, item.community
    assert parsed is not None and community is not None and community.id is not None
    domain = ctx.settings.instance.domain
    with ctx.session() as session:
        ref = digest_ref(session, community, parsed, domain)
        match = Match(None)
        # Headers naming a digest we cannot vouch for are not matched at all.
        if ref is not None or not named_digest_ids(parsed, domain):
            due = ref.due_at if ref is not None else ctx.now()
            candidates = approved_between(session, community.id, due - LOOKBACK, due)
            quoted = trim_reply(parsed.text).quoted
            match = judge(ctx, session, book, community, quoted, candidates)
        parent = session.get(Post, match.parent_id) if match.parent_id is not None else None
        if parent is not None:
            _pin(item, parsed, parent, community)
            return
        sender = _person(session, parsed.from_address)
        choices = _choices(ctx, book, community, match.quoted, ref, sender)
    item.parsed = dataclasses.replace(
        parsed,
        in_reply_to=_without(parsed.in_reply_to, domain),
        references=_without(parsed.references, domain),
    )
    item.digest_reply = DigestReply(
        hold_reason=UNMATCHED,
        note=render(
            NOTE_TEMPLATE,
            ctx.settings.templates_override,
            community=community,
            subject=parsed.subject,
            author_name=parsed.from_name,
            quoted_count=len(match.quoted),
            choices=choices,
            owner_address=book.address(community.slug, Kind.OWNER),
        ),
    )


def _pin(item: Prepared, parsed: ParsedMessage, parent: Post, community: Community) -> None:
    """Make the reply what a reply to ``parent`` itself would have been, its subject too:
    "Re: [IRNet] Digest, Monday ..." says nothing to the members who get it in that
    conversation."""
    subject = parsed.subject
    if names_digest(subject, community):
        subject = f"Re: {display_subject(parent.subject)}"
    item.digest_reply = DigestReply(parent_id=parent.id)
    item.parsed = dataclasses.replace(
        parsed,
        subject=subject,
        in_reply_to=[parent.message_id],
        references=[*parent.references, parent.message_id],
    )


@dataclass(frozen=True)
class Choice:
    """One item a held reply quoted, with the sender's own reply address for it."""

    subject: str
    author: str
    address: str


def _choices(
    ctx: Context,
    book: AddressBook,
    community: Community,
    quoted: Iterable[Item],
    ref: DigestRef | None,
    sender: Person | None,
) -> list[Choice]:
    """Reply addresses prove a member got a post, so they go only to the digest's owner."""
    if ref is None or sender is None or sender.id != ref.person_id:
        return []
    return [
        Choice(
            item.subject,
            item.author_name,
            book.address(
                community.slug, Kind.REPLY, reply_token(ctx.secret, item.post_id, ref.person_id)
            ),
        )
        for item in quoted
    ]


def _person(session: Session, address: str | None) -> Person | None:
    if not address:
        return None
    return session.exec(select(Person).where(Person.email == address.lower())).first()


def _without(ids: Iterable[str], domain: str) -> list[str]:
    suffix = "@" + domain.lower()
    return [v for v in ids if not (v[:7].lower() == "digest-" and v.lower().endswith(suffix))]


def tell_sender(
    ctx: Context, session: Session, community: Community, post: Post, text: str
) -> None:
    """Queue the note to the sender of a held digest reply (once per post)."""
    if not post.author_email:
        return
    notice = Notice(
        to=post.author_email,
        subject=f"Your reply to the digest: {post.subject}",
        text=text,
        kind=NOTE_KIND,
        dedup_key=f"{NOTE_KIND}:{post.id}",
        person_id=post.person_id,
        in_reply_to=post.message_id,
        reply_to=owner_reply_to(ctx.address_book(session), community),
    )
    send_notice(ctx, session, community, notice)
