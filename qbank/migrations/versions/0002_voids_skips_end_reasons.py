"""Voided starts and draws, undone swaps and skips, reasons for ending early and for retractions.

- draw: adhoc_exclude_json (NOT NULL, default '[]'), voided_at (indexed)
- draw_item: void_key (NOT NULL, default 0); the unique (apprentice, question) becomes
  (apprentice, question, void_key), uq_draw_item_apprentice_question_void_key
- draw_swap: undone_at (indexed)
- assessment: void_by, void_reason, voided_at
- assessment_method: end_reason, end_warnings (NOT NULL, default '')
- ask: skip_reason, skipped_at, skip_undone_at, skip_history_json (NOT NULL, default '[]')
- evidence: retract_reason

Existing rows: every draw item is live (void_key 0, so the new unique triple holds exactly when the
old pair did), nothing is voided or undone, and the new texts take their defaults. No row is
rewritten beyond that: an ask skipped before this revision keeps skipped_at/skip_reason empty.

Table changes go through batch_alter_table: on PostgreSQL it emits plain ALTERs; on SQLite it
adds columns with ALTER TABLE where it can and recreates draw_item (copy, drop, rename) for the
constraint change, which qbank runs with foreign keys off and checks after (qbank.migrations).
New columns come last in each table; models.py may list them elsewhere (column order is not
schema: nothing selects by position).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("draw") as b:
        b.add_column(sa.Column("adhoc_exclude_json", sa.Text(), nullable=False, server_default="[]"))
        b.add_column(sa.Column("voided_at", TZ, nullable=True))
        b.create_index("ix_draw_voided_at", ["voided_at"], unique=False)

    with op.batch_alter_table("draw_item") as b:  # SQLite: recreated (a constraint changes)
        b.add_column(sa.Column("void_key", sa.Integer(), nullable=False, server_default="0"))
        b.drop_constraint("uq_draw_item_apprentice_question", type_="unique")
        b.create_unique_constraint(
            "uq_draw_item_apprentice_question_void_key", ["apprentice_id", "question_id", "void_key"]
        )

    with op.batch_alter_table("draw_swap") as b:
        b.add_column(sa.Column("undone_at", TZ, nullable=True))
        b.create_index("ix_draw_swap_undone_at", ["undone_at"], unique=False)

    with op.batch_alter_table("assessment") as b:
        b.add_column(sa.Column("void_by", sa.String(length=128), nullable=True))
        b.add_column(sa.Column("void_reason", sa.Text(), nullable=True))
        b.add_column(sa.Column("voided_at", TZ, nullable=True))

    with op.batch_alter_table("assessment_method") as b:
        b.add_column(sa.Column("end_reason", sa.Text(), nullable=False, server_default=""))
        b.add_column(sa.Column("end_warnings", sa.Text(), nullable=False, server_default=""))

    with op.batch_alter_table("ask") as b:
        b.add_column(sa.Column("skip_reason", sa.Text(), nullable=True))
        b.add_column(sa.Column("skipped_at", TZ, nullable=True))
        b.add_column(sa.Column("skip_undone_at", TZ, nullable=True))
        b.add_column(sa.Column("skip_history_json", sa.Text(), nullable=False, server_default="[]"))

    with op.batch_alter_table("evidence") as b:
        b.add_column(sa.Column("retract_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    """Back to the baseline. Refused if two rows of one apprentice share a question (a voided or
    undone item and a later live one): the old unique pair cannot hold them."""
    with op.batch_alter_table("evidence") as b:
        b.drop_column("retract_reason")
    with op.batch_alter_table("ask") as b:
        for c in ("skip_history_json", "skip_undone_at", "skipped_at", "skip_reason"):
            b.drop_column(c)
    with op.batch_alter_table("assessment_method") as b:
        b.drop_column("end_warnings")
        b.drop_column("end_reason")
    with op.batch_alter_table("assessment") as b:
        for c in ("voided_at", "void_reason", "void_by"):
            b.drop_column(c)
    with op.batch_alter_table("draw_swap") as b:
        b.drop_index("ix_draw_swap_undone_at")
        b.drop_column("undone_at")
    with op.batch_alter_table("draw_item") as b:
        b.drop_constraint("uq_draw_item_apprentice_question_void_key", type_="unique")
        b.create_unique_constraint("uq_draw_item_apprentice_question", ["apprentice_id", "question_id"])
        b.drop_column("void_key")
    with op.batch_alter_table("draw") as b:
        b.drop_index("ix_draw_voided_at")
        b.drop_column("voided_at")
        b.drop_column("adhoc_exclude_json")
