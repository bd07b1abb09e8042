"""Background work, recorded in the database so that it survives a crash and can be re-driven."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Text, Uuid
from sqlmodel import Field, SQLModel

from service.db import UTCDateTime, new_id, utcnow


class JobKind(StrEnum):
    extract = "extract"
    transcribe = "transcribe"
    deidentify = "deidentify"
    redact_audio = "redact_audio"


class JobStatus(StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"


class Job(SQLModel, table=True):
    __tablename__ = "job"
    __table_args__ = (Index("ix_job_status_lease_expires_at", "status", "lease_expires_at"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    kind: str = Field(sa_column=Column(String(32), nullable=False))
    source_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(Uuid, ForeignKey("source.id", ondelete="CASCADE"), index=True),
    )
    file_id: uuid.UUID | None = Field(
        default=None, sa_column=Column(Uuid, ForeignKey("file.id", ondelete="CASCADE"), index=True)
    )
    status: str = Field(default=JobStatus.queued, sa_column=Column(String(16), nullable=False))
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    max_attempts: int = Field(default=3, sa_column=Column(Integer, nullable=False))
    error: str | None = Field(default=None, sa_column=Column(Text))
    # A running job belongs to its worker until the lease runs out; the worker renews it while
    # it works. A lease that runs out means the worker died, and the job is re-driven.
    lease_expires_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    claimed_by: str | None = Field(default=None, sa_column=Column(String(200)))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    started_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    finished_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
