"""Users and their API tokens."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, ForeignKey, PrimaryKeyConstraint, String, Uuid
from sqlmodel import Field, SQLModel

from service.db import UTCDateTime, new_id, utcnow


class Role(StrEnum):
    admin = "admin"
    researcher = "researcher"
    analyst = "analyst"


class User(SQLModel, table=True):
    __tablename__ = "user_account"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    email: str = Field(sa_column=Column(String(320), nullable=False, unique=True))
    role: str = Field(sa_column=Column(String(16), nullable=False))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    disabled_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))


class Token(SQLModel, table=True):
    """An API token. Only a SHA-256 digest of the secret is stored; the secret is shown once."""

    __tablename__ = "token"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    user_id: uuid.UUID = Field(
        sa_column=Column(
            Uuid, ForeignKey("user_account.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    name: str = Field(sa_column=Column(String(120), nullable=False))
    # The first characters of the token, enough for a person to tell tokens apart in a list.
    prefix: str = Field(sa_column=Column(String(16), nullable=False))
    token_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    expires_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    last_used_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))


class UserSite(SQLModel, table=True):
    """A site whose identifiable material a researcher may see."""

    __tablename__ = "user_site"
    __table_args__ = (PrimaryKeyConstraint("user_id", "site_id"),)

    user_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("user_account.id", ondelete="CASCADE"), nullable=False)
    )
    site_id: uuid.UUID = Field(
        sa_column=Column(
            Uuid, ForeignKey("site.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
