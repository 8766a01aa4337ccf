"""Each method's exposure plan in a release (issue 17): the floor the bank allows and the rates
the draw steers towards.

- release_plan (release_id, method_id, algorithm, payload): `floor.Plan` as JSON, solved by
  linear programming once per release and method (`qbank import`, or `qbank plan` for releases
  imported before), never changed, so no draw solves anything.

Existing releases have no plan until `qbank import` or `qbank plan` runs: until then their draws
select as before (qbank-draw/1).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "release_plan",
        sa.Column("release_id", sa.Integer(), sa.ForeignKey("release.id"), primary_key=True),
        sa.Column("method_id", sa.Integer(), sa.ForeignKey("method.id"), primary_key=True),
        sa.Column("algorithm", sa.String(length=32), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("release_plan")
