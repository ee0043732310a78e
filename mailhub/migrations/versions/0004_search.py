"""search: search_doc, search_pending, and the backend's index (FTS5 or tsvector + GIN)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 12:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import mailhub.models

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STRING = sqlmodel.sql.sqltypes.AutoString
WHEN = mailhub.models.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "search_doc",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", STRING(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("thread_id", sa.Integer(), nullable=True),
        sa.Column("title", STRING(), nullable=False),
        sa.Column("author", STRING(), nullable=False),
        sa.Column("occurred_at", WHEN(), nullable=False),
        # Last: SQLite reads a row's columns in order, and the text is only read for snippets.
        sa.Column("body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["community_id"], ["community.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "item_id"),
    )
    op.create_index("ix_search_doc_community_id", "search_doc", ["community_id"])
    op.create_index("ix_search_doc_occurred_at", "search_doc", ["occurred_at"])
    op.create_table(
        "search_pending",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", STRING(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    # The tokens (search/text.py) are made in Python, so each backend only stores them (and
    # the pairs of neighbouring tokens that phrases are looked up by):
    # FTS5's ascii tokenizer splits on the spaces between them and leaves other characters
    # alone; PostgreSQL's tsvector is written as a literal, never parsed.
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE search_fts USING fts5(title, body, tags, pairs, tokenize='ascii')"
        )
    else:
        op.execute("ALTER TABLE search_doc ADD COLUMN vector tsvector")
        op.execute("CREATE INDEX ix_search_doc_vector ON search_doc USING gin (vector)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE search_fts")
    op.drop_table("search_pending")
    op.drop_index("ix_search_doc_occurred_at", table_name="search_doc")
    op.drop_index("ix_search_doc_community_id", table_name="search_doc")
    op.drop_table("search_doc")
