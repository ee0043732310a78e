"""The two index backends: SQLite FTS5 and PostgreSQL full text, storing the same tokens
(search/text.py) and answering the same query tree (search/query.py).

SQLite keeps a document's tokens in an FTS5 table (columns title, body, tags, pairs; rowid
ROWID_BASE - search_doc.id) with the ascii tokenizer, which splits only at the spaces
between our tokens.
PostgreSQL keeps them in search_doc.vector, written as a tsvector literal (never parsed, so
no dictionary or locale changes a token), with a GIN index: title at weight A, text at D,
with the pairs of neighbouring tokens that phrases are looked up by, and the filter tags.
Ranking: FTS5's bm25 and ts_rank, title counting more than text.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from sqlalchemy import Column, MetaData, Table, bindparam, cast, insert, text
from sqlalchemy.engine import Connection

from mailhub.models import SearchDoc, naive_utc, table_of
from mailhub.search.documents import Doc
from mailhub.search.query import Clause, Query, Term
from mailhub.search.text import JOINER, shingles, token_texts

# Ranking reads the newest this-many matches of a query (every match but for the commonest
# words): scoring all 50,000 documents that hold a common word took 130 ms at p95 over
# 20,000 documents, the newest 2,000 take 11 ms (bench/search.py), and in an archive of
# conversations the newest matches are those most often wanted.
WINDOW = 2000
# PostgreSQL reads each ranked document's vector from TOAST (2,000 took 33 ms at 100,000
# documents), and finding the window newest first reads the vector of every row it passes,
# so it ranks the newest 200 matches: with 500 the dearer of the two paths (below) at its
# worst, a word in 14 % of the documents, took 57 ms at 100,000 documents; with 200, 36.
PG_WINDOW = 200
# What each path costs (measured at 100,000 documents): the id order about 16 us for each
# row it passes (its vector read from TOAST), the GIN path about 4.5 us for each match
# (the heap page that holds its id).
ID_ORDER_US_PER_ROW = 16.0
GIN_US_PER_MATCH = 4.5
FENCED = {"community_id": "d.community_id + 0", "kind": "d.kind || ''"}  # see search()
# FTS5 reads a doclist forwards cheaply and backwards only whole, so its rowids run
# against the documents' ids (newest first): rowid = ROWID_BASE - search_doc.id.
ROWID_BASE = 1 << 40
MAX_POSITION = 16_383  # PostgreSQL's largest position; later words share it
MAX_POSITIONS_PER_WORD = 255
DOCS = table_of(SearchDoc)


class Backend(Protocol):
    def prepare(self, docs: Sequence[Doc]) -> list[Any]: ...

    def insert(
        self, connection: Connection, values: list[dict[str, Any]], prepared: list[Any]
    ) -> None: ...

    def tidy(self, connection: Connection) -> None: ...

    def drop(self, connection: Connection, doc_ids: Sequence[int]) -> None: ...

    def search(
        self, connection: Connection, query: Query, tags: list[list[str]], limit: int, offset: int
    ) -> list[tuple[int, float]]: ...


def _dates(query: Query, column: str = "d.occurred_at") -> tuple[str, dict[str, Any]]:
    where, params = "", {}
    if query.after is not None:
        where += f" AND {column} >= :after"
        params["after"] = naive_utc(query.after)
    if query.before is not None:
        where += f" AND {column} < :before"
        params["before"] = naive_utc(query.before)
    return where, params


class SqliteIndex:
    """FTS5 over title, body and tags."""

    def prepare(self, docs: Sequence[Doc]) -> list[Any]:
        """The token columns of each document (the CPU work, done before any write)."""
        prepared = []
        for doc in docs:
            title, body = token_texts(doc.title), token_texts(doc.body)
            pairs = [*shingles(title), JOINER, *shingles(body)]
            prepared.append(
                {
                    "t": " ".join(title),
                    "b": " ".join(body),
                    "g": " ".join(doc.tags),
                    "p": " ".join(pairs),
                }
            )
        return prepared

    def insert(
        self, connection: Connection, values: list[dict[str, Any]], prepared: list[Any]
    ) -> None:
        """Add the documents' rows (``values``) and their tokens."""
        statement = insert(DOCS).returning(DOCS.c.id, sort_by_parameter_order=True)
        ids = [row[0] for row in connection.execute(statement, values)]
        connection.execute(
            text(
                "INSERT INTO search_fts (rowid, title, body, tags, pairs)"
                " VALUES (:id, :t, :b, :g, :p)"
            ),
            [{"id": ROWID_BASE - i, **p} for i, p in zip(ids, prepared, strict=True)],
        )

    def tidy(self, connection: Connection) -> None:
        """After a rebuild: merge the index's segments into one (queries read one b-tree)."""
        connection.execute(text("INSERT INTO search_fts (search_fts) VALUES ('optimize')"))

    def drop(self, connection: Connection, doc_ids: Sequence[int]) -> None:
        if doc_ids:
            connection.execute(
                text("DELETE FROM search_fts WHERE rowid = :id"),
                [{"id": ROWID_BASE - i} for i in doc_ids],
            )

    @staticmethod
    def _term(term: Term) -> str:
        if len(term.tokens) > 1 and not term.prefix:
            return 'pairs : "' + " ".join(shingles(list(term.tokens))) + '"'
        return '{title body} : "' + " ".join(term.tokens) + '"' + ("*" if term.prefix else "")

    def _clause(self, clause: Clause) -> str:
        must = " AND ".join(self._term(t) for t in clause.must)
        nots = " OR ".join(self._term(t) for t in clause.must_not)
        if must and nots:
            return f"({must}) NOT ({nots})"
        return must

    def match(self, query: Query, tags: list[list[str]]) -> str:
        """The FTS5 MATCH expression of a query (filters as tags)."""
        parts = ["tags : (" + " OR ".join(f'"{t}"' for t in group) + ")" for group in tags]
        expression = " AND ".join(parts)
        clauses = query.clauses
        if len(clauses) == 1 and not clauses[0].must:
            nots = " OR ".join(self._term(t) for t in clauses[0].must_not)
            return f"{expression} NOT ({nots})"
        if clauses:
            words = " OR ".join(f"({self._clause(c)})" for c in clauses)
            expression += f" AND ({words})"
        return expression

    def search(
        self, connection: Connection, query: Query, tags: list[list[str]], limit: int, offset: int
    ) -> list[tuple[int, float]]:
        where, params = _dates(query)
        joined = " JOIN search_doc AS d ON d.id = :base - f.rowid" if where else ""
        statement = text(
            "SELECT id, score FROM (SELECT :base - f.rowid AS id,"
            " bm25(search_fts, 4.0, 1.0, 0.0, 1.0) AS score"
            f" FROM search_fts AS f{joined} WHERE search_fts MATCH :match{where}"
            " ORDER BY f.rowid LIMIT :window)"
            " ORDER BY score, id DESC LIMIT :limit OFFSET :offset"
        )
        params |= {
            "base": ROWID_BASE,
            "match": self.match(query, tags),
            "window": WINDOW,
            "limit": limit,
            "offset": offset,
        }
        return [(row[0], -float(row[1])) for row in connection.execute(statement, params)]


def _lexeme(token: str) -> str:
    return "'" + token.replace("\\", "\\\\").replace("'", "''") + "'"


def tsvector(doc: Doc) -> str:
    """A document as a tsvector literal: title at weight A (ranked higher), text at D, and
    the pairs of neighbouring tokens (for phrases) at the place of the token they start
    with; then the filter tags, marked with the joiner so that no word is ever one. A query
    names no weight, so the GIN index answers it without reading a vector (phrases aside)."""
    places: dict[str, list[str]] = defaultdict(list)

    def put(token: str, spot: str) -> None:
        spots = places[token]
        if len(spots) < MAX_POSITIONS_PER_WORD:
            spots.append(spot)

    position = 1
    for weight, tokens in (("A", token_texts(doc.title)), ("", token_texts(doc.body))):
        for token, pair in zip(tokens, [*shingles(tokens), ""][: len(tokens)], strict=True):
            put(token, f"{min(position, MAX_POSITION)}{weight}")
            if pair:
                put(pair, f"{min(position, MAX_POSITION)}{weight}")
            position += 1
        position += 1  # no phrase runs from the title into the text
    for tag in doc.tags:
        put(JOINER + tag, str(MAX_POSITION))
    return " ".join(f"{_lexeme(token)}:{','.join(spots)}" for token, spots in places.items())


def _vector_table() -> Table:
    """search_doc with its vector column, which only PostgreSQL has (not in the model)."""
    from sqlalchemy.dialects.postgresql import TSVECTOR  # only when PostgreSQL is used

    columns = [Column(c.name, c.type, primary_key=c.primary_key) for c in DOCS.columns]
    return Table("search_doc", MetaData(), *columns, Column("vector", TSVECTOR))


class PostgresIndex:
    """A tsvector column of search_doc with a GIN index."""

    def prepare(self, docs: Sequence[Doc]) -> list[Any]:
        return [tsvector(doc) for doc in docs]

    def insert(
        self, connection: Connection, values: list[dict[str, Any]], prepared: list[Any]
    ) -> None:
        """Add the documents' rows with their vectors, one insert each (no update after)."""
        table = _vector_table()
        statement = insert(table).values(vector=cast(bindparam("v"), table.c.vector.type))
        connection.execute(
            statement, [{**row, "v": v} for row, v in zip(values, prepared, strict=True)]
        )

    def drop(self, connection: Connection, doc_ids: Sequence[int]) -> None:
        return None  # the vector leaves with its row

    def tidy(self, connection: Connection) -> None:
        connection.execute(text("ANALYZE search_doc"))

    @staticmethod
    def _term(term: Term) -> str:
        if len(term.tokens) > 1 and not term.prefix:
            return " <-> ".join(_lexeme(t) for t in shingles(list(term.tokens)))
        last = len(term.tokens) - 1
        return " <-> ".join(
            _lexeme(t) + (":*" if term.prefix and i == last else "")
            for i, t in enumerate(term.tokens)
        )

    def _clause(self, clause: Clause) -> str:
        must = " & ".join(f"({self._term(t)})" for t in clause.must)
        nots = " | ".join(f"({self._term(t)})" for t in clause.must_not)
        if must and nots:
            return f"({must}) & !({nots})"
        return must or f"!({nots})"

    def tsquery(self, query: Query, tags: list[list[str]]) -> str:
        parts = ["(" + " | ".join(_lexeme(JOINER + t) for t in group) + ")" for group in tags]
        if query.clauses:
            parts.append("(" + " | ".join(f"({self._clause(c)})" for c in query.clauses) + ")")
        return " & ".join(parts)

    def search(
        self, connection: Connection, query: Query, tags: list[list[str]], limit: int, offset: int
    ) -> list[tuple[int, float]]:
        # The conditions on columns are written so that no b-tree index answers them
        # (`+ 0`, `|| ''`): the plan must find the matches by the GIN index or in id
        # order, never by checking the vector of every document of a community or a
        # month (1.6 s for a word at 100,000 documents).
        # The planner's estimate of the matches reads the conditions as they are.
        where, params = _dates(query, "d.occurred_at + INTERVAL '0 s'")
        plain = _dates(query)[0]
        columns, tags = _column_filters(tags, bool(query.clauses))
        for number, (column, values) in enumerate(columns):
            where += f" AND {FENCED[column]} = ANY(:values{number})"
            plain += f" AND d.{column} = ANY(:values{number})"
            params[f"values{number}"] = values
        params |= {
            "q": self.tsquery(query, tags),
            "window": PG_WINDOW,
            "limit": limit,
            "offset": offset,
        }
        # Each match is ranked by its vector as it was found (no second look-up by id).
        statement = text(
            "SELECT c.id, ts_rank('{0.4, 0, 0, 1}', c.vector, q) AS score"
            " FROM (SELECT d.id, d.vector FROM search_doc AS d"
            f" WHERE d.vector @@ CAST(:q AS tsquery){where} ORDER BY d.id DESC LIMIT :window)"
            " AS c, CAST(:q AS tsquery) AS q"
            " ORDER BY score DESC, c.id DESC LIMIT :limit OFFSET :offset"
        )
        with _plan(connection, plain, params):
            return [(row[0], float(row[1])) for row in connection.execute(statement, params)]


def _column_filters(
    tags: list[list[str]], words: bool
) -> tuple[list[tuple[str, list[Any]]], list[list[str]]]:
    """The community and kind filters as conditions on search_doc's columns, and the tags
    left for the tsquery. Nearly every document holds the one community's tag (and most
    `in:post`), and the GIN index intersecting their lists with a rare word's took more
    time than the word (a row's columns are read with it anyway). Kept as tags when no
    word or other tag is left for the index to look up."""
    columns: list[tuple[str, list[Any]]] = []
    rest: list[list[str]] = []
    for group in tags:
        if all(t[:1] == "c" and t[1:].isdigit() for t in group):
            columns.append(("community_id", [int(t[1:]) for t in group]))
        elif all(t[:1] == "i" for t in group):
            columns.append(("kind", [t[1:] for t in group]))
        else:
            rest.append(group)
    if not words and not rest:
        return [], tags
    return columns, rest


def _newest_first(connection: Connection, where: str, params: dict[str, Any], total: float) -> bool:
    """True when the query matches so large a share of the ``total`` documents that
    reading them newest first finds the window soonest; otherwise the GIN index finds
    every match.

    PostgreSQL's planner weighs this choice without the cost of reading each vector
    (from TOAST) that checking a row in id order pays, and with a generic plan (a
    statement prepared by the driver) it does not know the words at all: at 100,000
    documents it read in id order for rare words too, about 1 s a query. Its estimate of
    the matches (from ANALYZE's statistics of lexemes) is good, so the path is chosen here
    by the costs measured for each: newest first passes about window x total / matches
    rows, the GIN path reads every match."""
    plan = connection.execute(
        text(
            "EXPLAIN (FORMAT JSON) SELECT 1 FROM search_doc AS d"
            f" WHERE d.vector @@ CAST(:q AS tsquery){where}"
        ),
        params,
    ).scalar_one()
    matches = max(float(plan[0]["Plan"]["Plan Rows"]), 1.0)
    newest_first = PG_WINDOW * total / matches * ID_ORDER_US_PER_ROW
    return total > 0 and newest_first < matches * GIN_US_PER_MATCH


def _set(connection: Connection, settings: dict[str, str]) -> None:
    """Set planner settings until the transaction ends (one round trip)."""
    calls = ", ".join(f"set_config('{name}', '{value}', true)" for name, value in settings.items())
    connection.execute(text(f"SELECT {calls}"))


@contextlib.contextmanager
def _plan(connection: Connection, where: str, params: dict[str, Any]) -> Iterator[None]:
    """Hold the planner to one path for the statement run inside: the id order, or the
    GIN index (bitmap scans only); plans made for the words at hand (never a generic one);
    no parallel workers (starting them costs more than the scan on a small machine). The
    settings go back to their defaults after the statement, not at the transaction's end."""
    total = connection.execute(
        text(
            "SELECT set_config('plan_cache_mode', 'force_custom_plan', true),"
            " (SELECT reltuples FROM pg_class WHERE oid = 'search_doc'::regclass)"
        )
    ).one()[1]
    newest_first = _newest_first(connection, where, params, float(total))
    path = "enable_bitmapscan" if newest_first else "enable_indexscan"
    _set(connection, {"max_parallel_workers_per_gather": "0", "enable_seqscan": "off", path: "off"})
    yield
    # Not after an error: the transaction is then aborted, and its end undoes them.
    names = ("plan_cache_mode", "max_parallel_workers_per_gather", "enable_seqscan", path)
    connection.execute(
        text(
            "SELECT set_config(name, reset_val, true) FROM pg_settings WHERE name IN :names"
        ).bindparams(bindparam("names", expanding=True)),
        {"names": list(names)},
    )


def backend_for(connection: Connection) -> Backend:
    return SqliteIndex() if connection.dialect.name == "sqlite" else PostgresIndex()
