"""The wired-up components a process works with: settings, database, object store, dispatch."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine

from service.audit.service import RefusalBudget
from service.config import Dispatch, Settings
from service.db import make_engine
from service.participants.identity import IdentityCipher
from service.storage.service import ObjectStore

if TYPE_CHECKING:
    from service.jobs.dispatch import Dispatcher


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    store: ObjectStore
    cipher: IdentityCipher
    # The audit log's key (kept here, never in the database) and this process's budget for
    # recording refusals of requests that carry no valid token.
    audit_key: bytes
    refusal_budget: RefusalBudget
    dispatcher: Dispatcher = field(init=False)

    def close(self) -> None:
        if hasattr(self, "dispatcher"):
            self.dispatcher.stop()
        self.engine.dispose()


def make_store(
    settings: Settings, *, endpoint: str, access_key: str, secret_key: str
) -> ObjectStore:
    return ObjectStore(
        endpoint=endpoint,
        access_key=access_key,
        secret_key=secret_key,
        secure=settings.s3_secure,
        region=settings.s3_region,
        originals_bucket=settings.originals_bucket,
        derived_bucket=settings.derived_bucket,
        part_bytes=settings.upload_part_bytes,
    )


def build(
    settings: Settings, *, store: ObjectStore | None = None, dispatch: Dispatch | None = None
) -> Runtime:
    """Connect to the database and object store and choose how jobs are dispatched.

    ``store`` is given when the caller started the embedded object store itself.
    """
    from service.jobs.dispatch import make_dispatcher

    if store is None:
        store = make_store(
            settings,
            endpoint=settings.s3_endpoint,
            access_key=settings.s3_access_key.get_secret_value(),
            secret_key=settings.s3_secret_key.get_secret_value(),
        )
    runtime = Runtime(
        settings=settings,
        engine=make_engine(settings.effective_database_url),
        store=store,
        cipher=IdentityCipher(settings.identity_key_list()),
        audit_key=settings.audit_key_bytes(),
        refusal_budget=RefusalBudget(per_minute=settings.audit_unauthenticated_per_minute),
    )
    runtime.dispatcher = make_dispatcher(runtime, dispatch or settings.dispatch)
    return runtime
