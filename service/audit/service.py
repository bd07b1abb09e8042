"""Appending to the audit log, reading it, and verifying its hash chain."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import os
import secrets
import threading
import time
import unicodedata
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import String, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from schemas.audit import Anchor
from service.audit.models import (
    GENESIS_HASH,
    MAC_HMAC_SHA256,
    MAC_NONE,
    AuditEvent,
    AuditHead,
)
from service.db import transaction, utcnow
from service.errors import Unprocessable

KEY_FILE = "audit.key"
# Each string inside an event's detail (a refusal's reason, a filter) is cut to this length.
DETAIL_TEXT_LIMIT = 1000
CUT_MARK = "…"
# Control, format (bidirectional overrides, zero-width) and surrogate characters: PostgreSQL
# refuses NUL, and the others can make a log line read differently from what it holds.
_UNPRINTABLE = frozenset({"Cc", "Cf", "Cs"})


@dataclass(frozen=True)
class Actor:
    """Who an event is about: a user (by id and email at the time), or the system itself."""

    user_id: uuid.UUID | None
    label: str
    client_address: str | None = None


SYSTEM = Actor(user_id=None, label="system")


class Recorder(Protocol):
    """Something that writes an event for the request at hand (``service.deps.Audit``)."""

    def record(
        self,
        action: str,
        target_type: str,
        target_id: object = None,
        detail: dict[str, Any] | None = None,
    ) -> object: ...


def load_or_create_key_file(data_dir: Path) -> str:
    """The embedded default: an audit key generated once into the data directory (mode 0600).

    Production deployments set QUALARCHIVE_AUDIT_KEY and keep it apart from the database and
    its backups: whoever holds both can rewrite the log.
    """
    path = data_dir / KEY_FILE
    if path.exists():
        return path.read_text(encoding="ascii").strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
    return key


def event_hash(event: AuditEvent, *, key: bytes | None) -> str:
    """The event's fields and the previous event's hash, in a fixed encoding: HMAC-SHA256 with
    the audit key, or (``key=None``, events written before the log had a key) plain SHA-256."""
    fields: list[Any] = [
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
    if key is None:
        return hashlib.sha256(_encoded(fields)).hexdigest()
    return hmac.new(key, _encoded([*fields, event.mac]), hashlib.sha256).hexdigest()


def _encoded(fields: list[Any]) -> bytes:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _column_length(name: str) -> int:
    column_type = AuditEvent.__table__.c[name].type  # type: ignore[attr-defined]
    assert isinstance(column_type, String) and column_type.length
    return int(column_type.length)


# Bounds come from the columns themselves, so a field can never outgrow its column.
_LIMITS = {
    name: _column_length(name)
    for name in ("actor", "action", "target_type", "target_id", "outcome", "client_address")
}


def _clean(value: str, limit: int) -> str:
    """``value`` without unprintable characters, cut to ``limit`` with a mark where cut."""
    kept = "".join(c for c in value if unicodedata.category(c) not in _UNPRINTABLE)
    return kept if len(kept) <= limit else kept[: limit - len(CUT_MARK)] + CUT_MARK


def _clean_detail(value: Any) -> Any:
    if isinstance(value, str):
        return _clean(value, DETAIL_TEXT_LIMIT)
    if isinstance(value, dict):
        return {_clean(str(k), DETAIL_TEXT_LIMIT): _clean_detail(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean_detail(v) for v in value]
    return value


def append(
    *,
    session: Session,
    key: bytes,
    actor: Actor,
    action: str,
    target_type: str,
    target_id: object = None,
    outcome: str = "ok",
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append an event in the caller's transaction: it commits, or vanishes, with the change.

    ``detail`` must hold no identifying data about participants: ids, counts and checksums.
    Every text is cleaned of control characters and cut to its column here, whoever the caller:
    a refusal whose path holds a NUL or a 300-character id must still be written, not lost.
    """
    # Taking the next number is an UPDATE, so the head row stays locked until this transaction
    # ends and no two transactions can chain onto the same predecessor.
    seq, prev_hash = session.execute(
        update(AuditHead)
        .where(col(AuditHead.id) == 1)
        .values(seq=AuditHead.seq + 1)
        .returning(col(AuditHead.seq), col(AuditHead.last_hash))
    ).one()
    address = actor.client_address
    event = AuditEvent(
        seq=seq,
        occurred_at=utcnow(),
        actor_id=actor.user_id,
        actor=_clean(actor.label, _LIMITS["actor"]),
        action=_clean(action, _LIMITS["action"]),
        target_type=_clean(target_type, _LIMITS["target_type"]),
        target_id=None if target_id is None else _clean(str(target_id), _LIMITS["target_id"]),
        outcome=_clean(outcome, _LIMITS["outcome"]),
        client_address=None if address is None else _clean(address, _LIMITS["client_address"]),
        detail=_clean_detail(detail or {}),
        prev_hash=prev_hash,
        hash="",
        mac=MAC_HMAC_SHA256,
    )
    event.hash = event_hash(event, key=key)
    session.add(event)
    session.execute(update(AuditHead).where(col(AuditHead.id) == 1).values(last_hash=event.hash))
    session.flush()
    return event


def append_alone(*, engine: Engine, key: bytes, actor: Actor, **event: Any) -> None:
    """Append in a transaction of its own: for refusals, whose request transaction rolls back."""
    with transaction(engine) as session:
        append(session=session, key=key, actor=actor, **event)


def anchor_of(event: AuditEvent) -> Anchor:
    return Anchor(seq=event.seq, hash=event.hash, anchored_at=event.occurred_at)


def anchor_now(*, engine: Engine, key: bytes, actor: Actor = SYSTEM) -> Anchor:
    """Record that the head is being anchored, and return that event as the anchor.

    Anchoring writes an event so that the anchor is always a keyed event (on a log written
    before the key, the first anchor seals what came before) and the log says when anchors
    were taken.
    """
    with transaction(engine) as session:
        event = append(
            session=session, key=key, actor=actor, action="audit.anchor", target_type="audit"
        )
        return anchor_of(event)


class RefusalBudget:
    """How many refusals of requests without a valid token are written per minute.

    Anyone can send those, so each one written would let a flood grow the log without bound;
    beyond the budget they are counted, and the count rides on the next event written.
    """

    def __init__(self, *, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._per_minute = per_minute
        self._clock = clock
        self._lock = threading.Lock()
        self._window_start: float | None = None
        self._used = 0
        self._held = 0

    def take(self) -> int | None:
        """``None``: hold this refusal back (it is counted). A number: write it, noting that
        many held back before it."""
        with self._lock:
            now = self._clock()
            if self._window_start is None or now - self._window_start >= 60.0:
                self._window_start, self._used = now, 0
            if self._used >= self._per_minute:
                self._held += 1
                return None
            self._used += 1
            held, self._held = self._held, 0
            return held


@dataclass(frozen=True)
class Verdict:
    checked: int
    broken_at: int | None = None
    reason: str | None = None
    # Events hashed before the log had a key: they are sealed by the first keyed event after
    # them, but only an anchor taken since then shows they were not all rewritten at once.
    unkeyed: int = 0

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def verify(
    *, engine: Engine, key: bytes, anchors: Sequence[Anchor] = (), batch: int = 5000
) -> Verdict:
    """Walk the chain from the first event; name the first event that does not fit.

    Events written before the log had a key (``mac`` 0) are checked with plain SHA-256; they
    may only come first, and the newest event must be keyed, so that rewriting events as if
    they came from before the key is noticed too. ``anchors`` (heads recorded outside the
    database) must each still be in the chain, with the same hash: that notices a log cut
    short and its head rewound, which the chain alone cannot.
    """
    pinned: dict[int, list[Anchor]] = {}
    for anchor in anchors:
        pinned.setdefault(anchor.seq, []).append(anchor)
    prev_hash = GENESIS_HASH
    expected_seq = 1
    checked = 0
    keyed = False
    unkeyed = 0
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
                if event.mac == MAC_NONE:
                    if keyed:
                        return Verdict(
                            checked,
                            event.seq,
                            "it carries no key, yet an event before it does: it was rewritten "
                            "without the key",
                        )
                    digest = event_hash(event, key=None)
                    unkeyed += 1
                elif event.mac == MAC_HMAC_SHA256:
                    keyed = True
                    digest = event_hash(event, key=key)
                else:
                    return Verdict(checked, event.seq, f"its mac {event.mac} is not one in use")
                if not hmac.compare_digest(digest, event.hash):
                    return Verdict(checked, event.seq, "its contents do not match its hash")
                for anchor in pinned.get(event.seq, ()):
                    if anchor.hash != event.hash:
                        return Verdict(
                            checked,
                            event.seq,
                            f"it is not the event anchored at {anchor.anchored_at.isoformat()}: "
                            "the log was rewritten",
                        )
                prev_hash = event.hash
                expected_seq += 1
                checked += 1
            if len(events) < batch:
                break
        head = session.get(AuditHead, 1)
        if head is not None and (head.seq != checked or head.last_hash != prev_hash):
            return Verdict(checked, checked + 1, "events after it were removed")
    beyond = [a for a in anchors if a.seq > checked]
    if beyond:
        last = max(beyond, key=lambda a: a.seq)
        return Verdict(
            checked,
            checked + 1,
            f"the log ends at event {checked}, but the anchor taken at "
            f"{last.anchored_at.isoformat()} names event {last.seq}: it was truncated",
        )
    if checked and not keyed:
        return Verdict(
            checked,
            checked,
            "the newest event carries no key, though every event is now written with one: the "
            "log was rewritten without the key (on a database just upgraded to a keyed log, "
            "`qualarchive audit anchor` writes the first keyed event; verify again after it)",
        )
    return Verdict(checked, unkeyed=unkeyed)


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
