from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class AuditEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int
    occurred_at: datetime
    actor: str
    actor_id: uuid.UUID | None
    action: str
    target_type: str
    target_id: str | None
    outcome: str
    client_address: str | None
    detail: dict[str, Any]
    prev_hash: str
    hash: str


class AuditQuery(BaseModel):
    """Filters of ``GET /audit`` and ``GET /audit.csv``; unknown parameters are refused."""

    model_config = ConfigDict(extra="forbid")

    actor: str | None = Field(default=None, description="A user id or email", max_length=320)
    target: str | None = Field(
        default=None, description="The id of what was acted on", max_length=64
    )
    action: str | None = Field(default=None, max_length=120)
    since: datetime | None = None
    until: datetime | None = None
    limit: int = Field(default=100, ge=1, le=1000)
    cursor: str | None = Field(default=None, max_length=20)


class Anchor(BaseModel):
    """The head of the audit chain at one moment, to be kept outside the database.

    ``qualarchive audit verify --anchor FILE`` then notices a log cut short below ``seq``, or
    an event at ``seq`` that is no longer the one anchored.
    """

    seq: int = Field(ge=1)
    hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    anchored_at: datetime
