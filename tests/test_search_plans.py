"""PostgreSQL finds a query's matches by the GIN index or newest first, chosen from the
planner's estimate (search/backends.py): both paths give what SQLite gives for the same
documents, and the planner settings held for the one statement are back afterwards."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from mailhub.communities import get_community
from mailhub.context import Context
from mailhub.models import Post, Thread
from mailhub.search import backends, index
from mailhub.search.query import parse
from mailhub.search.results import search

SETTINGS = ("enable_indexscan", "enable_bitmapscan", "enable_seqscan", "plan_cache_mode")


def seed(ctx: Context, count: int) -> None:
    """``count`` posts of four words that all say "council", every fifth "tripartite", one
    "ombudsman" (as long as the others: their ranks tie, the newest first)."""
    now = ctx.now() - timedelta(days=1)
    with ctx.session() as session:
        irnet = get_community(session, "irnet")
        thread = Thread(
            community_id=irnet.id or 0, subject="Notes", created_at=now, last_activity_at=now
        )
        session.add(thread)
        session.flush()
        for n in range(count):
            third = "ombudsman" if n == 7 else "tripartite" if n % 5 == 0 else "often"
            session.add(
                Post(
                    community_id=irnet.id or 0,
                    thread_id=thread.id,
                    message_id=f"<n{n}@example.org>",
                    subject=f"Note {n}",
                    status="approved",
                    body_text=f"council meets {third} number{n}.",
                    received_at=now + timedelta(minutes=n),
                )
            )
    index.reindex(ctx)  # ends with ANALYZE on PostgreSQL: the planner knows the words


def found(ctx: Context, query: str) -> list[str]:
    """The titles of the first page of hits, best first."""
    with ctx.session() as session:
        irnet = get_community(session, "irnet")
        hits = search(session, parse(query), [irnet], per_page=100).hits
        if session.connection().dialect.name == "postgresql":
            shown = [session.connection().execute(text(f"SHOW {n}")).scalar() for n in SETTINGS]
            assert shown == ["on", "on", "on", "auto"]  # as before the search
        return [hit.title for hit in hits]


def notes(numbers: range | list[int]) -> list[str]:
    return [f"Note {n}" for n in sorted(numbers, reverse=True)][:100]


def test_common_and_rare_words_find_the_same_on_either_path(ctx: Context) -> None:
    seed(ctx, 800)
    assert found(ctx, "council") == notes(range(800))  # in every one: newest first
    assert found(ctx, '"council meets" in:post') == notes(range(800))
    assert found(ctx, "tripartite") == notes(range(0, 800, 5))
    assert found(ctx, "ombudsman") == ["Note 7"]  # in one: by the GIN index
    assert found(ctx, "council -tripartite") == notes([n for n in range(800) if n % 5])


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_postgresql_reads_a_common_word_newest_first_and_a_rare_one_by_index(
    ctx: Context,
) -> None:
    seed(ctx, 800)
    with ctx.session() as session:
        connection = session.connection()
        total = float(
            connection.execute(
                text("SELECT reltuples FROM pg_class WHERE oid = 'search_doc'::regclass")
            ).scalar_one()
        )
        assert total == 800
        for word, newest_first in (("council", True), ("ombudsman", False)):
            params = {"q": backends.PostgresIndex().tsquery(parse(word), [])}
            assert backends._newest_first(connection, "", params, total) is newest_first
