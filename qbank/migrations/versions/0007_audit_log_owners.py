"""Trust (issue 14): the audit log and who owns each record.

- audit_event: the append-only, hash-chained log (qbank.audit). Every row of the record that
  exists when the store is upgraded is sealed by one "seal" event, so `qbank verify` passes on an
  untouched store and detects any change made after the upgrade.
- owner on assessment, draw, second_mark and release_clearance: the database user who created the
  row (PostgreSQL's current_user; the operating-system user on SQLite), which row-level security
  checks (`qbank admin init`). Rows made before the upgrade have "" (only an admin may change them).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

OWNED = ("assessment", "draw", "second_mark", "release_clearance")


def upgrade() -> None:
    op.create_table(
        "audit_event",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("table_name", sa.String(32), nullable=False),
        sa.Column("row_key", sa.String(64), nullable=False),
        sa.Column("apprentice_id", sa.Integer(), nullable=True),
        sa.Column("row_hash", sa.String(64), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False, unique=True),
    )
    op.create_index("ix_audit_event_table_row", "audit_event", ["table_name", "row_key", "seq"])
    op.create_index("ix_audit_event_apprentice_id", "audit_event", ["apprentice_id"])
    for table in OWNED:
        with op.batch_alter_table(table) as b:
            b.add_column(sa.Column("owner", sa.String(128), nullable=False, server_default=""))
    op.create_index("ix_assessment_owner", "assessment", ["owner"])

    from qbank.audit import seal_existing

    seal_existing(op.get_bind(), "migration 0007")


def downgrade() -> None:
    op.drop_index("ix_assessment_owner", "assessment")
    for table in OWNED:
        with op.batch_alter_table(table) as b:
            b.drop_column("owner")
    op.drop_index("ix_audit_event_apprentice_id", "audit_event")
    op.drop_index("ix_audit_event_table_row", "audit_event")
    op.drop_table("audit_event")
