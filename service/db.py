"""Database engine, sessions, identifiers and the after-commit hand-over of background work."""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, event
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session, SQLModel, create_engine

log = logging.getLogger(__name__)

# Explicit constraint names, so that migrations can refer to them on every backend.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> uuid.UUID:
    """A UUIDv7: 48 bits of Unix milliseconds, then random bits.

    Time-ordered ids keep B-tree inserts at the right edge of the index and let lists page by
    id alone (newest first) without an OFFSET.
    """
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76  # version
    value |= ((rand >> 62) & 0xFFF) << 64  # rand_a, 12 bits
    value |= 0b10 << 62  # variant
    value |= rand & ((1 << 62) - 1)  # rand_b, 62 bits
    return uuid.UUID(int=value)


def make_engine(url: str) -> Engine:
    # hide_parameters: the values bound to a statement (participants' words among them) stay
    # out of the messages of database errors, and so out of logs and stored errors.
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, hide_parameters=True
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_engine(
        url, pool_pre_ping=True, pool_size=10, max_overflow=20, hide_parameters=True
    )


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """A session that commits when the block ends and rolls back if it raises."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def after_commit(session: OrmSession, callback: Callable[[], None]) -> None:
    """Run ``callback`` once the session's transaction has committed; drop it on rollback.

    This is how background jobs are handed over: a worker never sees a job whose row is not
    yet visible, and a rolled-back request leaves no job behind.
    """
    session.info.setdefault("after_commit", []).append(callback)


def on_rollback(session: OrmSession, callback: Callable[[], None]) -> None:
    """Run ``callback`` if the session's transaction rolls back (a failed commit included).

    Used to undo what lives outside the database, e.g. objects stored for rows that never
    committed.
    """
    session.info.setdefault("on_rollback", []).append(callback)


@event.listens_for(OrmSession, "after_commit")
def _run_after_commit(session: OrmSession) -> None:
    session.info.pop("on_rollback", None)
    for callback in session.info.pop("after_commit", []):
        # The transaction is committed whatever happens here; a hand-over that fails is not
        # an error of the request (the job sweeper re-drives work that never started).
        try:
            callback()
        except Exception:  # noqa: BLE001
            log.warning("an after-commit hand-over failed", exc_info=True)


@event.listens_for(OrmSession, "after_rollback")
def _run_on_rollback(session: OrmSession) -> None:
    session.info.pop("after_commit", None)
    for callback in session.info.pop("on_rollback", []):
        try:
            callback()
        except Exception:  # noqa: BLE001
            log.warning("an on-rollback clean-up failed", exc_info=True)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend.

    SQLite has no time zones: values go in as naive UTC and come back with UTC attached, so
    comparisons in SQL (a job's lease, a token's expiry) mean the same on SQLite and PostgreSQL.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where a UTC time is expected")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def alembic_config(url: str) -> Any:
    """The Alembic configuration for ``url``, built in code so an installed package finds it."""
    from pathlib import Path

    from alembic.config import Config

    import migrations

    here = Path(migrations.__file__).parent
    config = Config(str(here / "alembic.ini"))
    config.set_main_option("script_location", str(here))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision`` (creating the SQLite file's folder)."""
    from alembic import command

    if url.startswith("sqlite:///"):
        from pathlib import Path

        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url), revision)


def at_head(url: str) -> bool:
    """Whether the database at ``url`` has every migration applied."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    heads = set(ScriptDirectory.from_config(alembic_config(url)).get_heads())
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
    finally:
        engine.dispose()
    return current == heads
