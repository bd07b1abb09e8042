"""Sites: provider organisations and national bodies."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, String
from sqlmodel import Field, SQLModel

from service.db import UTCDateTime, new_id, utcnow


class SiteKind(StrEnum):
    provider = "provider"
    national_body = "national_body"
    other = "other"


class Site(SQLModel, table=True):
    __tablename__ = "site"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    code: str = Field(sa_column=Column(String(32), nullable=False, unique=True))
    name: str = Field(sa_column=Column(String(300), nullable=False))
    kind: str = Field(sa_column=Column(String(32), nullable=False))
    region: str | None = Field(default=None, sa_column=Column(String(120)))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
