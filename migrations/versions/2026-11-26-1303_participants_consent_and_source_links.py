"""participants consent and source links

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 13:03:08.097422
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "participant",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("site_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("role_detail", sa.String(length=200), nullable=True),
        sa.Column("identity_ciphertext", sa.Text(), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdrawal_mode", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"], ["site.id"], name=op.f("fk_participant_site_id_site"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_participant")),
        sa.UniqueConstraint("code", name=op.f("uq_participant_code")),
    )
    op.create_index("ix_participant_site_id_id", "participant", ["site_id", "id"])
    op.create_table(
        "consent",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("participant_id", sa.Uuid(), nullable=False),
        sa.Column("archive", sa.Boolean(), nullable=False),
        sa.Column("transcribe", sa.Boolean(), nullable=False),
        sa.Column("share_team", sa.Boolean(), nullable=False),
        sa.Column("quote", sa.Boolean(), nullable=False),
        sa.Column("deposit", sa.Boolean(), nullable=False),
        sa.Column("given_on", sa.Date(), nullable=False),
        sa.Column("form_key", sa.String(length=200), nullable=True),
        sa.Column("form_sha256", sa.String(length=64), nullable=True),
        sa.Column("form_size", sa.BigInteger(), nullable=True),
        sa.Column("form_media_type", sa.String(length=128), nullable=True),
        sa.Column("recorded_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participant.id"],
            name=op.f("fk_consent_participant_id_participant"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by"],
            ["user_account.id"],
            name=op.f("fk_consent_recorded_by_user_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent")),
    )
    op.create_index("ix_consent_participant_id_id", "consent", ["participant_id", "id"])
    op.create_table(
        "source_participant",
        sa.Column("source_id", sa.Uuid(), nullable=False),
        sa.Column("participant_id", sa.Uuid(), nullable=False),
        sa.Column("speaker_label", sa.String(length=120), nullable=True),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participant.id"],
            name=op.f("fk_source_participant_participant_id_participant"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["source.id"],
            name=op.f("fk_source_participant_source_id_source"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("source_id", "participant_id", name=op.f("pk_source_participant")),
    )
    op.create_index(
        "ix_source_participant_participant_id_source_id",
        "source_participant",
        ["participant_id", "source_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_source_participant_participant_id_source_id", table_name="source_participant")
    op.drop_table("source_participant")
    op.drop_index("ix_consent_participant_id_id", table_name="consent")
    op.drop_table("consent")
    op.drop_index("ix_participant_site_id_id", table_name="participant")
    op.drop_table("participant")
