"""Text derived from an original: the cleaned text in the database, elements in the object store."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, Column, ForeignKey, Integer, String, Text, Uuid
from sqlmodel import Field, SQLModel

from service.db import UTCDateTime, new_id, utcnow


class ExtractedText(SQLModel, table=True):
    __tablename__ = "text"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    source_id: uuid.UUID = Field(
        sa_column=Column(
            Uuid, ForeignKey("source.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    # One current text per original; re-extraction replaces it.
    file_id: uuid.UUID = Field(
        sa_column=Column(
            Uuid, ForeignKey("file.id", ondelete="CASCADE"), nullable=False, unique=True
        )
    )
    engine: str = Field(sa_column=Column(String(200), nullable=False))
    engine_version: str = Field(sa_column=Column(String(500), nullable=False))
    content: str = Field(sa_column=Column(Text, nullable=False))
    char_count: int = Field(sa_column=Column(Integer, nullable=False))
    element_count: int = Field(sa_column=Column(Integer, nullable=False))
    page_count: int | None = Field(default=None, sa_column=Column(Integer))
    ocr_pages: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # The language speech recognition detected in a recording (ISO 639-1; "und": no speech).
    language: str | None = Field(default=None, sa_column=Column(String(8)))
    # A fresh key for every change: a writer that loses the race (see ``version``) removes its
    # own object and can never overwrite the winner's.
    elements_key: str = Field(sa_column=Column(String(200), nullable=False))
    # Bumped by every change to the content or the elements (a speaker named, a participant's
    # segments cut, a re-extraction). Writers compare and set it, so two of them never both win.
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False, server_default="1"))
    # The version whose content detection last covered; None until it has run.
    detected_version: int | None = Field(default=None, sa_column=Column(Integer))
    # When the content or elements last changed: an approval older than this covers nothing.
    changed_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
