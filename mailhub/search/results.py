"""Searching as a reader: only communities the reader may read, ranked hits with a snippet
of their text (the query's words marked) and the portal address of each.

Who may read what is the portal's rule (portal/access.py); the caller passes the readable
communities, so the portal, search by mail and the admins' command each say whose eyes the
results are for. A `community:` filter only narrows them: naming a community the reader may
not read gives no results, exactly like naming one that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session

from mailhub.models import Community, SearchDoc, table_of
from mailhub.portal import links
from mailhub.search.backends import backend_for
from mailhub.search.query import Query
from mailhub.search.snippets import Snippet, snippet
from mailhub.threads.subjects import display_subject

DOCS = table_of(SearchDoc)
KIND_NAMES = {
    "post": "Post",
    "discussion": "Discussion",
    "synopsis": "Synopsis",
    "news": "News",
    "event": "Event",
    "resource": "Resource",
}


@dataclass(frozen=True)
class Hit:
    """One result: what it is, where it is, and the words around the match."""

    kind: str
    title: str
    path: str
    community: Community
    occurred_at: datetime
    author: str
    snippet: Snippet  # pieces of text; True for the query's words
    score: float

    @property
    def kind_name(self) -> str:
        return KIND_NAMES[self.kind]

    @property
    def snippet_text(self) -> str:
        return "".join(piece for piece, _ in self.snippet)


@dataclass(frozen=True)
class Results:
    hits: list[Hit]
    more: bool  # another page follows


def item_path(slug: str, kind: str, item_id: int, thread_id: int | None) -> str:
    """The portal page of an indexed item."""
    if kind == "post":
        return links.post_path(slug, thread_id, item_id)
    folder = {
        "discussion": "d",
        "synopsis": "d",
        "news": "news",
        "event": "events",
        "resource": "resources",
    }[kind]
    return f"/c/{slug}/{folder}/{item_id}"


def search(
    session: Session,
    query: Query,
    readable: list[Community],
    *,
    page: int = 1,
    per_page: int = 20,
) -> Results:
    """The page of hits for a query among the readable communities, best first."""
    allowed = {c.id or 0: c for c in readable}
    # Each community: filter holds, as every filter does: an item is in one community, so
    # two filters naming different ones find nothing, and a comma list finds any of them.
    allowed = {
        i: c for i, c in allowed.items() if all(c.slug in slugs for slugs in query.communities)
    }
    if not allowed or (query.empty and query.before is None and query.after is None):
        return Results([], False)
    tags = [[f"c{i}" for i in sorted(allowed)], *query.tag_groups]
    connection = session.connection()
    offset = (max(page, 1) - 1) * per_page
    found = backend_for(connection).search(connection, query, tags, per_page + 1, offset)
    scores = dict(found[:per_page])
    rows = {
        row.id: row for row in connection.execute(select(DOCS).where(DOCS.c.id.in_(list(scores))))
    }
    hits = []
    for doc_id, score in scores.items():
        row = rows.get(doc_id)
        if row is None or row.community_id not in allowed:
            continue
        community = allowed[row.community_id]
        hits.append(
            Hit(
                kind=row.kind,
                # A post's title is its subject: shown without "Re:" and the list's tag.
                title=(
                    display_subject(row.title) if row.kind == "post" else row.title or "(untitled)"
                ),
                path=item_path(community.slug, row.kind, row.item_id, row.thread_id),
                community=community,
                occurred_at=row.occurred_at,
                author=row.author,
                snippet=snippet(row.body, query.terms),
                score=score,
            )
        )
    return Results(hits, len(found) > per_page)
