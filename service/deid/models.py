"""De-identification: suggested and decided redactions, the pseudonym registry, term lists."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlmodel import Field, SQLModel

from service.db import UTCDateTime, new_id, utcnow


class Redaction(SQLModel, table=True):
    """A span of a text (character offsets into the identifiable cleaned text) to be replaced in
    the de-identified form. The original words are not copied here: they stay in the text."""

    __tablename__ = "redaction"
    __table_args__ = (Index("ix_redaction_text_id_start", "text_id", "start"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    source_id: uuid.UUID = Field(
        sa_column=Column(
            Uuid, ForeignKey("source.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    text_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("text.id", ondelete="CASCADE"), nullable=False)
    )
    start: int = Field(sa_column=Column(Integer, nullable=False))
    end: int = Field(sa_column=Column(Integer, nullable=False))
    entity_type: str = Field(sa_column=Column(String(32), nullable=False))
    # A replacement set by a person; otherwise the registry's (or the type's descriptor) applies.
    replacement: str | None = Field(default=None, sa_column=Column(String(120)))
    score: float | None = Field(default=None, sa_column=Column(Float))
    origin: str = Field(sa_column=Column(String(64), nullable=False))  # detector:<name> | person
    # Why the detector suggested it ({"recogniser", "why", "context", "list"}: see
    # ``service.deid.detect.Reason``), never the span's own words; None for a person's span
    # and for suggestions made before reasons were recorded.
    reason: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    status: str = Field(sa_column=Column(String(16), nullable=False))  # suggested|accepted|rejected
    created_by: uuid.UUID | None = Field(
        default=None, sa_column=Column(Uuid, ForeignKey("user_account.id", ondelete="SET NULL"))
    )
    decided_by: uuid.UUID | None = Field(
        default=None, sa_column=Column(Uuid, ForeignKey("user_account.id", ondelete="SET NULL"))
    )
    decided_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )


class Pseudonym(SQLModel, table=True):
    """One identifying term and its stable replacement, the same in every source.

    The term is identifiable: it is stored encrypted, and found by a keyed digest.
    """

    __tablename__ = "pseudonym"
    __table_args__ = (UniqueConstraint("entity_type", "term_digest"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    entity_type: str = Field(sa_column=Column(String(32), nullable=False))
    term_digest: str = Field(sa_column=Column(String(64), nullable=False))
    term_ciphertext: str = Field(sa_column=Column(Text, nullable=False))
    replacement: str = Field(sa_column=Column(String(120), nullable=False))
    # Set for a participant's own names, so that withdrawal can erase them.
    participant_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(Uuid, ForeignKey("participant.id", ondelete="CASCADE"), index=True),
    )
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )


class Term(SQLModel, table=True):
    """An admin-managed deny-list entry: a trust, supplier, place or system name that is always
    redacted. These name organisations and places, not people, so they are stored in clear."""

    __tablename__ = "deid_term"
    __table_args__ = (UniqueConstraint("entity_type", "text"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    text: str = Field(sa_column=Column(String(200), nullable=False))
    entity_type: str = Field(sa_column=Column(String(32), nullable=False))
    created_by: uuid.UUID | None = Field(
        default=None, sa_column=Column(Uuid, ForeignKey("user_account.id", ondelete="SET NULL"))
    )
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )


class AllowTerm(SQLModel, table=True):
    """A term of the project's vocabulary, never redacted: "EPR", "go-live", "NHS England".
    Seeded with ``service.deid.vocabulary`` by the migration that made the table; admins edit
    it. Found by ``key``, the text case-folded with its whitespace normalised."""

    __tablename__ = "deid_allow_term"
    __table_args__ = (UniqueConstraint("key"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    text: str = Field(sa_column=Column(String(200), nullable=False))
    key: str = Field(sa_column=Column(String(200), nullable=False))
    created_by: uuid.UUID | None = Field(
        default=None, sa_column=Column(Uuid, ForeignKey("user_account.id", ondelete="SET NULL"))
    )
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )


class PseudonymCounter(SQLModel, table=True):
    """The next letter for each kind of pseudonym ([Trust C] after [Trust B]); taking one is an
    UPDATE, so two jobs never hand out the same letter."""

    __tablename__ = "pseudonym_counter"

    entity_type: str = Field(sa_column=Column(String(32), primary_key=True))
    next_number: int = Field(sa_column=Column(Integer, nullable=False))
