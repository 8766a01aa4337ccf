"""Issue 13: declared exclusions and tag justifications on question versions, the learner's
declarations and the report format on an assessment, second marks (IQA), release clearances.

- question_version.excludes_json: ids the writer declared must never share a set with this one.
- question_version.tags_justification: why a question carries more outcome tags than the cap.
- release_near_duplicate.kind: "text" for pairs the similarity scan found, "declared" for a
  writer's excludes (both keep two questions out of one set).
- assessment.declarations_json: the learner's declarations on the record (ILM: authenticity,
  refusal of anonymous use).
- assessment_method.report_format: written or oral, for a method whose report may be either.
- second_mark: a second marker's marks/levels/grade per assessed method.
- release_clearance: who cleared (or withdrew clearance of) a release for live assessment.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("question_version") as b:
        b.add_column(sa.Column("excludes_json", sa.Text(), nullable=False, server_default="[]"))
        b.add_column(sa.Column("tags_justification", sa.Text(), nullable=False, server_default=""))
    with op.batch_alter_table("release_near_duplicate") as b:
        b.add_column(sa.Column("kind", sa.String(length=8), nullable=False, server_default="text"))
    with op.batch_alter_table("assessment") as b:
        b.add_column(sa.Column("declarations_json", sa.Text(), nullable=False, server_default="{}"))
    with op.batch_alter_table("assessment_method") as b:
        b.add_column(sa.Column("report_format", sa.String(length=16), nullable=True))
    op.create_table(
        "second_mark",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("assessment_method_id", sa.Integer(), sa.ForeignKey("assessment_method.id"), nullable=False),
        sa.Column("marker", sa.String(length=128), nullable=False),
        sa.Column("marks_json", sa.Text(), nullable=False),
        sa.Column("levels_json", sa.Text(), nullable=False),
        sa.Column("grade", sa.String(length=64), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_second_mark_assessment_method_id", "second_mark", ["assessment_method_id"], unique=False)
    op.create_table(
        "release_clearance",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("release_id", sa.Integer(), sa.ForeignKey("release.id"), nullable=False),
        sa.Column("cleared_by", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_release_clearance_release_id", "release_clearance", ["release_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_release_clearance_release_id", table_name="release_clearance")
    op.drop_table("release_clearance")
    op.drop_index("ix_second_mark_assessment_method_id", table_name="second_mark")
    op.drop_table("second_mark")
    with op.batch_alter_table("assessment_method") as b:
        b.drop_column("report_format")
    with op.batch_alter_table("assessment") as b:
        b.drop_column("declarations_json")
    with op.batch_alter_table("release_near_duplicate") as b:
        b.drop_column("kind")
    with op.batch_alter_table("question_version") as b:
        b.drop_column("tags_justification")
        b.drop_column("excludes_json")
