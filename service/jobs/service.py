"""Job rows: creating, claiming with a lease, finishing, and re-driving work a crash left behind."""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import ColumnElement, and_, or_, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from service.access.service import ensure_source_visible
from service.auth.models import Role
from service.auth.service import Principal
from service.db import after_commit, transaction, utcnow
from service.errors import Concealed, NotFound
from service.jobs.models import Job, JobKind, JobStatus
from service.sources.models import Source

log = logging.getLogger(__name__)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


class LeaseLost(Exception):
    """The job is no longer ours (its lease ran out and it was re-driven, or it was deleted)."""


class Superseded(Exception):
    """The job's source or file was deleted, withdrawn, cut or changed after the job began:
    its result must not be written, and it leaves nothing behind."""


def enqueue(
    *,
    session: Session,
    kind: JobKind,
    submit: Callable[[uuid.UUID], None],
    max_attempts: int,
    source_id: uuid.UUID | None = None,
    file_id: uuid.UUID | None = None,
) -> Job:
    """Record a job; it is handed to ``submit`` only once this transaction commits."""
    job = Job(kind=kind, source_id=source_id, file_id=file_id, max_attempts=max_attempts)
    session.add(job)
    job_id = job.id
    after_commit(session, lambda: submit(job_id))
    return job


def get_or_raise(*, session: Session, job_id: uuid.UUID) -> Job:
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound("No job with that id.")
    return job


def get_visible_or_raise(*, session: Session, principal: Principal, job_id: uuid.UUID) -> Job:
    """A job, for whoever may see its source (a job of no source: admins only). A job the
    principal may not see is answered like an unknown one, so its existence is not confirmed."""
    job = get_or_raise(session=session, job_id=job_id)
    source = session.get(Source, job.source_id) if job.source_id is not None else None
    if source is None:
        if principal.role is not Role.admin:
            raise Concealed(
                "No job with that id.", reason="Only admins see jobs that belong to no source."
            )
        return job
    try:
        ensure_source_visible(session, principal, source)
    except Concealed as hidden:
        raise Concealed("No job with that id.", reason=hidden.reason) from None
    return job


def latest_for_files(*, session: Session, file_ids: list[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
    """The newest job id for each file (ids are time-ordered)."""
    if not file_ids:
        return {}
    rows = session.exec(
        select(Job.file_id, Job.id).where(Job.file_id.in_(file_ids)).order_by(Job.id)  # type: ignore[union-attr,arg-type]
    )
    return {file_id: job_id for file_id, job_id in rows if file_id is not None}


@dataclass
class Claim:
    """A job this worker holds. Its writes must go through ``succeed``/``fail`` in the same
    transaction as the results, so results and job status commit together or not at all."""

    job: Job
    worker: str

    def held(self) -> ColumnElement[bool]:
        """The condition that the job is still running under this claim."""
        return and_(
            col(Job.id) == self.job.id,
            col(Job.status) == JobStatus.running,
            col(Job.claimed_by) == self.worker,
        )

    def _finish(self, session: Session, status: JobStatus, error: str | None) -> None:
        now = utcnow()
        result = session.execute(
            update(Job)
            .where(self.held())
            .values(
                status=status, error=error, finished_at=now, updated_at=now, lease_expires_at=None
            )
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise LeaseLost(str(self.job.id))

    def succeed(self, session: Session) -> None:
        self._finish(session, JobStatus.succeeded, None)

    def fail(self, session: Session, reason: str) -> None:
        self._finish(session, JobStatus.failed, reason)


def claim(*, engine: Engine, job_id: uuid.UUID, worker: str, lease: timedelta) -> Claim | None:
    """Take the job if it is queued (or its lease ran out); None if someone else has it."""
    now = utcnow()
    with transaction(engine) as session:
        result = session.execute(
            update(Job)
            .where(
                and_(
                    Job.id == job_id,  # type: ignore[arg-type]
                    or_(
                        Job.status == JobStatus.queued,  # type: ignore[arg-type]
                        and_(Job.status == JobStatus.running, Job.lease_expires_at < now),  # type: ignore[arg-type,operator]
                    ),
                    Job.attempts < Job.max_attempts,  # type: ignore[arg-type]
                )
            )
            .values(
                status=JobStatus.running,
                attempts=Job.attempts + 1,
                claimed_by=worker,
                lease_expires_at=now + lease,
                started_at=now,
                updated_at=now,
            )
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return None
        job = session.get(Job, job_id)
        assert job is not None
        session.expunge(job)
        return Claim(job=job, worker=worker)


@contextmanager
def holding_lease(*, engine: Engine, claim: Claim, lease: timedelta) -> Iterator[threading.Event]:
    """Renew the lease in the background while the block runs.

    Yields an event that is set if the lease was lost, so long work can stop early.
    """
    stop = threading.Event()
    lost = threading.Event()

    def renew() -> None:
        while not stop.wait(lease.total_seconds() / 3):
            try:
                with transaction(engine) as session:
                    result = session.execute(
                        update(Job)
                        .where(claim.held())
                        .values(lease_expires_at=utcnow() + lease, updated_at=utcnow())
                    )
                    if result.rowcount != 1:  # type: ignore[attr-defined]
                        lost.set()
                        return
            except Exception:  # noqa: BLE001  (a missed renewal is retried; the lease has slack)
                log.warning("could not renew the lease of job %s", claim.job.id, exc_info=True)

    thread = threading.Thread(target=renew, name=f"lease-{claim.job.id}", daemon=True)
    thread.start()
    try:
        yield lost
    finally:
        stop.set()
        thread.join(timeout=5)


def release_for_retry(*, engine: Engine, claim: Claim, error: str) -> bool:
    """Put a job that hit a passing fault back in the queue; False if it has no attempts left."""
    now = utcnow()
    with transaction(engine) as session:
        job = session.get(Job, claim.job.id)
        if job is None or job.status != JobStatus.running or job.claimed_by != claim.worker:
            return True
        if job.attempts >= job.max_attempts:
            return False
        job.status = JobStatus.queued
        job.error = error
        job.claimed_by = None
        job.lease_expires_at = None
        job.updated_at = now
        session.add(job)
    return True


@dataclass(frozen=True)
class Stale:
    resubmit: list[uuid.UUID]
    exhausted: list[Job]


def find_stale(*, engine: Engine, queued_for: timedelta) -> Stale:
    """Jobs to re-drive: running with a lapsed lease (their worker died), or queued for long
    enough that their hand-over was probably lost (a broker restart, a crash before dispatch).

    A resubmitted job that is in fact still queued somewhere is harmless: claiming is atomic,
    so the second delivery finds it taken and does nothing.
    """
    now = utcnow()
    with transaction(engine) as session:
        lapsed = list(
            session.exec(
                select(Job).where(
                    Job.status == JobStatus.running,
                    col(Job.lease_expires_at) < now,
                )
            )
        )
        waiting = list(
            session.exec(
                select(Job.id).where(
                    Job.status == JobStatus.queued,
                    Job.updated_at < now - queued_for,
                )
            )
        )
        for job in lapsed:
            session.expunge(job)
    exhausted = [j for j in lapsed if j.attempts >= j.max_attempts]
    resubmit = [j.id for j in lapsed if j.attempts < j.max_attempts] + list(waiting)
    if waiting:
        # Touch them so the next sweep does not resubmit them again straight away.
        with transaction(engine) as session:
            session.execute(
                update(Job).where(Job.id.in_(waiting)).values(updated_at=now)  # type: ignore[attr-defined]
            )
    return Stale(resubmit=resubmit, exhausted=exhausted)


def fail_exhausted(*, session: Session, job: Job, reason: str) -> bool:
    """Mark a job that used up its attempts as failed; False if it changed meanwhile."""
    now = utcnow()
    result = session.execute(
        update(Job)
        .where(
            and_(
                Job.id == job.id,  # type: ignore[arg-type]
                Job.status == JobStatus.running,  # type: ignore[arg-type]
                Job.lease_expires_at < now,  # type: ignore[arg-type,operator]
            )
        )
        .values(status=JobStatus.failed, error=reason, finished_at=now, updated_at=now)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]
