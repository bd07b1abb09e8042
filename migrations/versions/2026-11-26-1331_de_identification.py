"""de-identification: redactions, pseudonyms, term lists

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 13:31:13.804345
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pseudonym_counter",
        sa.Column("entity_type", sa.String(length=32), nullable=False),
        sa.Column("next_number", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("entity_type", name=op.f("pk_pseudonym_counter")),
    )
    op.create_table(
        "deid_term",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("text", sa.String(length=200), nullable=False),
        sa.Column("entity_type", sa.String(length=32), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["user_account.id"],
            name=op.f("fk_deid_term_created_by_user_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deid_term")),
        sa.UniqueConstraint("entity_type", "text", name=op.f("uq_deid_term_entity_type_text")),
    )
    op.create_table(
        "pseudonym",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("entity_type", sa.String(length=32), nullable=False),
        sa.Column("term_digest", sa.String(length=64), nullable=False),
        sa.Column("term_ciphertext", sa.Text(), nullable=False),
        sa.Column("replacement", sa.String(length=120), nullable=False),
        sa.Column("participant_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participant.id"],
            name=op.f("fk_pseudonym_participant_id_participant"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pseudonym")),
        sa.UniqueConstraint(
            "entity_type", "term_digest", name=op.f("uq_pseudonym_entity_type_term_digest")
        ),
    )
    with op.batch_alter_table("pseudonym", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_pseudonym_participant_id"), ["participant_id"], unique=False
        )

    op.create_table(
        "redaction",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("source_id", sa.Uuid(), nullable=False),
        sa.Column("text_id", sa.Uuid(), nullable=False),
        sa.Column("start", sa.Integer(), nullable=False),
        sa.Column("end", sa.Integer(), nullable=False),
        sa.Column("entity_type", sa.String(length=32), nullable=False),
        sa.Column("replacement", sa.String(length=120), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("origin", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("decided_by", sa.Uuid(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["user_account.id"],
            name=op.f("fk_redaction_created_by_user_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"],
            ["user_account.id"],
            name=op.f("fk_redaction_decided_by_user_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["source.id"],
            name=op.f("fk_redaction_source_id_source"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["text_id"], ["text.id"], name=op.f("fk_redaction_text_id_text"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_redaction")),
    )
    with op.batch_alter_table("redaction", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_redaction_source_id"), ["source_id"], unique=False)
        batch_op.create_index("ix_redaction_text_id_start", ["text_id", "start"], unique=False)

    with op.batch_alter_table("source", schema=None) as batch_op:
        # Existing sources start pending: detection runs for them when their text is next ready.
        batch_op.add_column(
            sa.Column("deid_status", sa.String(length=16), nullable=False, server_default="pending")
        )
        batch_op.add_column(
            sa.Column("deid_approved_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("deid_approved_by", sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_source_deid_approved_by_user_account"),
            "user_account",
            ["deid_approved_by"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("source", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_source_deid_approved_by_user_account"), type_="foreignkey"
        )
        batch_op.drop_column("deid_approved_by")
        batch_op.drop_column("deid_approved_at")
        batch_op.drop_column("deid_status")

    with op.batch_alter_table("redaction", schema=None) as batch_op:
        batch_op.drop_index("ix_redaction_text_id_start")
        batch_op.drop_index(batch_op.f("ix_redaction_source_id"))

    op.drop_table("redaction")
    with op.batch_alter_table("pseudonym", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pseudonym_participant_id"))

    op.drop_table("pseudonym")
    op.drop_table("deid_term")
    op.drop_table("pseudonym_counter")
