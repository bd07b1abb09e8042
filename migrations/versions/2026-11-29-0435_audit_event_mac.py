"""audit event mac: how each event's hash was made (plain SHA-256 before the log had a key)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Events already in the log were hashed without a key: they keep mac 0 and are verified
    # as they were written; the service writes every new event with mac 1 (HMAC-SHA256).
    with op.batch_alter_table("audit_event") as batch_op:
        batch_op.add_column(sa.Column("mac", sa.SmallInteger(), nullable=False, server_default="0"))


def downgrade() -> None:
    # The keyed events stay in the log; the earlier code cannot verify their hashes without
    # the key, and reports them as not matching.
    with op.batch_alter_table("audit_event") as batch_op:
        batch_op.drop_column("mac")
