"""redaction reason: why the detector suggested a span (recogniser, cue words, word list)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: suggestions made before this revision have none, nor do spans a person added.
    with op.batch_alter_table("redaction") as batch_op:
        batch_op.add_column(sa.Column("reason", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("redaction") as batch_op:
        batch_op.drop_column("reason")
