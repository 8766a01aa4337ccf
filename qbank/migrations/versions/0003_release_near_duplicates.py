"""Near-duplicate pairs stored with each release; the manifest file's hash; draws by method, newest first.

- release_near_duplicate (release_id, a_version_id, b_version_id, score): the pairs of a release's
  question versions whose texts are near-duplicates by the standard's threshold. Found once per
  release (a release never changes) so that no draw scans texts.
- release.manifest_sha256 (indexed): the manifest file's bytes, so that importing unchanged files
  again compares hashes and reads nothing else.
- release.near_duplicate_threshold: the threshold the stored pairs were found with.
- release_pool (release_id, method_id, format, payload): each method's draw pool as compact JSON,
  derived from the release's rows; built by the first draw that needs it (or at import).
- ix_draw_method_id_id on draw (method_id, id): a draw's usage window reads only the newest draws
  of its method (PostgreSQL cannot order by id through the index on method_id alone).
- ix_question_standard_id_code on question (standard_id, code): `qbank list --standard` reads
  its page in order instead of sorting the standard's questions.
- ix_assessment_method_draw_id: joins from a draw to its assessment (reviews filtered by assessor
  took minutes at 25,000 sets when SQLite chose a plan without it).

Existing releases: their pairs are found now, from the texts in the store, with their standard's
current threshold (what every draw used so far, since draws scanned with it); manifest_sha256 stays
empty until the next import of the same files fills it in.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "release_near_duplicate",
        sa.Column("release_id", sa.Integer(), sa.ForeignKey("release.id"), primary_key=True),
        sa.Column("a_version_id", sa.Integer(), sa.ForeignKey("question_version.id"), primary_key=True),
        sa.Column("b_version_id", sa.Integer(), sa.ForeignKey("question_version.id"), primary_key=True),
        sa.Column("score", sa.Float(), nullable=False),
    )
    op.create_table(
        "release_pool",
        sa.Column("release_id", sa.Integer(), sa.ForeignKey("release.id"), primary_key=True),
        sa.Column("method_id", sa.Integer(), sa.ForeignKey("method.id"), primary_key=True),
        sa.Column("format", sa.Integer(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
    )
    with op.batch_alter_table("release") as b:
        b.add_column(sa.Column("manifest_sha256", sa.String(length=64), nullable=True))
        b.add_column(sa.Column("near_duplicate_threshold", sa.Float(), nullable=True))
        b.create_index("ix_release_manifest_sha256", ["manifest_sha256"], unique=False)
    op.create_index("ix_draw_method_id_id", "draw", ["method_id", "id"], unique=False)
    op.create_index("ix_question_standard_id_code", "question", ["standard_id", "code"], unique=False)
    op.create_index("ix_assessment_method_draw_id", "assessment_method", ["draw_id"], unique=False)
    _backfill_pairs(op.get_bind())


def _backfill_pairs(conn) -> None:
    from qbank.similarity import near_duplicates

    releases = conn.execute(
        sa.text(
            "SELECT r.id, s.near_duplicate_threshold FROM release r "
            "JOIN standard s ON s.id = r.standard_id ORDER BY r.id"
        )
    ).all()
    for release_id, threshold in releases:
        texts = {
            str(qv): text
            for qv, text in conn.execute(
                sa.text(
                    "SELECT qv.id, qv.text FROM release_item ri JOIN question_version qv "
                    "ON qv.id = ri.question_version_id WHERE ri.release_id = :r"
                ),
                {"r": release_id},
            )
        }
        pairs = [
            {"release_id": release_id, "a": min(int(d.a), int(d.b)), "b": max(int(d.a), int(d.b)), "score": d.score}
            for d in near_duplicates(texts, threshold)
        ]
        if pairs:
            conn.execute(
                sa.text(
                    "INSERT INTO release_near_duplicate (release_id, a_version_id, b_version_id, score) "
                    "VALUES (:release_id, :a, :b, :score)"
                ),
                pairs,
            )
        conn.execute(
            sa.text("UPDATE release SET near_duplicate_threshold = :t WHERE id = :r"), {"t": threshold, "r": release_id}
        )


def downgrade() -> None:
    op.drop_index("ix_assessment_method_draw_id", table_name="assessment_method")
    op.drop_index("ix_question_standard_id_code", table_name="question")
    op.drop_index("ix_draw_method_id_id", table_name="draw")
    with op.batch_alter_table("release") as b:
        b.drop_index("ix_release_manifest_sha256")
        b.drop_column("near_duplicate_threshold")
        b.drop_column("manifest_sha256")
    op.drop_table("release_pool")
    op.drop_table("release_near_duplicate")
