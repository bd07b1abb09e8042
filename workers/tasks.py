"""The task functions. Both the in-process pool and Celery workers call exactly these."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from service.db import transaction
from service.deid import service as deid_service
from service.errors import described
from service.extraction.sandbox import Sandbox
from service.jobs import service as jobs_service
from service.jobs.models import JobKind
from service.runtime import Runtime
from service.sources import service as sources_service
from service.texts import service as texts_service

if TYPE_CHECKING:
    from service.deid.detect import Detector
    from service.transcription.engine import Transcriber

log = logging.getLogger(__name__)

# One extraction sandbox (a long-lived child process) per worker thread.
_local = threading.local()
_sandboxes: list[Sandbox] = []
_sandboxes_lock = threading.Lock()


def _sandbox() -> Sandbox:
    sandbox = getattr(_local, "sandbox", None)
    if sandbox is None:
        sandbox = Sandbox()
        _local.sandbox = sandbox
        with _sandboxes_lock:
            _sandboxes.append(sandbox)
    return sandbox


def close_sandboxes() -> None:
    with _sandboxes_lock:
        while _sandboxes:
            _sandboxes.pop().close()


_detector: Detector | None = None
_detector_lock = threading.Lock()


def detector() -> Detector:
    """The process's detection engine: built once (it loads a spaCy pipeline), then shared."""
    global _detector
    with _detector_lock:
        if _detector is None:
            from service.deid.detect import Detector

            _detector = Detector()
        return _detector


_transcriber: Transcriber | None = None
_transcriber_lock = threading.Lock()


def _transcribe(runtime: Runtime, claim: jobs_service.Claim) -> None:
    """One transcription at a time per process: the model uses every core it is given, and
    two at once would only share them (and double the memory)."""

    def loaded() -> Transcriber:
        global _transcriber
        if _transcriber is None:
            from pathlib import Path

            from service.transcription.engine import Transcriber

            model_dir = runtime.settings.whisper_model_dir
            _transcriber = Transcriber(
                Path(model_dir) if model_dir else None,
                cpu_threads=runtime.settings.transcription_threads,
            )
        return _transcriber

    with _transcriber_lock:
        texts_service.transcribe(runtime=runtime, claim=claim, transcriber=loaded)


def _extract(runtime: Runtime, claim: jobs_service.Claim) -> None:
    texts_service.extract(runtime=runtime, claim=claim, sandbox=_sandbox())


def _deidentify(runtime: Runtime, claim: jobs_service.Claim) -> None:
    # Read, detect, write: the detector runs with no database transaction open.
    assert claim.job.source_id is not None
    with transaction(runtime.engine) as session:
        plan = deid_service.plan_detection(
            session=session, cipher=runtime.cipher, source_id=claim.job.source_id
        )
    found = deid_service.run_detection(plan, detector()) if plan else {}
    with transaction(runtime.engine) as session:
        if plan is not None:
            deid_service.record_detection(session=session, plan=plan, found=found)
        claim.succeed(session)


HANDLERS: dict[str, Callable[[Runtime, jobs_service.Claim], None]] = {
    JobKind.extract: _extract,
    JobKind.transcribe: _transcribe,
    JobKind.deidentify: _deidentify,
    JobKind.redact_audio: lambda runtime, claim: texts_service.redact_audio(
        runtime=runtime, claim=claim
    ),
}


def run_job(job_id: uuid.UUID, *, runtime: Runtime) -> None:
    """Claim the job, run its handler while holding the lease, and record the outcome."""
    lease = timedelta(seconds=runtime.settings.job_lease_seconds)
    try:
        claim = jobs_service.claim(
            engine=runtime.engine, job_id=job_id, worker=jobs_service.worker_name(), lease=lease
        )
    except Exception as exc:  # noqa: BLE001  (database down: the sweeper re-drives the job later)
        log.warning("could not claim job %s: %s", job_id, described(exc))
        return
    if claim is None:
        return  # taken by another worker, finished, or out of attempts
    try:
        with jobs_service.holding_lease(engine=runtime.engine, claim=claim, lease=lease):
            HANDLERS[claim.job.kind](runtime, claim)
    except jobs_service.LeaseLost:
        log.info("job %s was taken over or its target removed; result discarded", job_id)
    except jobs_service.Superseded:
        # Its source was deleted, withdrawn, cut or changed while it ran: nothing was written.
        log.info("job %s was overtaken by a change to its source; result discarded", job_id)
        try:
            with transaction(runtime.engine) as session:
                claim.succeed(session)
                if claim.job.kind in (JobKind.extract, JobKind.transcribe) and claim.job.file_id:
                    # The file's text is still wanted (the source may be released from a
                    # hold): made again from what the source is now.
                    sources_service.restart_text_job(
                        session=session,
                        file_id=claim.job.file_id,
                        submit=runtime.dispatcher.submit,
                        settings=runtime.settings,
                    )
        except jobs_service.LeaseLost:
            pass
    except Exception as exc:  # noqa: BLE001  (a fault of ours, e.g. the store is down)
        # Never the message: a database error's carries the values it was given.
        log.warning("job %s hit %s; it will be retried", job_id, described(exc))
        _retry_or_fail(runtime, claim, type(exc).__name__)


def _retry_or_fail(runtime: Runtime, claim: jobs_service.Claim, error_class: str) -> None:
    """Queue the job again, or fail it once its attempts are used; the stored error is a fixed
    sentence and the exception's class, never its message."""
    try:
        retry = (
            f"An attempt failed on an error inside the archive ({error_class}); it will be retried."
        )
        if jobs_service.release_for_retry(engine=runtime.engine, claim=claim, error=retry):
            return
        reason = (
            "The archive could not process this file after several attempts "
            "(the object store or database kept failing). An admin can retry it."
        )
        with transaction(runtime.engine) as session:
            if claim.job.file_id is not None:
                texts_service.mark_failed(session=session, file_id=claim.job.file_id, reason=reason)
            claim.fail(session, f"{reason} Last error: {error_class}.")
    except Exception as exc:  # noqa: BLE001  (the lease lapses and the sweeper takes over)
        log.warning("could not record the outcome of job %s: %s", claim.job.id, described(exc))


def sweep(runtime: Runtime) -> int:
    """Re-drive jobs a crash left behind; fail those that have used every attempt."""
    stale = jobs_service.find_stale(
        engine=runtime.engine,
        queued_for=timedelta(seconds=max(runtime.settings.sweep_interval_seconds, 1) * 2),
    )
    for job in stale.exhausted:
        reason = (
            f"Processing stopped unexpectedly {job.attempts} times on this file (the worker "
            "was killed or crashed). It may be too large or damaged; an admin can retry it."
        )
        with transaction(runtime.engine) as session:
            if jobs_service.fail_exhausted(session=session, job=job, reason=reason) and job.file_id:
                texts_service.mark_failed(session=session, file_id=job.file_id, reason=reason)
    for job_id in stale.resubmit:
        runtime.dispatcher.submit(job_id)
    return len(stale.resubmit)
