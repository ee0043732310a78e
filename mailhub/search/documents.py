"""What the index holds of each kind of item, read from the store set-wise.

An item is in the index exactly while the portal shows it: approved and archived posts
(never a held, rejected or discarded one, nor a news or event submission), discussions once
announced, a synopsis once written, approved news, approved or cancelled events, and every
resource of the library (with the text inside its file). Each document carries filter tags
(community, kind of item, themes, country, affiliation, author) beside its words, so that
every filter but dates is a lookup in the same full-text index.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from mailhub.inbound.attachments import attachment_path
from mailhub.models import (
    PUBLISHED,
    SUBMISSION_KINDS,
    Discussion,
    Event,
    NewsItem,
    Person,
    Post,
    Resource,
    Thread,
    table_of,
)
from mailhub.portal.library import SHOWN_DISCUSSIONS, SHOWN_EVENTS
from mailhub.search import extract
from mailhub.search.text import fold, token_texts

KINDS = ("post", "discussion", "synopsis", "news", "event", "resource")


@dataclass
class Doc:
    """One item as indexed: text for snippets and ranking, tags for filters."""

    kind: str
    item_id: int
    community_id: int
    title: str
    body: str
    occurred_at: datetime
    thread_id: int | None = None
    author: str = ""
    tags: list[str] = field(default_factory=list)


def tag(prefix: str, value: str) -> str:
    """A filter tag: a letter and the value folded to letters and digits."""
    return prefix + "".join(ch for ch in fold(value) if ch.isalnum())


def email_tag(email: str) -> str:
    return "e" + hashlib.sha256(email.strip().lower().encode()).hexdigest()[:16]


def tags_for(
    kind: str,
    community_id: int,
    *,
    themes: Iterable[str] = (),
    country: str | None = None,
    affiliation: str | None = None,
    resource_kind: str | None = None,
    author: str = "",
    email: str = "",
) -> list[str]:
    found = [f"c{community_id}", tag("i", kind)]
    found += [tag("t", slug) for slug in themes]
    if country:
        found.append(tag("n", country))
    if affiliation:
        found.append(tag("a", affiliation))
    if resource_kind:
        found.append(tag("k", resource_kind))
    found += ["f" + token for token in token_texts(author)]
    if email:
        found.append(email_tag(email))
    return found


def _posts(session: Session, ids: list[int]) -> Iterator[Doc]:
    post, person, thread, talk = (table_of(m) for m in (Post, Person, Thread, Discussion))
    rows = session.connection().execute(
        sa_select(
            post.c.id,
            post.c.community_id,
            post.c.thread_id,
            post.c.subject,
            post.c.body_text,
            post.c.received_at,
            post.c.author_name,
            post.c.author_email,
            person.c.affiliation,
            person.c.country,
            thread.c.themes.label("thread_themes"),
            talk.c.themes.label("talk_themes"),
        )
        .select_from(
            post.outerjoin(person, person.c.id == post.c.person_id)
            .outerjoin(thread, thread.c.id == post.c.thread_id)
            .outerjoin(talk, talk.c.id == thread.c.discussion_id)
        )
        .where(
            post.c.id.in_(ids),
            post.c.status.in_(PUBLISHED),
            post.c.kind.not_in(SUBMISSION_KINDS),
        )
    )
    for row in rows:
        themes = sorted({*(row.thread_themes or ()), *(row.talk_themes or ())})
        yield Doc(
            "post",
            row.id,
            row.community_id,
            row.subject,
            row.body_text,
            row.received_at,
            thread_id=row.thread_id,
            author=row.author_name,
            tags=tags_for(
                "post",
                row.community_id,
                themes=themes,
                country=row.country,
                affiliation=row.affiliation,
                author=row.author_name,
                email=row.author_email,
            ),
        )


def _moderator_names(session: Session, ids: Iterable[int | None]) -> dict[int, Person]:
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    return {p.id or 0: p for p in session.exec(select(Person).where(col(Person.id).in_(wanted)))}


def _discussions(session: Session, ids: list[int], synopses: bool) -> Iterator[Doc]:
    talks = session.exec(
        select(Discussion).where(
            col(Discussion.id).in_(ids), col(Discussion.state).in_(SHOWN_DISCUSSIONS)
        )
    ).all()
    people = _moderator_names(session, (t.moderator_id for t in talks))
    for talk in talks:
        if synopses and not talk.synopsis:
            continue
        person = people.get(talk.moderator_id or 0)
        name = person.name if person else ""
        kind = "synopsis" if synopses else "discussion"
        when = (talk.synopsis_at if synopses else talk.opened_at or talk.opens_at) or (
            talk.created_at
        )
        yield Doc(
            kind,
            talk.id or 0,
            talk.community_id,
            f"Synopsis: {talk.title}" if synopses else talk.title,
            (talk.synopsis or "") if synopses else talk.question,
            when,
            author=name,
            tags=tags_for(
                kind,
                talk.community_id,
                themes=talk.themes,
                country=person.country if person else None,
                affiliation=person.affiliation if person else None,
                author=name,
                email=person.email if person else "",
            ),
        )


def _news(session: Session, ids: list[int]) -> Iterator[Doc]:
    items = session.exec(
        select(NewsItem).where(col(NewsItem.id).in_(ids), NewsItem.status == "approved")
    ).all()
    for item in items:
        when = item.published_at or item.created_at
        body = "\n".join(filter(None, [item.body, item.url]))
        tags = tags_for("news", item.community_id, themes=item.themes)
        yield Doc("news", item.id or 0, item.community_id, item.title, body, when, tags=tags)


def _events(session: Session, ids: list[int]) -> Iterator[Doc]:
    items = session.exec(
        select(Event).where(col(Event.id).in_(ids), col(Event.status).in_(SHOWN_EVENTS))
    ).all()
    for item in items:
        body = "\n".join(filter(None, [item.description, item.location, item.url]))
        tags = tags_for("event", item.community_id, themes=item.themes)
        yield Doc(
            "event", item.id or 0, item.community_id, item.title, body, item.starts_at, tags=tags
        )


def _resources(session: Session, ids: list[int], root: Path) -> Iterator[Doc]:
    items = session.exec(select(Resource).where(col(Resource.id).in_(ids))).all()
    for item in items:
        inside = ""
        if item.sha256:
            path = attachment_path(root, item.sha256)
            inside = extract.file_text(path, item.content_type, item.filename)
        body = "\n".join(filter(None, [item.description, item.filename, item.url, inside]))
        tags = tags_for(
            "resource",
            item.community_id,
            themes=item.themes,
            country=item.country,
            resource_kind=item.kind,
        )
        yield Doc(
            "resource",
            item.id or 0,
            item.community_id,
            item.title,
            body,
            item.created_at,
            tags=tags,
        )


def load(session: Session, kind: str, ids: list[int], root: Path) -> list[Doc]:
    """The documents of these items that the index should hold (the others leave it)."""
    if kind == "post":
        return list(_posts(session, ids))
    if kind in ("discussion", "synopsis"):
        return list(_discussions(session, ids, kind == "synopsis"))
    if kind == "news":
        return list(_news(session, ids))
    if kind == "event":
        return list(_events(session, ids))
    if kind == "resource":
        return list(_resources(session, ids, root))
    raise ValueError(f"unknown kind of search document {kind!r}")


_MODELS: dict[str, Any] = {
    "post": Post,
    "discussion": Discussion,
    "synopsis": Discussion,
    "news": NewsItem,
    "event": Event,
    "resource": Resource,
}


def item_ids(session: Session, kind: str, community_id: int | None = None) -> list[int]:
    """Every item id of a kind (in one community), for a rebuild: load() drops the unshown."""
    model = _MODELS[kind]
    statement = select(model.id).order_by(model.id)
    if community_id is not None:
        statement = statement.where(model.community_id == community_id)
    return [row for row in session.exec(statement).all()]


def item_count(session: Session, kind: str, community_id: int | None = None) -> int:
    """How many ids item_ids() gives, counted by the store (a rebuild's progress bar)."""
    model = _MODELS[kind]
    statement = select(func.count()).select_from(model)
    if community_id is not None:
        statement = statement.where(model.community_id == community_id)
    return session.exec(statement).one()
