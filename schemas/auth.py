from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from service.auth.models import Role


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    role: Role
    sites: list[str] = Field(default_factory=list, description="Codes of the user's sites")


class UserSites(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sites: list[str] = Field(description="Codes of the sites; replaces the current set")


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    role: Role
    sites: list[str] = Field(default_factory=list)
    created_at: datetime
    disabled_at: datetime | None


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="api", min_length=1, max_length=120)
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class TokenRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    user_id: uuid.UUID
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


class TokenCreated(TokenRead):
    """A new token. ``token`` is shown this once and cannot be recovered later."""

    token: str


class UserCreated(UserRead):
    token: TokenCreated
