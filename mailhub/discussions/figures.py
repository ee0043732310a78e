"""Who took part in a discussion, and the participation figures moderators report:
contributors and posts by affiliation and by country, and the tripartite balance of
government, workers and employers that these communities care about."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from mailhub.models import Discussion, Person, Post, PostStatus, Thread

ROOT_KIND = "discussion"  # the announcement's own post, which is nobody's contribution
TRIPARTITE = ("government", "workers", "employers")
COUNTED = (PostStatus.HELD.value, PostStatus.APPROVED.value)


@dataclass(frozen=True)
class Contribution:
    post: Post
    person: Person | None

    @property
    def who(self) -> str:
        """One key per contributor: the person, or the address of a non-member."""
        return f"person:{self.person.id}" if self.person else self.post.author_email

    @property
    def affiliation(self) -> str:
        return self.person.affiliation if self.person else "not a member"

    @property
    def country(self) -> str:
        return (self.person.country if self.person else None) or "not given"


@dataclass(frozen=True)
class Tally:
    contributors: int
    posts: int


@dataclass
class Figures:
    contributors: int = 0
    posts: int = 0
    by_affiliation: dict[str, Tally] = field(default_factory=dict)
    by_country: dict[str, Tally] = field(default_factory=dict)
    balance: dict[str, int] = field(default_factory=dict)


def contributions(
    session: Session, discussion: Discussion, statuses: tuple[str, ...] = ("approved",)
) -> list[Contribution]:
    """The discussion's posts in these statuses, oldest first, with their authors."""
    return contributions_of(session, [discussion.id or 0], statuses)[discussion.id or 0]


def contributions_of(
    session: Session, discussion_ids: list[int], statuses: tuple[str, ...] = ("approved",)
) -> dict[int, list[Contribution]]:
    """Each discussion's posts in these statuses, oldest first, with their authors: one
    query for them all, so a report over many discussions does not ask once for each."""
    found: dict[int, list[Contribution]] = {i: [] for i in discussion_ids}
    if not discussion_ids:
        return found
    query = (
        select(Thread.discussion_id, Post, Person)
        .join(Thread, col(Thread.id) == col(Post.thread_id))
        .join(Person, col(Person.id) == Post.person_id, isouter=True)
        .where(
            col(Thread.discussion_id).in_(discussion_ids),
            Post.kind != ROOT_KIND,
            col(Post.status).in_(statuses),
        )
        .order_by(col(Post.received_at), col(Post.id))
    )
    for discussion_id, post, person in session.exec(query).all():
        found[discussion_id or 0].append(Contribution(post, person))
    return found


def contributor_ids(session: Session, discussion: Discussion) -> set[int]:
    """People who have answered, whether their answer is approved or still held."""
    found = contributions(session, discussion, COUNTED)
    return {c.person.id for c in found if c.person is not None and c.person.id is not None}


def _tally(items: list[Contribution], label: str) -> dict[str, Tally]:
    posts: Counter[str] = Counter()
    people: dict[str, set[str]] = {}
    for item in items:
        key = getattr(item, label)
        posts[key] += 1
        people.setdefault(key, set()).add(item.who)
    return {k: Tally(len(people[k]), posts[k]) for k in sorted(posts)}


def figures(items: list[Contribution]) -> Figures:
    """The participation figures of a list of contributions."""
    by_affiliation = _tally(items, "affiliation")
    balance = {a: by_affiliation[a].contributors if a in by_affiliation else 0 for a in TRIPARTITE}
    others = {c.who for c in items if c.affiliation not in TRIPARTITE}
    balance["others"] = len(others)
    return Figures(
        contributors=len({c.who for c in items}),
        posts=len(items),
        by_affiliation=by_affiliation,
        by_country=_tally(items, "country"),
        balance=balance,
    )


def grouped(items: list[Contribution]) -> list[list[Contribution]]:
    """Contributions grouped by contributor, in the order people first spoke."""
    groups: dict[str, list[Contribution]] = {}
    for item in items:
        groups.setdefault(item.who, []).append(item)
    return list(groups.values())


def brief(text: str, limit: int = 400) -> str:
    """A short quote of a contribution: its first lines, cut at a word."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    return flat[:limit].rsplit(" ", 1)[0] + " ..."
