"""de-identification: the project's vocabulary, never redacted, seeded with its defaults

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 14:00:00
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The defaults as of this revision, frozen here (service.deid.vocabulary may change later, with
# a revision of its own); tests/test_migrations.py checks that the two agree at head.
DEFAULTS = (
    "EPR", "EPRs", "EHR", "EHRs", "electronic patient record", "electronic health record",
    "PAS", "EPMA", "e-prescribing", "CDS", "clinical decision support", "PACS", "LIMS", "RIS",
    "order comms", "patient portal", "shared care record", "ShCR", "NHS App", "smartcard",
    "smartcards", "Hospital at Home", "virtual ward", "virtual wards",
    "GDE", "GDEs", "Global Digital Exemplar", "Global Digital Exemplars", "fast follower",
    "fast followers", "go-live", "go live", "cutover", "optimisation", "interoperability",
    "digital maturity", "digital maturity assessment", "DMA", "HIMSS", "EMRAM",
    "Frontline Digitisation", "Digital Aspirant", "NPfIT", "National Programme for IT", "CRS",
    "benefits realisation", "super-user", "super-users", "floorwalker", "floorwalkers",
    "programme board", "clinical safety officer", "CSO", "DCB0129", "DCB0160",
    "FHIR", "HL7", "SNOMED", "SNOMED CT", "DICOM", "openEHR",
    "CCIO", "CNIO", "CMIO", "CIO", "CDIO", "SRO", "SIRO", "DPO", "Caldicott Guardian",
    "ED", "A&E", "ICU", "ITU", "HDU", "AMU", "MAU", "SDEC", "MDT", "MDTs", "GP", "GPs",
    "NHS", "the NHS", "trust", "trusts", "the trust", "trust board", "the trust board",
    "NHS trust", "foundation trust", "NHS foundation trust", "ward", "wards", "the ward", "CCG",
    "CCGs", "ICS", "ICSs", "ICB", "ICBs", "PCN", "PCNs", "STP", "STPs", "CSU", "AHSN",
    "NHS England", "NHSE", "NHS Digital", "NHSD", "NHS Improvement", "NHSE/I",
    "NHS England and NHS Improvement", "NHSX", "NHS Transformation Directorate", "NHS Wales",
    "NHS Scotland", "NHS Providers", "NHS Confederation", "NHS Resolution", "HSCIC",
    "Health Education England", "HEE", "Department of Health",
    "Department of Health and Social Care", "DHSC", "Care Quality Commission", "CQC", "NICE",
    "MHRA", "ICO", "Public Health England", "UK Health Security Agency", "UKHSA", "DSPT",
    "Data Security and Protection Toolkit",
    "UK", "United Kingdom", "Britain", "Great Britain", "England", "Scotland", "Wales",
    "Northern Ireland",
    "Covid", "Covid-19", "Teams", "Microsoft Teams", "Zoom", "Christmas", "Christmas Eve",
    "Christmas Day", "Easter",
)  # fmt: skip


def upgrade() -> None:
    table = op.create_table(
        "deid_allow_term",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("text", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["user_account.id"],
            name=op.f("fk_deid_allow_term_created_by_user_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deid_allow_term")),
        sa.UniqueConstraint("key", name=op.f("uq_deid_allow_term_key")),
    )
    now = datetime.now(UTC)
    op.bulk_insert(
        table,
        [
            {
                "id": uuid.uuid4(),
                "text": text,
                "key": " ".join(text.split()).casefold(),
                "created_by": None,
                "created_at": now,
            }
            for text in DEFAULTS
        ],
    )


def downgrade() -> None:
    op.drop_table("deid_allow_term")
