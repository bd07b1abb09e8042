from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from service.sources.models import (
    DeidStatus,
    ExtractionStatus,
    FileKind,
    Level,
    ParticipantRole,
    SourceStatus,
    SourceType,
)

# Dates the archive takes: generous for old documents, and short of the last year a date can
# hold (9999), whose last quarter has no end a date can name.
EARLIEST_DAY = date(1800, 1, 1)
LATEST_DAY = date(2199, 12, 31)
EvidenceDate = Annotated[
    date,
    Field(
        ge=EARLIEST_DAY,
        le=LATEST_DAY,
        description=f"YYYY-MM-DD, from {EARLIEST_DAY.isoformat()} to {LATEST_DAY.isoformat()}",
    ),
]


class SourceCreate(BaseModel):
    """The metadata fields of ``POST /sources`` (sent as form fields beside the file parts)."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=500)
    source_type: SourceType
    level: Level = Level.local
    site: str | None = Field(default=None, description="The site's code", max_length=32)
    occurred_on: EvidenceDate | None = None
    wave: str | None = Field(default=None, max_length=64)
    language: str | None = Field(
        default=None, max_length=35, pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$"
    )
    tags: list[str] = Field(default_factory=list, max_length=50)
    roles: list[ParticipantRole] = Field(default_factory=list)
    participants: list[str] = Field(
        default_factory=list,
        max_length=100,
        description="Participant codes, each optionally with =<speaker label>: P-017=Nurse A",
    )

    @field_validator("title")
    @classmethod
    def _title_not_blank(cls, value: str) -> str:
        value = " ".join(value.split())
        if not value:
            raise ValueError("must not be blank")
        return value

    @field_validator("tags")
    @classmethod
    def _tags_clean(cls, value: list[str]) -> list[str]:
        cleaned = []
        for tag in value:
            tag = " ".join(tag.split())
            if not tag or len(tag) > 64:
                raise ValueError("each tag must be 1 to 64 characters")
            if tag not in cleaned:
                cleaned.append(tag)
        return cleaned


class MediaInfo(BaseModel):
    """What a recording's first audio track holds, as ffprobe reports it."""

    duration_seconds: float
    codec: str
    channels: int
    sample_rate: int
    container: str
    has_video: bool


class FileRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: FileKind
    media_type: str
    size_bytes: int
    sha256: str
    original_filename: str | None
    extraction_status: ExtractionStatus
    extraction_reason: str | None
    pages_without_text: list[int] | None
    media: MediaInfo | None = None
    erased_at: datetime | None = None
    created_at: datetime
    job_id: uuid.UUID | None = None


class SiteRef(BaseModel):
    id: uuid.UUID
    code: str


class ParticipantRef(BaseModel):
    code: str
    speaker_label: str | None


class WithdrawalHold(BaseModel):
    at: datetime
    reason: str | None


class SourceRead(BaseModel):
    id: uuid.UUID
    title: str
    source_type: SourceType
    level: Level
    site: SiteRef | None
    occurred_on: date | None
    occurred_period: str | None = Field(
        description="The date, or its quarter (2024-Q1) where the exact date could single "
        "a person out"
    )
    disclosure: str = Field(
        description="exact, or generalised (date to quarter, roles to groups) or withheld, for "
        "those outside the source's identifiable tier"
    )
    wave: str | None
    language: str | None
    tags: list[str]
    roles: list[str]
    participants: list[ParticipantRef]
    status: SourceStatus
    status_reason: str | None
    deid_status: DeidStatus
    withdrawal_hold: WithdrawalHold | None = Field(
        default=None,
        description="Set when a participant's erasure could not be separated from the others' "
        "words: the source awaits an admin's decision (delete or release); admins only see it",
    )
    files: list[FileRead]
    created_at: datetime
    updated_at: datetime


class SourceFilters(BaseModel):
    """Filters of ``GET /sources``; all optional, combined with AND."""

    model_config = ConfigDict(extra="forbid")

    site: str | None = None
    role: ParticipantRole | None = None
    participant: str | None = Field(default=None, description="A participant's code", max_length=32)
    source_type: SourceType | None = None
    level: Level | None = None
    date_from: EvidenceDate | None = None
    date_to: EvidenceDate | None = None
    status: SourceStatus | None = None


class SourceListQuery(SourceFilters):
    """The query of ``GET /sources``: filters and a page. Unknown parameters are refused, so a
    misspelt filter is an error rather than a silently unfiltered list."""

    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=64)


class ElementRead(BaseModel):
    type: str
    text: str
    start: int
    end: int
    page: int | None = None
    speaker: str | None = None
    start_time: float | None = None
    end_time: float | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class TextPart(BaseModel):
    file_id: uuid.UUID
    file_kind: FileKind
    media_type: str
    engine: str
    engine_version: str
    page_count: int | None
    pages_without_text: list[int]
    ocr_pages: list[int]
    language: str | None = None  # of a machine transcript, as detected ("und": no speech)
    low_confidence_segments: int = 0  # machine transcript segments flagged for a listen
    text: str
    elements: list[ElementRead]


class SourceText(BaseModel):
    source_id: uuid.UUID
    form: str
    parts: list[TextPart]


class SpeakerAssignment(BaseModel):
    """Segments ``first``..``last`` (0-based, inclusive, counted among the file's segments)."""

    model_config = ConfigDict(extra="forbid")

    file_id: uuid.UUID
    first: int = Field(ge=0)
    last: int = Field(ge=0)
    speaker: str | None = Field(default=None, min_length=1, max_length=120)
