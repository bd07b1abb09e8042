"""Sources (units of evidence) and the original files attached to them."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlmodel import Field, SQLModel

from service.db import UTCDateTime, new_id, utcnow


class SourceType(StrEnum):
    interview = "interview"
    group_interview = "group_interview"
    observation = "observation"
    document = "document"


class Level(StrEnum):
    local = "local"
    national = "national"


class SourceStatus(StrEnum):
    received = "received"
    extracting = "extracting"
    ready = "ready"
    failed = "failed"


class DeidStatus(StrEnum):
    pending = "pending"  # no text yet, or detection not run
    in_review = "in_review"  # suggestions await a person's decisions
    approved = "approved"  # the de-identified text is published


class ParticipantRole(StrEnum):
    clinical = "clinical"
    technical = "technical"
    managerial = "managerial"
    policy_maker = "policy_maker"
    vendor = "vendor"
    other = "other"


class FileKind(StrEnum):
    recording = "recording"
    transcript = "transcript"
    notes = "notes"
    document = "document"
    consent_form = "consent_form"


class ExtractionStatus(StrEnum):
    pending = "pending"
    running = "running"
    complete = "complete"
    partial = "partial"  # some pages had no text and could not be read by OCR
    failed = "failed"
    held = "held"  # a recording whose participants have not all consented to transcription
    not_applicable = "not_applicable"  # consent forms: kept, not extracted


class Source(SQLModel, table=True):
    __tablename__ = "source"
    __table_args__ = (
        # Lists page newest-first by id (ids are time-ordered); each filter has an index that
        # ends in id, so a filtered page is an index range scan, never an OFFSET.
        Index("ix_source_site_id_id", "site_id", "id"),
        Index("ix_source_source_type_id", "source_type", "id"),
        Index("ix_source_level_id", "level", "id"),
        Index("ix_source_status_id", "status", "id"),
        Index("ix_source_occurred_on_id", "occurred_on", "id"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    title: str = Field(sa_column=Column(String(500), nullable=False))
    source_type: str = Field(sa_column=Column(String(32), nullable=False))
    level: str = Field(sa_column=Column(String(16), nullable=False))
    site_id: uuid.UUID | None = Field(
        default=None, sa_column=Column(Uuid, ForeignKey("site.id", ondelete="RESTRICT"))
    )
    occurred_on: date | None = Field(default=None, sa_column=Column(Date))
    wave: str | None = Field(default=None, sa_column=Column(String(64)))
    language: str | None = Field(default=None, sa_column=Column(String(35)))
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    status: str = Field(default=SourceStatus.received, sa_column=Column(String(16), nullable=False))
    status_reason: str | None = Field(default=None, sa_column=Column(Text))
    # Bumped when the source's material is withdrawn, cut or held: work that started on an
    # older generation writes nothing (it compares and sets this in its final transaction).
    generation: int = Field(
        default=0, sa_column=Column(Integer, nullable=False, server_default="0")
    )
    deid_status: str = Field(
        default=DeidStatus.pending, sa_column=Column(String(16), nullable=False)
    )
    deid_approved_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    deid_approved_by: uuid.UUID | None = Field(
        default=None, sa_column=Column(Uuid, ForeignKey("user_account.id", ondelete="SET NULL"))
    )
    # Set when a participant's erasure could not separate their words from the others': the
    # source is then hidden from everyone but admins until an admin deletes or releases it.
    withdrawal_hold_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    withdrawal_hold_reason: str | None = Field(default=None, sa_column=Column(Text))
    created_by: uuid.UUID | None = Field(
        default=None, sa_column=Column(Uuid, ForeignKey("user_account.id", ondelete="SET NULL"))
    )
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )


class SourceRole(SQLModel, table=True):
    """A participant role present in a source (for the ``role`` filter)."""

    __tablename__ = "source_role"
    __table_args__ = (
        PrimaryKeyConstraint("source_id", "role"),
        Index("ix_source_role_role_source_id", "role", "source_id"),
    )

    source_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("source.id", ondelete="CASCADE"), nullable=False)
    )
    role: str = Field(sa_column=Column(String(32), nullable=False))


class File(SQLModel, table=True):
    """An original as uploaded. Its bytes live in the object store and are never changed."""

    __tablename__ = "file"
    __table_args__ = (UniqueConstraint("source_id", "sha256"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    source_id: uuid.UUID = Field(
        sa_column=Column(
            Uuid, ForeignKey("source.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    kind: str = Field(sa_column=Column(String(32), nullable=False))
    object_key: str = Field(sa_column=Column(String(200), nullable=False, unique=True))
    size_bytes: int = Field(sa_column=Column(BigInteger, nullable=False))
    sha256: str = Field(sa_column=Column(String(64), nullable=False))
    media_type: str = Field(sa_column=Column(String(128), nullable=False))
    original_filename: str | None = Field(default=None, sa_column=Column(String(255)))
    extraction_status: str = Field(
        default=ExtractionStatus.pending, sa_column=Column(String(16), nullable=False)
    )
    extraction_reason: str | None = Field(default=None, sa_column=Column(Text))
    pages_without_text: list[int] | None = Field(default=None, sa_column=Column(JSON))
    # For a recording, what ffprobe found in it: duration_seconds, codec, channels, sample_rate,
    # container, has_video (see service.transcription.probe.AudioInfo). Set when it is probed.
    media: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    # Set when the bytes were erased because a participant in them withdrew; the row stays so
    # that the derived text of the others keeps its provenance.
    erased_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    created_by: uuid.UUID | None = Field(
        default=None, sa_column=Column(Uuid, ForeignKey("user_account.id", ondelete="SET NULL"))
    )
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )

    def summary(self) -> dict[str, Any]:
        return {"id": str(self.id), "kind": self.kind, "media_type": self.media_type}
