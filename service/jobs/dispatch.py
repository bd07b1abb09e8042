"""Handing job ids to whatever runs them: threads in this process, or Celery workers."""

from __future__ import annotations

import logging
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Protocol

from service.config import Dispatch

if TYPE_CHECKING:
    from service.runtime import Runtime

log = logging.getLogger(__name__)


class Dispatcher(Protocol):
    def submit(self, job_id: uuid.UUID) -> None: ...
    def stop(self) -> None: ...


class InProcessDispatcher:
    """The embedded default: a small thread pool in this process, plus a sweeper thread that
    re-drives work left behind by a crash. Needs no broker."""

    def __init__(self, runtime: Runtime, *, sweep: bool = True) -> None:
        self._runtime = runtime
        self._pool = ThreadPoolExecutor(runtime.settings.workers, thread_name_prefix="job")
        self._stopping = threading.Event()
        self._in_flight = 0
        self._idle = threading.Condition()
        self._sweeper: threading.Thread | None = None
        if sweep:
            self._sweeper = threading.Thread(
                target=self._sweep_loop, name="job-sweeper", daemon=True
            )
            self._sweeper.start()

    def submit(self, job_id: uuid.UUID) -> None:
        from workers.tasks import run_job

        if self._stopping.is_set():
            return  # the sweeper of the next start picks it up
        with self._idle:
            self._in_flight += 1

        def run() -> None:
            try:
                run_job(job_id, runtime=self._runtime)
            finally:
                with self._idle:
                    self._in_flight -= 1
                    self._idle.notify_all()

        self._pool.submit(run)

    def drain(self, timeout: float) -> bool:
        """Wait until no job is queued or running here; False if that took over ``timeout``."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout)

    def _sweep_loop(self) -> None:
        from workers.tasks import sweep

        interval = self._runtime.settings.sweep_interval_seconds
        while not self._stopping.wait(interval):
            try:
                sweep(self._runtime)
            except Exception:  # noqa: BLE001  (the sweeper must outlive a database blip)
                log.warning("job sweep failed", exc_info=True)

    def stop(self) -> None:
        self._stopping.set()
        self._pool.shutdown(wait=True, cancel_futures=True)
        from workers.tasks import close_sandboxes

        close_sandboxes()


class CeleryDispatcher:
    """The distributed mode: job ids go to Celery workers through the broker."""

    def __init__(self, runtime: Runtime) -> None:
        from workers.celery_app import configure

        self._app = configure(runtime.settings)

    def submit(self, job_id: uuid.UUID) -> None:
        try:
            self._app.send_task("qualarchive.run_job", args=[str(job_id)])
        except Exception:  # noqa: BLE001
            # The job row is committed; a worker's sweeper re-sends it once the broker is back.
            log.warning("broker unreachable; job %s will be re-driven by the sweeper", job_id)

    def stop(self) -> None:
        pass


def make_dispatcher(runtime: Runtime, dispatch: Dispatch) -> Dispatcher:
    if dispatch is Dispatch.celery:
        return CeleryDispatcher(runtime)
    return InProcessDispatcher(runtime)
