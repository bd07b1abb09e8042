"""Appending to the audit log, reading it, and verifying its hash chain."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from service.audit.models import GENESIS_HASH, AuditEvent, AuditHead
from service.db import transaction, utcnow
from service.errors import Unprocessable


@dataclass(frozen=True)
class Actor:
    """Who an event is about: a user (by id and email at the time), or the system itself."""

    user_id: uuid.UUID | None
    label: str
    client_address: str | None = None


SYSTEM = Actor(user_id=None, label="system")


def event_hash(event: AuditEvent) -> str:
    """SHA-256 over the event's fields and the previous event's hash, in a fixed encoding."""
    fields = [
        event.seq,
        event.occurred_at.isoformat(timespec="microseconds"),
        str(event.actor_id) if event.actor_id else None,
        event.actor,
        event.action,
        event.target_type,
        event.target_id,
        event.outcome,
        event.client_address,
        event.detail,
        event.prev_hash,
    ]
    encoded = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


def append(
    *,
    session: Session,
    actor: Actor,
    action: str,
    target_type: str,
    target_id: object = None,
    outcome: str = "ok",
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append an event in the caller's transaction: it commits, or vanishes, with the change.

    ``detail`` must hold no identifying data about participants: ids, counts and checksums.
    """
    # Taking the next number is an UPDATE, so the head row stays locked until this transaction
    # ends and no two transactions can chain onto the same predecessor.
    seq, prev_hash = session.execute(
        update(AuditHead)
        .where(col(AuditHead.id) == 1)
        .values(seq=AuditHead.seq + 1)
        .returning(col(AuditHead.seq), col(AuditHead.last_hash))
    ).one()
    event = AuditEvent(
        seq=seq,
        occurred_at=utcnow(),
        actor_id=actor.user_id,
        actor=actor.label,
        action=action,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        outcome=outcome,
        client_address=actor.client_address,
        detail=detail or {},
        prev_hash=prev_hash,
        hash="",
    )
    event.hash = event_hash(event)
    session.add(event)
    session.execute(update(AuditHead).where(col(AuditHead.id) == 1).values(last_hash=event.hash))
    session.flush()
    return event


def append_alone(*, engine: Engine, actor: Actor, **event: Any) -> None:
    """Append in a transaction of its own: for refusals, whose request transaction rolls back."""
    with transaction(engine) as session:
        append(session=session, actor=actor, **event)


@dataclass(frozen=True)
class Verdict:
    checked: int
    broken_at: int | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def verify(*, engine: Engine, batch: int = 5000) -> Verdict:
    """Walk the chain from the first event; name the first event that does not fit."""
    prev_hash = GENESIS_HASH
    expected_seq = 1
    checked = 0
    with Session(engine) as session:
        while True:
            events = list(
                session.exec(
                    select(AuditEvent)
                    .where(col(AuditEvent.seq) >= expected_seq)
                    .order_by(col(AuditEvent.seq))
                    .limit(batch)
                )
            )
            for event in events:
                if event.seq != expected_seq:
                    return Verdict(checked, expected_seq, f"event {expected_seq} is missing")
                if event.prev_hash != prev_hash:
                    return Verdict(
                        checked, event.seq, "its previous-hash does not match the event before it"
                    )
                if event_hash(event) != event.hash:
                    return Verdict(checked, event.seq, "its contents do not match its hash")
                prev_hash = event.hash
                expected_seq += 1
                checked += 1
            if len(events) < batch:
                break
        head = session.get(AuditHead, 1)
        if head is not None and (head.seq != checked or head.last_hash != prev_hash):
            return Verdict(checked, checked + 1, "events after it were removed")
    return Verdict(checked)


@dataclass(frozen=True)
class AuditFilters:
    actor: str | None = None
    target: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _query(filters: AuditFilters) -> Any:
    query = select(AuditEvent)
    if filters.actor:
        try:
            query = query.where(col(AuditEvent.actor_id) == uuid.UUID(filters.actor))
        except ValueError:
            query = query.where(col(AuditEvent.actor) == filters.actor.strip().lower())
    if filters.target:
        query = query.where(col(AuditEvent.target_id) == filters.target)
    if filters.action:
        query = query.where(col(AuditEvent.action) == filters.action)
    if filters.since:
        query = query.where(col(AuditEvent.occurred_at) >= filters.since)
    if filters.until:
        query = query.where(col(AuditEvent.occurred_at) < filters.until)
    return query


def list_page(
    *, session: Session, filters: AuditFilters, limit: int, cursor: str | None
) -> tuple[list[AuditEvent], str | None]:
    """Newest first; the cursor is the sequence number of the last event of the page."""
    query = _query(filters)
    if cursor is not None:
        if not cursor.isdigit():
            raise Unprocessable("The cursor is not one this service issued.")
        query = query.where(col(AuditEvent.seq) < int(cursor))
    rows = list(session.exec(query.order_by(col(AuditEvent.seq).desc()).limit(limit + 1)))
    next_cursor = str(rows[limit - 1].seq) if len(rows) > limit else None
    return rows[:limit], next_cursor


CSV_COLUMNS = [
    "seq",
    "occurred_at",
    "actor",
    "actor_id",
    "action",
    "target_type",
    "target_id",
    "outcome",
    "client_address",
    "detail",
    "prev_hash",
    "hash",
]


def csv_rows(*, engine: Engine, filters: AuditFilters, batch: int = 2000) -> Iterator[str]:
    """The filtered log as CSV, oldest first, read in batches so memory stays flat."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    yield buffer.getvalue()
    after = 0
    while True:
        with Session(engine) as session:
            events = list(
                session.exec(
                    _query(filters)
                    .where(col(AuditEvent.seq) > after)
                    .order_by(col(AuditEvent.seq))
                    .limit(batch)
                )
            )
        for event in events:
            buffer.seek(0)
            buffer.truncate()
            writer.writerow(
                [
                    _cell(value)
                    for value in (
                        event.seq,
                        event.occurred_at.isoformat(),
                        event.actor,
                        event.actor_id,
                        event.action,
                        event.target_type,
                        event.target_id,
                        event.outcome,
                        event.client_address,
                        json.dumps(event.detail, sort_keys=True),
                        event.prev_hash,
                        event.hash,
                    )
                ]
            )
            yield buffer.getvalue()
            after = event.seq
        if len(events) < batch:
            return


def _cell(value: object) -> str:
    # A cell starting with = + - @ is a formula to a spreadsheet: the CSV is for an information
    # governance review, likely opened in one, so such cells are quoted as text.
    value = "" if value is None else str(value)
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value
