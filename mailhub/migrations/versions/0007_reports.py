"""reports: community.target_mix, the indexes participation reports read posts from

Revision ID: 0007
Revises: 0006
Create Date: 2027-02-01 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("community", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "target_mix",
                sqlmodel.sql.sqltypes.AutoString(),
                nullable=False,
                server_default="",
            )
        )
    op.create_index(
        "ix_post_report_time",
        "post",
        ["community_id", "received_at", "status", "kind", "person_id"],
    )
    op.create_index(
        "ix_post_report_thread",
        "post",
        ["community_id", "thread_id", "received_at", "id", "status", "kind", "person_id"],
    )
    # ix_post_report_time starts with the same columns: it serves feeds and mboxes too.
    op.drop_index("ix_post_community_received", table_name="post")


def downgrade() -> None:
    op.create_index("ix_post_community_received", "post", ["community_id", "received_at"])
    op.drop_index("ix_post_report_thread", table_name="post")
    op.drop_index("ix_post_report_time", table_name="post")
    with op.batch_alter_table("community", schema=None) as batch_op:
        batch_op.drop_column("target_mix")
