"""file media and text language: what a recording's probe and transcription found

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 15:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("file") as batch_op:
        batch_op.add_column(sa.Column("media", sa.JSON(), nullable=True))
    with op.batch_alter_table("text") as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("text") as batch_op:
        batch_op.drop_column("language")
    with op.batch_alter_table("file") as batch_op:
        batch_op.drop_column("media")
