"""text versions and source generation: what detection and approval covered, and fencing

Every text carries a version (bumped by each change to its content or elements), the version
detection last covered, and when it last changed; every source a generation that work started
before a withdrawal or a cut can compare against before it writes.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 04:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("text") as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("detected_version", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("changed_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("source") as batch_op:
        batch_op.add_column(
            sa.Column("generation", sa.Integer(), nullable=False, server_default="0")
        )
    # Existing texts changed when they were made. Detection has covered a text if it left
    # redactions on it, or if its source went on to review or approval (a text with nothing
    # to redact leaves no redaction behind).
    op.execute("UPDATE text SET changed_at = created_at")
    op.execute(
        """
        UPDATE text SET detected_version = version
        WHERE EXISTS (SELECT 1 FROM redaction WHERE redaction.text_id = text.id)
           OR EXISTS (
                SELECT 1 FROM source
                WHERE source.id = text.source_id
                  AND (source.deid_status = 'in_review'
                       OR (source.deid_status = 'approved'
                           AND text.created_at <= source.deid_approved_at))
           )
        """
    )
    # An approved source one of whose texts arrived after the approval, or was never
    # detected, goes back to review: its de-identified text was never checked as a whole.
    op.execute(
        """
        UPDATE source SET deid_status = 'pending', deid_approved_at = NULL,
                          deid_approved_by = NULL
        WHERE deid_status = 'approved' AND EXISTS (
            SELECT 1 FROM text WHERE text.source_id = source.id
              AND text.detected_version IS NULL
        )
        """
    )
    op.execute(
        """
        UPDATE source SET deid_status = 'in_review', deid_approved_at = NULL,
                          deid_approved_by = NULL
        WHERE deid_status = 'approved' AND EXISTS (
            SELECT 1 FROM text WHERE text.source_id = source.id
              AND text.created_at > source.deid_approved_at
        )
        """
    )
    with op.batch_alter_table("text") as batch_op:
        batch_op.alter_column(
            "changed_at", existing_type=sa.DateTime(timezone=True), nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("source") as batch_op:
        batch_op.drop_column("generation")
    with op.batch_alter_table("text") as batch_op:
        batch_op.drop_column("changed_at")
        batch_op.drop_column("detected_version")
        batch_op.drop_column("version")
