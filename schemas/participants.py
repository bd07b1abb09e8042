from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from schemas.sources import SiteRef
from service.sources.models import ParticipantRole

CODE_PATTERN = r"^[A-Z]{1,4}-[0-9]{2,6}$"


class Identity(BaseModel):
    """Identifying details: identifiable tier, stored encrypted."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    aliases: list[str] = Field(default_factory=list, max_length=20)
    contact: str | None = Field(default=None, max_length=500)

    @field_validator("aliases")
    @classmethod
    def _aliases_clean(cls, value: list[str]) -> list[str]:
        cleaned = [" ".join(a.split()) for a in value]
        if any(not a or len(a) > 200 for a in cleaned):
            raise ValueError("each alias must be 1 to 200 characters")
        return cleaned


class ParticipantCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(description="Pseudonymous code, e.g. P-017", pattern=CODE_PATTERN)
    site: str = Field(description="The site's code", max_length=32)
    role: ParticipantRole
    role_detail: str | None = Field(default=None, max_length=200)
    identity: Identity | None = None


class ParticipantUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    site: str | None = Field(default=None, max_length=32)
    role: ParticipantRole | None = None
    role_detail: str | None = Field(default=None, max_length=200)
    identity: Identity | None = None


class Scopes(BaseModel):
    archive: bool
    transcribe: bool
    share_team: bool
    quote: bool
    deposit: bool


class ConsentForm(BaseModel):
    sha256: str
    size_bytes: int
    media_type: str


class ConsentRead(BaseModel):
    id: uuid.UUID
    scopes: Scopes
    given_on: date | None = Field(
        description="Null for those outside the participant's site's identifiable tier"
    )
    form: ConsentForm | None
    created_at: datetime | None = Field(
        description="Null for those outside the participant's site's identifiable tier"
    )


WithdrawalMode = Literal["erase", "retain_deidentified"]


class WithdrawalRequestRef(BaseModel):
    id: uuid.UUID
    mode: WithdrawalMode
    requested_at: datetime


class ParticipantRead(BaseModel):
    id: uuid.UUID
    code: str
    site: SiteRef
    role: ParticipantRole
    role_detail: str | None = Field(
        description="Null for those outside the participant's site's identifiable tier"
    )
    consent: ConsentRead | None = Field(description="The consent in force: the newest given")
    withdrawn_at: datetime | None
    withdrawal_mode: str | None
    withdrawal_request: WithdrawalRequestRef | None = Field(
        default=None, description="The open request to withdraw, for an admin to carry out"
    )
    identity: Identity | None = Field(
        default=None, description="Only with ?identity=true, for those entitled; audited"
    )
    created_at: datetime
    updated_at: datetime


class ParticipantListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    site: str | None = Field(default=None, max_length=32)
    role: ParticipantRole | None = None
    limit: int = Field(default=100, ge=1, le=500)
    cursor: str | None = Field(default=None, max_length=64)


class SourceParticipantLink(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=CODE_PATTERN)
    speaker_label: str | None = Field(default=None, min_length=1, max_length=120)


class SourceParticipants(BaseModel):
    model_config = ConfigDict(extra="forbid")

    participants: list[SourceParticipantLink] = Field(max_length=100)


class Withdrawal(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: str = Field(pattern="^(erase|retain_deidentified)$")


class WithdrawalRequestCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: WithdrawalMode = Field(description="What the participant asked for")
    note: str | None = Field(
        default=None,
        max_length=2000,
        description="Context for the admin; stored encrypted, never logged, cleared when the "
        "withdrawal is carried out",
    )


class WithdrawalRequestRead(BaseModel):
    id: uuid.UUID
    participant_id: uuid.UUID
    participant_code: str
    mode: WithdrawalMode
    note: str | None = Field(default=None, description="Shown to admins only")
    requested_by: uuid.UUID | None
    requested_at: datetime
    closed_at: datetime | None
    closed_by: uuid.UUID | None


class WithdrawalRequestListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: Literal["open", "closed", "all"] = "open"
    limit: int = Field(default=100, ge=1, le=500)
    cursor: uuid.UUID | None = None


class HoldDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["delete", "release"] = Field(
        description="delete: the source goes whole, as DELETE /sources/{id}; release: it is "
        "kept as it is and shown again"
    )
