"""de-identification: clinical scores, coding standards and governance papers as vocabulary

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29 06:30:00
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here as revision 0010 froze its list; tests/test_migrations.py checks that a fresh
# database holds exactly service.deid.vocabulary's defaults.
ADDED = (
    "NEWS", "NEWS2", "MEWS", "MEOWS", "PEWS", "SBAR", "ReSPECT", "DNACPR", "DNAR",
    "Glasgow Coma Scale", "GCS", "qSOFA", "Waterlow", "VTE", "eObs", "e-observations", "dm+d",
    "ICD-10", "ICD-11", "OPCS-4", "Read codes", "CTV3", "LOINC", "PRSB", "DTAC",
    "DPIA", "DPIAs", "KPI", "KPIs", "CQUIN", "SOP", "SOPs", "RAG", "BAF", "OBC", "FBC",
)  # fmt: skip

terms = sa.table(
    "deid_allow_term",
    sa.column("id", sa.Uuid()),
    sa.column("text", sa.String(length=200)),
    sa.column("key", sa.String(length=200)),
    sa.column("created_by", sa.Uuid()),
    sa.column("created_at", sa.DateTime(timezone=True)),
)


def _key(text: str) -> str:
    return " ".join(text.split()).casefold()


def upgrade() -> None:
    # An admin may already have added one of these by hand: keep that row, add the rest.
    existing = set(op.get_bind().execute(sa.select(terms.c.key)).scalars())
    now = datetime.now(UTC)
    rows = [
        {"id": uuid.uuid4(), "text": t, "key": _key(t), "created_by": None, "created_at": now}
        for t in ADDED
        if _key(t) not in existing
    ]
    if rows:
        op.bulk_insert(terms, rows)


def downgrade() -> None:
    # Only the rows this revision wrote (no author); a term an admin added stays.
    op.execute(
        terms.delete().where(
            terms.c.key.in_([_key(t) for t in ADDED]), terms.c.created_by.is_(None)
        )
    )
