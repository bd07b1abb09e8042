"""The audit log: append-only events, each carrying the hash of the one before it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, Integer, SmallInteger, String, Uuid
from sqlmodel import Field, SQLModel

from service.db import UTCDateTime

GENESIS_HASH = "0" * 64

# How an event's hash was made: plain SHA-256 (events written before the log had a key), or
# HMAC-SHA256 with the audit key, which someone holding only the database cannot recompute.
MAC_NONE = 0
MAC_HMAC_SHA256 = 1


class AuditHead(SQLModel, table=True):
    """One row: the sequence number and hash of the newest event.

    Appending updates this row first, which locks it until the transaction ends, so events are
    chained one after another even when requests append at the same time.
    """

    __tablename__ = "audit_head"

    id: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    last_hash: str = Field(sa_column=Column(String(64), nullable=False))


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_actor_id_seq", "actor_id", "seq"),
        Index("ix_audit_event_target_id_seq", "target_id", "seq"),
        Index("ix_audit_event_action_seq", "action", "seq"),
        Index("ix_audit_event_occurred_at", "occurred_at"),
    )

    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    occurred_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    # No foreign key: the log outlives the users and sources it names.
    actor_id: uuid.UUID | None = Field(default=None, sa_column=Column(Uuid))
    actor: str = Field(sa_column=Column(String(320), nullable=False))
    action: str = Field(sa_column=Column(String(120), nullable=False))
    target_type: str = Field(sa_column=Column(String(32), nullable=False))
    target_id: str | None = Field(default=None, sa_column=Column(String(64)))
    outcome: str = Field(sa_column=Column(String(16), nullable=False))
    client_address: str | None = Field(default=None, sa_column=Column(String(64)))
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    prev_hash: str = Field(sa_column=Column(String(64), nullable=False))
    hash: str = Field(sa_column=Column(String(64), nullable=False))
    mac: int = Field(
        default=MAC_HMAC_SHA256,
        sa_column=Column(SmallInteger, nullable=False, server_default=str(MAC_NONE)),
    )
