"""Participants (pseudonymous), their consent history, and their links to sources."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    PrimaryKeyConstraint,
    String,
    Text,
    Uuid,
)
from sqlmodel import Field, SQLModel

from service.db import UTCDateTime, new_id, utcnow


class Participant(SQLModel, table=True):
    __tablename__ = "participant"
    __table_args__ = (Index("ix_participant_site_id_id", "site_id", "id"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    # The pseudonymous code researchers use (P-017); unique across the project.
    code: str = Field(sa_column=Column(String(32), nullable=False, unique=True))
    site_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("site.id", ondelete="RESTRICT"), nullable=False)
    )
    role: str = Field(sa_column=Column(String(32), nullable=False))
    role_detail: str | None = Field(default=None, sa_column=Column(String(200)))
    # Name, aliases and contact, encrypted with a key from settings (never stored here).
    identity_ciphertext: str | None = Field(default=None, sa_column=Column(Text))
    withdrawn_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    withdrawal_mode: str | None = Field(default=None, sa_column=Column(String(32)))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )


class Consent(SQLModel, table=True):
    """One consent given (or re-given) by a participant. Rows are never changed: the newest
    row is the participant's consent now, the older ones its history."""

    __tablename__ = "consent"
    __table_args__ = (Index("ix_consent_participant_id_id", "participant_id", "id"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    participant_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("participant.id", ondelete="CASCADE"), nullable=False)
    )
    archive: bool = Field(sa_column=Column(Boolean, nullable=False))
    transcribe: bool = Field(sa_column=Column(Boolean, nullable=False))
    share_team: bool = Field(sa_column=Column(Boolean, nullable=False))
    quote: bool = Field(sa_column=Column(Boolean, nullable=False))
    deposit: bool = Field(sa_column=Column(Boolean, nullable=False))
    given_on: date = Field(sa_column=Column(Date, nullable=False))
    # The signed form, an original in the object store (identifiable tier).
    form_key: str | None = Field(default=None, sa_column=Column(String(200)))
    form_sha256: str | None = Field(default=None, sa_column=Column(String(64)))
    form_size: int | None = Field(default=None, sa_column=Column(BigInteger))
    form_media_type: str | None = Field(default=None, sa_column=Column(String(128)))
    recorded_by: uuid.UUID | None = Field(
        default=None, sa_column=Column(Uuid, ForeignKey("user_account.id", ondelete="SET NULL"))
    )
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )


class SourceParticipant(SQLModel, table=True):
    """A participant present in a source, with the speaker label their turns carry."""

    __tablename__ = "source_participant"
    __table_args__ = (
        PrimaryKeyConstraint("source_id", "participant_id"),
        Index("ix_source_participant_participant_id_source_id", "participant_id", "source_id"),
    )

    source_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("source.id", ondelete="CASCADE"), nullable=False)
    )
    participant_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("participant.id", ondelete="CASCADE"), nullable=False)
    )
    speaker_label: str | None = Field(default=None, sa_column=Column(String(120)))


class WithdrawalRequest(SQLModel, table=True):
    """A researcher's record that a participant asked to withdraw; an admin carries it out,
    which closes it. The note may say who called and why, so it is stored encrypted and
    cleared when the request is closed."""

    __tablename__ = "withdrawal_request"
    __table_args__ = (Index("ix_withdrawal_request_participant_id_id", "participant_id", "id"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    participant_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("participant.id", ondelete="CASCADE"), nullable=False)
    )
    mode: str = Field(sa_column=Column(String(32), nullable=False))
    note_ciphertext: str | None = Field(default=None, sa_column=Column(Text))
    requested_by: uuid.UUID | None = Field(
        default=None, sa_column=Column(Uuid, ForeignKey("user_account.id", ondelete="SET NULL"))
    )
    requested_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    closed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    closed_by: uuid.UUID | None = Field(
        default=None, sa_column=Column(Uuid, ForeignKey("user_account.id", ondelete="SET NULL"))
    )
