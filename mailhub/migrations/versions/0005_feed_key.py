"""feed_key: members' revocable secrets for feed readers; posts by community and time

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 12:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import mailhub.models

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STRING = sqlmodel.sql.sqltypes.AutoString
WHEN = mailhub.models.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "feed_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("digest", STRING(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("purpose", STRING(), nullable=False),
        sa.Column("created_at", WHEN(), nullable=False),
        sa.Column("revoked_at", WHEN(), nullable=True),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("digest"),
    )
    op.create_index("ix_feed_key_person_id", "feed_key", ["person_id"])
    op.create_index("ix_post_community_received", "post", ["community_id", "received_at"])


def downgrade() -> None:
    op.drop_index("ix_post_community_received", table_name="post")
    op.drop_index("ix_feed_key_person_id", table_name="feed_key")
    op.drop_table("feed_key")
