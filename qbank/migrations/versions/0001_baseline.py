"""Baseline: the schema qbank made with SQLModel.metadata.create_all before it had migrations.

Every table, column, index and constraint exactly as create_all made them from qbank/models.py at
the baseline, on SQLite and PostgreSQL alike: unnamed unique constraints stay unnamed (PostgreSQL
calls them <table>_<columns>_key, as create_all's did), indexes keep SQLAlchemy's ix_<table>_<column>.

A store made before migrations is adopted by running this revision on it. create_all only ever
added missing tables, so such a store may predate some of them (a store last opened by a qbank
from before assessments has no assessment tables): each table is therefore created only if the
store lacks it. On a store that has them all this revision changes nothing but the version stamp.
Tests pin what it makes against a snapshot of that create_all (tests/migrations_baseline_schema.json).

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    have = set(sa.inspect(op.get_bind()).get_table_names())
    if "apprentice" not in have:
        op.create_table(
            "apprentice",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("ref", sa.String(length=64), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index("ix_apprentice_ref", "apprentice", ["ref"], unique=True)
    if "standard" not in have:
        op.create_table(
            "standard",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("code", sa.String(length=64), nullable=False),
            sa.Column("title", sa.String(), nullable=False),
            sa.Column("level", sa.Integer(), nullable=False),
            sa.Column("version", sa.String(), nullable=False),
            sa.Column("source", sa.String(), nullable=False),
            sa.Column("min_per_outcome", sa.Integer(), nullable=False),
            sa.Column("near_duplicate_threshold", sa.Integer(), nullable=False),
            sa.Column("grading_json", sa.Text(), nullable=False),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index("ix_standard_code", "standard", ["code"], unique=True)
    if "method" not in have:
        op.create_table(
            "method",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("standard_id", sa.Integer(), nullable=False),
            sa.Column("key", sa.String(length=64), nullable=False),
            sa.Column("name", sa.String(), nullable=False),
            sa.Column("kind", sa.String(), nullable=False),
            sa.Column("minutes", sa.Integer(), nullable=False),
            sa.Column("min_questions", sa.Integer(), nullable=False),
            sa.Column("position", sa.Integer(), nullable=False),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("standard_id", "key"),
            sa.ForeignKeyConstraint(["standard_id"], ["standard.id"]),
        )
        op.create_index("ix_method_standard_id", "method", ["standard_id"], unique=False)
    if "outcome" not in have:
        op.create_table(
            "outcome",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("standard_id", sa.Integer(), nullable=False),
            sa.Column("code", sa.String(length=64), nullable=False),
            sa.Column("title", sa.String(), nullable=False),
            sa.Column("group", sa.String(length=16), nullable=False),
            sa.Column("position", sa.Integer(), nullable=False),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("standard_id", "code"),
            sa.ForeignKeyConstraint(["standard_id"], ["standard.id"]),
        )
        op.create_index("ix_outcome_standard_id", "outcome", ["standard_id"], unique=False)
    if "question" not in have:
        op.create_table(
            "question",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("code", sa.String(length=64), nullable=False),
            sa.Column("standard_id", sa.Integer(), nullable=False),
            sa.PrimaryKeyConstraint("id"),
            sa.ForeignKeyConstraint(["standard_id"], ["standard.id"]),
        )
        op.create_index("ix_question_code", "question", ["code"], unique=True)
        op.create_index("ix_question_standard_id", "question", ["standard_id"], unique=False)
    if "release" not in have:
        op.create_table(
            "release",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("standard_id", sa.Integer(), nullable=False),
            sa.Column("semver", sa.String(length=32), nullable=False),
            sa.Column("major", sa.Integer(), nullable=False),
            sa.Column("minor", sa.Integer(), nullable=False),
            sa.Column("patch", sa.Integer(), nullable=False),
            sa.Column("created", sa.String(), nullable=False),
            sa.Column("manifest_hash", sa.String(length=80), nullable=False),
            sa.Column("definition_json", sa.Text(), nullable=False),
            sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("standard_id", "semver"),
            sa.ForeignKeyConstraint(["standard_id"], ["standard.id"]),
        )
        op.create_index("ix_release_standard_id", "release", ["standard_id"], unique=False)
    if "assessment" not in have:
        op.create_table(
            "assessment",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("standard_id", sa.Integer(), nullable=False),
            sa.Column("release_id", sa.Integer(), nullable=False),
            sa.Column("apprentice_id", sa.Integer(), nullable=False),
            sa.Column("assessor", sa.String(length=128), nullable=False),
            sa.Column("attempt", sa.String(length=16), nullable=False),
            sa.Column("cohort", sa.String(length=128), nullable=False),
            sa.Column("previous_id", sa.Integer(), nullable=True),
            sa.Column("extra_time_pct", sa.Integer(), nullable=False),
            sa.Column("adjustments", sa.Text(), nullable=False),
            sa.Column("status", sa.String(length=16), nullable=False),
            sa.Column("override_by", sa.String(length=128), nullable=True),
            sa.Column("override_reason", sa.Text(), nullable=True),
            sa.Column("override_at", sa.DateTime(timezone=True), nullable=True),
            sa.Column("overall_json", sa.Text(), nullable=False),
            sa.Column("ui_json", sa.Text(), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
            sa.PrimaryKeyConstraint("id"),
            sa.ForeignKeyConstraint(["standard_id"], ["standard.id"]),
            sa.ForeignKeyConstraint(["release_id"], ["release.id"]),
            sa.ForeignKeyConstraint(["apprentice_id"], ["apprentice.id"]),
            sa.ForeignKeyConstraint(["previous_id"], ["assessment.id"]),
        )
        op.create_index("ix_assessment_apprentice_id", "assessment", ["apprentice_id"], unique=False)
        op.create_index("ix_assessment_assessor", "assessment", ["assessor"], unique=False)
        op.create_index("ix_assessment_standard_id", "assessment", ["standard_id"], unique=False)
    if "draw" not in have:
        op.create_table(
            "draw",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("standard_id", sa.Integer(), nullable=False),
            sa.Column("method_id", sa.Integer(), nullable=False),
            sa.Column("release_id", sa.Integer(), nullable=False),
            sa.Column("apprentice_id", sa.Integer(), nullable=False),
            sa.Column("attempt", sa.String(length=16), nullable=False),
            sa.Column("cohort", sa.String(length=128), nullable=False),
            sa.Column("extra_time_pct", sa.Integer(), nullable=False),
            sa.Column("exposure_cap", sa.Float(), nullable=False),
            sa.Column("seed", sa.String(length=64), nullable=False),
            sa.Column("algorithm", sa.String(length=32), nullable=False),
            sa.Column("exclude_json", sa.Text(), nullable=False),
            sa.Column("usage_json", sa.Text(), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("id"),
            sa.ForeignKeyConstraint(["standard_id"], ["standard.id"]),
            sa.ForeignKeyConstraint(["method_id"], ["method.id"]),
            sa.ForeignKeyConstraint(["release_id"], ["release.id"]),
            sa.ForeignKeyConstraint(["apprentice_id"], ["apprentice.id"]),
        )
        op.create_index("ix_draw_apprentice_id", "draw", ["apprentice_id"], unique=False)
        op.create_index("ix_draw_cohort", "draw", ["cohort"], unique=False)
        op.create_index("ix_draw_method_id", "draw", ["method_id"], unique=False)
        op.create_index("ix_draw_standard_id", "draw", ["standard_id"], unique=False)
    if "method_outcome" not in have:
        op.create_table(
            "method_outcome",
            sa.Column("method_id", sa.Integer(), nullable=False),
            sa.Column("outcome_id", sa.Integer(), nullable=False),
            sa.PrimaryKeyConstraint("method_id", "outcome_id"),
            sa.ForeignKeyConstraint(["method_id"], ["method.id"]),
            sa.ForeignKeyConstraint(["outcome_id"], ["outcome.id"]),
        )
    if "question_version" not in have:
        op.create_table(
            "question_version",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("question_id", sa.Integer(), nullable=False),
            sa.Column("version", sa.Integer(), nullable=False),
            sa.Column("content_hash", sa.String(length=80), nullable=False),
            sa.Column("text", sa.Text(), nullable=False),
            sa.Column("probes_json", sa.Text(), nullable=False),
            sa.Column("guidance", sa.Text(), nullable=False),
            sa.Column("bands_json", sa.Text(), nullable=False),
            sa.Column("minutes", sa.Integer(), nullable=False),
            sa.Column("topic", sa.String(), nullable=False),
            sa.Column("opener", sa.Boolean(), nullable=False),
            sa.Column("author", sa.String(), nullable=False),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("question_id", "version"),
            sa.ForeignKeyConstraint(["question_id"], ["question.id"]),
        )
        op.create_index("ix_question_version_question_id", "question_version", ["question_id"], unique=False)
    if "assessment_method" not in have:
        op.create_table(
            "assessment_method",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("assessment_id", sa.Integer(), nullable=False),
            sa.Column("method_id", sa.Integer(), nullable=False),
            sa.Column("position", sa.Integer(), nullable=False),
            sa.Column("draw_id", sa.Integer(), nullable=True),
            sa.Column("carried_from_id", sa.Integer(), nullable=True),
            sa.Column("status", sa.String(length=16), nullable=False),
            sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
            sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
            sa.Column("elapsed_seconds", sa.Float(), nullable=False),
            sa.Column("grade", sa.String(length=64), nullable=True),
            sa.Column("rule_text", sa.Text(), nullable=False),
            sa.Column("confirmed_grade", sa.String(length=64), nullable=True),
            sa.Column("disagreement", sa.Text(), nullable=False),
            sa.Column("strengths", sa.Text(), nullable=False),
            sa.Column("improvements", sa.Text(), nullable=False),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("assessment_id", "method_id", name="uq_assessment_method"),
            sa.ForeignKeyConstraint(["assessment_id"], ["assessment.id"]),
            sa.ForeignKeyConstraint(["method_id"], ["method.id"]),
            sa.ForeignKeyConstraint(["draw_id"], ["draw.id"]),
            sa.ForeignKeyConstraint(["carried_from_id"], ["assessment_method.id"]),
        )
        op.create_index("ix_assessment_method_assessment_id", "assessment_method", ["assessment_id"], unique=False)
        op.create_index("ix_assessment_method_method_id", "assessment_method", ["method_id"], unique=False)
    if "draw_item" not in have:
        op.create_table(
            "draw_item",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("draw_id", sa.Integer(), nullable=False),
            sa.Column("position", sa.Integer(), nullable=False),
            sa.Column("question_id", sa.Integer(), nullable=False),
            sa.Column("question_version_id", sa.Integer(), nullable=False),
            sa.Column("apprentice_id", sa.Integer(), nullable=False),
            sa.Column("origin", sa.String(length=8), nullable=False),
            sa.Column("active", sa.Boolean(), nullable=False),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("apprentice_id", "question_id", name="uq_draw_item_apprentice_question"),
            sa.ForeignKeyConstraint(["draw_id"], ["draw.id"]),
            sa.ForeignKeyConstraint(["question_id"], ["question.id"]),
            sa.ForeignKeyConstraint(["question_version_id"], ["question_version.id"]),
            sa.ForeignKeyConstraint(["apprentice_id"], ["apprentice.id"]),
        )
        op.create_index("ix_draw_item_draw_id", "draw_item", ["draw_id"], unique=False)
        op.create_index("ix_draw_item_question_id", "draw_item", ["question_id"], unique=False)
    if "question_version_method" not in have:
        op.create_table(
            "question_version_method",
            sa.Column("question_version_id", sa.Integer(), nullable=False),
            sa.Column("method_id", sa.Integer(), nullable=False),
            sa.PrimaryKeyConstraint("question_version_id", "method_id"),
            sa.ForeignKeyConstraint(["question_version_id"], ["question_version.id"]),
            sa.ForeignKeyConstraint(["method_id"], ["method.id"]),
        )
        op.create_index("ix_question_version_method_method_id", "question_version_method", ["method_id"], unique=False)
    if "question_version_outcome" not in have:
        op.create_table(
            "question_version_outcome",
            sa.Column("question_version_id", sa.Integer(), nullable=False),
            sa.Column("outcome_id", sa.Integer(), nullable=False),
            sa.PrimaryKeyConstraint("question_version_id", "outcome_id"),
            sa.ForeignKeyConstraint(["question_version_id"], ["question_version.id"]),
            sa.ForeignKeyConstraint(["outcome_id"], ["outcome.id"]),
        )
        op.create_index(
            "ix_question_version_outcome_outcome_id", "question_version_outcome", ["outcome_id"], unique=False
        )
    if "release_item" not in have:
        op.create_table(
            "release_item",
            sa.Column("release_id", sa.Integer(), nullable=False),
            sa.Column("question_version_id", sa.Integer(), nullable=False),
            sa.PrimaryKeyConstraint("release_id", "question_version_id"),
            sa.ForeignKeyConstraint(["release_id"], ["release.id"]),
            sa.ForeignKeyConstraint(["question_version_id"], ["question_version.id"]),
        )
        op.create_index("ix_release_item_question_version_id", "release_item", ["question_version_id"], unique=False)
    if "ask" not in have:
        op.create_table(
            "ask",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("assessment_method_id", sa.Integer(), nullable=False),
            sa.Column("question_id", sa.Integer(), nullable=True),
            sa.Column("question_version_id", sa.Integer(), nullable=True),
            sa.Column("adhoc_text", sa.Text(), nullable=True),
            sa.Column("adhoc_outcomes_json", sa.Text(), nullable=False),
            sa.Column("position", sa.Integer(), nullable=False),
            sa.Column("status", sa.String(length=16), nullable=False),
            sa.Column("notes", sa.Text(), nullable=False),
            sa.Column("asked_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("assessment_method_id", "question_id", name="uq_ask_question"),
            sa.ForeignKeyConstraint(["assessment_method_id"], ["assessment_method.id"]),
            sa.ForeignKeyConstraint(["question_id"], ["question.id"]),
            sa.ForeignKeyConstraint(["question_version_id"], ["question_version.id"]),
        )
        op.create_index("ix_ask_assessment_method_id", "ask", ["assessment_method_id"], unique=False)
        op.create_index("ix_ask_question_id", "ask", ["question_id"], unique=False)
    if "criterion_mark" not in have:
        op.create_table(
            "criterion_mark",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("assessment_method_id", sa.Integer(), nullable=False),
            sa.Column("criterion", sa.String(length=64), nullable=False),
            sa.Column("mark", sa.Float(), nullable=True),
            sa.Column("strengths", sa.Text(), nullable=False),
            sa.Column("improvements", sa.Text(), nullable=False),
            sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("assessment_method_id", "criterion", name="uq_criterion_mark"),
            sa.ForeignKeyConstraint(["assessment_method_id"], ["assessment_method.id"]),
        )
        op.create_index(
            "ix_criterion_mark_assessment_method_id", "criterion_mark", ["assessment_method_id"], unique=False
        )
    if "draw_swap" not in have:
        op.create_table(
            "draw_swap",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("draw_id", sa.Integer(), nullable=False),
            sa.Column("out_item_id", sa.Integer(), nullable=False),
            sa.Column("in_item_id", sa.Integer(), nullable=False),
            sa.Column("reason", sa.Text(), nullable=False),
            sa.Column("seed", sa.String(length=64), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("id"),
            sa.ForeignKeyConstraint(["draw_id"], ["draw.id"]),
            sa.ForeignKeyConstraint(["out_item_id"], ["draw_item.id"]),
            sa.ForeignKeyConstraint(["in_item_id"], ["draw_item.id"]),
        )
        op.create_index("ix_draw_swap_draw_id", "draw_swap", ["draw_id"], unique=False)
    if "evidence" not in have:
        op.create_table(
            "evidence",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("assessment_method_id", sa.Integer(), nullable=False),
            sa.Column("ask_id", sa.Integer(), nullable=True),
            sa.Column("criterion", sa.String(length=64), nullable=False),
            sa.Column("outcomes_json", sa.Text(), nullable=False),
            sa.Column("level", sa.String(length=64), nullable=False),
            sa.Column("note", sa.Text(), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("retracted_at", sa.DateTime(timezone=True), nullable=True),
            sa.PrimaryKeyConstraint("id"),
            sa.ForeignKeyConstraint(["assessment_method_id"], ["assessment_method.id"]),
            sa.ForeignKeyConstraint(["ask_id"], ["ask.id"]),
        )
        op.create_index("ix_evidence_ask_id", "evidence", ["ask_id"], unique=False)
        op.create_index("ix_evidence_assessment_method_id", "evidence", ["assessment_method_id"], unique=False)


def downgrade() -> None:
    op.drop_table("evidence")
    op.drop_table("draw_swap")
    op.drop_table("criterion_mark")
    op.drop_table("ask")
    op.drop_table("release_item")
    op.drop_table("question_version_outcome")
    op.drop_table("question_version_method")
    op.drop_table("draw_item")
    op.drop_table("assessment_method")
    op.drop_table("question_version")
    op.drop_table("method_outcome")
    op.drop_table("draw")
    op.drop_table("assessment")
    op.drop_table("release")
    op.drop_table("question")
    op.drop_table("outcome")
    op.drop_table("method")
    op.drop_table("standard")
    op.drop_table("apprentice")
