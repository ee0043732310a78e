"""portal: community.archive, sign_in, web_session, reading indexes

Revision ID: 0003
Revises: 0002
Create Date: 2027-01-10 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import mailhub.models

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STRING = sqlmodel.sql.sqltypes.AutoString
WHEN = mailhub.models.UTCDateTime


def upgrade() -> None:
    with op.batch_alter_table("community", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("archive", STRING(), nullable=False, server_default="members")
        )
    op.create_table(
        "sign_in",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("link_digest", STRING(), nullable=False),
        sa.Column("code_digest", STRING(), nullable=False),
        sa.Column("email", STRING(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("ip", STRING(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", WHEN(), nullable=False),
        sa.Column("expires_at", WHEN(), nullable=False),
        sa.Column("used_at", WHEN(), nullable=True),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("link_digest"),
    )
    op.create_index("ix_sign_in_email_created", "sign_in", ["email", "created_at"])
    op.create_index("ix_sign_in_ip", "sign_in", ["ip"])
    op.create_table(
        "web_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("digest", STRING(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("created_at", WHEN(), nullable=False),
        sa.Column("expires_at", WHEN(), nullable=False),
        sa.Column("last_seen_at", WHEN(), nullable=False),
        sa.Column("revoked_at", WHEN(), nullable=True),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("digest"),
    )
    op.create_index("ix_web_session_person_id", "web_session", ["person_id"])
    op.create_index("ix_thread_community_activity", "thread", ["community_id", "last_activity_at"])
    op.create_index("ix_post_thread_status", "post", ["thread_id", "status", "received_at"])


def downgrade() -> None:
    op.drop_index("ix_post_thread_status", table_name="post")
    op.drop_index("ix_thread_community_activity", table_name="thread")
    op.drop_table("web_session")
    op.drop_index("ix_sign_in_ip", table_name="sign_in")
    op.drop_index("ix_sign_in_email_created", table_name="sign_in")
    op.drop_table("sign_in")
    with op.batch_alter_table("community", schema=None) as batch_op:
        batch_op.drop_column("archive")
