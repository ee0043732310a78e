"""portal record: synopsis versions, and the change count that keeps cached pages fresh

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 12:40:00

The count lives in one row, bumped by triggers on every table the portal reads, so a
change made by any writer (a worker, the CLI, another node) marks every cached page stale
in the same transaction. Writes the portal never shows (held posts arriving and the
counts of their threads, bounce scores, digests noting when they ran) do not fire them,
so the intake does not queue on that row. On PostgreSQL they fire at commit.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import mailhub.models

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SHOWN = "('approved', 'archived')"
# Columns whose change the portal shows, where a table also changes for other reasons
# (a thread's counts and last activity move as held posts arrive; a person's bounce score).
THREAD_SHOWN = ("subject", "themes", "discussion_id", "community_id")
PERSON_SHOWN = ("name", "organisation", "affiliation", "country")
# (table, event, condition on OLD/NEW or None): a row change the portal may show.
TRIGGERS: list[tuple[str, str, object]] = [
    ("post", "INSERT", f"NEW.status IN {SHOWN}"),
    ("post", "UPDATE", f"OLD.status IN {SHOWN} OR NEW.status IN {SHOWN}"),
    ("post", "DELETE", f"OLD.status IN {SHOWN}"),
    ("thread", "UPDATE", THREAD_SHOWN),
    ("thread", "DELETE", None),
    ("attachment", "DELETE", None),
    ("person", "UPDATE", PERSON_SHOWN),
    ("membership", "INSERT", None),
    ("membership", "UPDATE", "OLD.status <> NEW.status OR OLD.role <> NEW.role"),
    ("membership", "DELETE", None),
    *(
        (table, event, None)
        for table in (
            "community",
            "theme",
            "discussion",
            "synopsis_version",
            "news_item",
            "event",
            "resource",
        )
        for event in ("INSERT", "UPDATE", "DELETE")
    ),
]
BUMP = "UPDATE portal_mark SET changes = changes + 1 WHERE id = 1"


def _name(table: str, event: str) -> str:
    return f"portal_mark_{table}_{event.lower()}"


def _condition(condition: object, postgres: bool) -> str | None:
    """The WHEN of a trigger; a tuple of columns means "one of them changed" (JSON columns
    compared as text, since PostgreSQL's json has no equality)."""
    if not isinstance(condition, tuple):
        return condition if isinstance(condition, str) else None
    if postgres:
        return " OR ".join(f"OLD.{c}::text IS DISTINCT FROM NEW.{c}::text" for c in condition)
    return " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in condition)


def upgrade() -> None:
    op.create_table(
        "synopsis_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("discussion_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("set_at", mailhub.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["discussion_id"], ["discussion.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("discussion_id", "version"),
    )
    op.create_index("ix_synopsis_version_discussion_id", "synopsis_version", ["discussion_id"])
    # The synopsis stored so far is its newest version (earlier texts were not kept).
    op.execute(
        "INSERT INTO synopsis_version (discussion_id, version, text, set_at) "
        "SELECT id, synopsis_version, synopsis, synopsis_at FROM discussion "
        "WHERE synopsis IS NOT NULL AND synopsis_at IS NOT NULL AND synopsis_version > 0"
    )
    op.create_table(
        "portal_mark",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("changes", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.execute("INSERT INTO portal_mark (id, changes) VALUES (1, 0)")
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute(
            "CREATE FUNCTION portal_mark_bump() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN {BUMP}; RETURN NULL; END $$"
        )
    for table, event, shown in TRIGGERS:
        condition = _condition(shown, postgres)
        when = f" WHEN ({condition})" if condition else ""
        name = _name(table, event)
        if postgres:
            # Deferred to the commit: the row is locked only while the transaction
            # commits, never while it waits for another row, so writers neither queue
            # behind each other's whole transactions nor deadlock on it.
            op.execute(
                f"CREATE CONSTRAINT TRIGGER {name} AFTER {event} ON {table} "
                f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW{when} "
                "EXECUTE FUNCTION portal_mark_bump()"
            )
        else:
            op.execute(
                f"CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW{when} "
                f"BEGIN {BUMP}; END"
            )


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table, event, _ in TRIGGERS:
        suffix = f" ON {table}" if postgres else ""
        op.execute(f"DROP TRIGGER IF EXISTS {_name(table, event)}{suffix}")
    if postgres:
        op.execute("DROP FUNCTION IF EXISTS portal_mark_bump()")
    op.drop_table("portal_mark")
    op.drop_index("ix_synopsis_version_discussion_id", "synopsis_version")
    op.drop_table("synopsis_version")
