from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

EntityType = Literal[
    "PERSON",
    "ORGANISATION",
    "HOSPITAL",
    "SYSTEM",
    "LOCATION",
    "DATE",
    "EMAIL",
    "PHONE",
    "NHS_NUMBER",
    "POSTCODE",
    "WARD",
]


def _bracketed(value: str | None) -> str | None:
    if value is None:
        return None
    value = " ".join(value.split())
    if len(value) < 3 or not (value.startswith("[") and value.endswith("]")):
        raise ValueError("a replacement is marked in square brackets, e.g. [Trust C]")
    return value


class RedactionReason(BaseModel):
    """Why the detector suggested a span; never the span's own words."""

    recogniser: str = Field(description="The recogniser that found it, e.g. titled_person")
    why: str = Field(description="One plain sentence, e.g. 'a capitalised word after the title Dr'")
    context: str | None = Field(
        default=None, description="The cue words that decided it, if any, e.g. 'call me on'"
    )
    list: str | None = Field(
        default=None,
        description="The word list or gazetteer that matched, if any, e.g. 'given names'",
    )

    def plain(self) -> str:
        """One line of plain text, for the anonymisation log's CSV: the sentence, the cue
        words and the list if any, the recogniser."""
        parts = [self.why]
        if self.context:
            parts.append(f"cue: {self.context}")
        if self.list:
            parts.append(f"list: {self.list}")
        parts.append(f"recogniser: {self.recogniser}")
        return "; ".join(parts)


class RedactionRead(BaseModel):
    id: uuid.UUID
    file_id: uuid.UUID
    start: int
    end: int
    entity_type: str
    original: str | None = Field(
        description="The words replaced (identifiable tier); null where a participant's "
        "withdrawal closed that tier for the source"
    )
    replacement: str = Field(
        description="What the de-identified text shows; a pseudonym not yet settled by an "
        "approval shows its kind only ([Person])"
    )
    score: float | None
    origin: str
    reason: RedactionReason | None = Field(
        description="Why the detector suggested it; null for a span a person added and for "
        "suggestions made before reasons were recorded"
    )
    status: str
    decided_by: uuid.UUID | None
    decided_at: datetime | None


class RedactionList(BaseModel):
    source_id: uuid.UUID
    deid_status: str
    items: list[RedactionRead]


class RedactionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    file_id: uuid.UUID
    start: int = Field(ge=0)
    end: int = Field(ge=1)
    entity_type: EntityType
    replacement: str | None = Field(default=None, max_length=120)

    @field_validator("replacement")
    @classmethod
    def _marked(cls, value: str | None) -> str | None:
        return _bracketed(value)


class RedactionUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["accepted", "rejected"] | None = None
    replacement: str | None = Field(default=None, max_length=120)

    @field_validator("replacement")
    @classmethod
    def _marked(cls, value: str | None) -> str | None:
        return _bracketed(value)


class PseudonymRead(BaseModel):
    id: uuid.UUID
    entity_type: str
    term: str
    replacement: str
    participant_id: uuid.UUID | None
    updated_at: datetime


class PseudonymUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    replacement: str = Field(max_length=120)

    @field_validator("replacement")
    @classmethod
    def _marked(cls, value: str | None) -> str | None:
        return _bracketed(value)


class TermCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=2, max_length=200)
    entity_type: Literal["ORGANISATION", "HOSPITAL", "SYSTEM", "LOCATION", "PERSON", "WARD"]


class TermRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    text: str
    entity_type: str
    created_at: datetime


class AllowTermCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(
        min_length=2,
        max_length=200,
        description=(
            "A word or phrase never to redact, e.g. EPR or go-live. Compared case-insensitively "
            "with whitespace normalised; written in capitals it is an acronym, which matches in "
            "any case but not capitalised as a word (EPMA matches ePMA and epma; ED does not "
            "match the name Ed)."
        ),
    )


class AllowTermRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    text: str
    created_by: uuid.UUID | None = Field(description="None for the archive's defaults")
    created_at: datetime
