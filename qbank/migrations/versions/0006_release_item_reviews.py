"""Review and sign-off (issue 15): who reviewed each question version of a release, and when.

- release_item.reviewer: the second person who reviewed the version, as the release manifest froze
  it ("" when not recorded: every release made before reviews were recorded).
- release_item.reviewed_on: the date of that review, "YYYY-MM-DD" ("" when not recorded).

Kept per release item, not per question version: a review is not content, and a later release of
the same version may record a later review (`qbank review health` reads the newest release's).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("release_item") as b:
        b.add_column(sa.Column("reviewer", sa.Text(), nullable=False, server_default=""))
        b.add_column(sa.Column("reviewed_on", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("release_item") as b:
        b.drop_column("reviewed_on")
        b.drop_column("reviewer")
