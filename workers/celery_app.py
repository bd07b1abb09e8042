"""Celery for the distributed mode: ``qualarchive worker`` runs this app against the broker."""

from __future__ import annotations

import logging
import threading
import uuid

from celery import Celery, signals

from service.config import Dispatch, Settings, get_settings
from service.runtime import Runtime

log = logging.getLogger(__name__)

app = Celery("qualarchive")
_runtime: Runtime | None = None
_runtime_lock = threading.Lock()
_sweeper_stop = threading.Event()


def configure(settings: Settings) -> Celery:
    app.conf.update(
        broker_url=settings.broker_url,
        task_default_queue="qualarchive",
        task_ignore_result=True,
        # The job row, not the broker, is the record of work: a message lost with a killed
        # worker is re-driven by the sweeper, so messages are acknowledged on receipt and one
        # task at a time is taken.
        task_acks_late=False,
        worker_prefetch_multiplier=1,
        # A down broker must not hold an upload request for long: fail fast, and let the
        # sweeper re-send the job once the broker is back.
        task_publish_retry=False,
        broker_connection_timeout=3,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"socket_connect_timeout": 3, "socket_timeout": 10},
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
    )
    return app


def runtime() -> Runtime:
    """This worker process's runtime, built on first use."""
    global _runtime
    with _runtime_lock:
        if _runtime is None:
            from service import runtime as runtime_module

            _runtime = runtime_module.build(get_settings(), dispatch=Dispatch.celery)
        return _runtime


@app.task(name="qualarchive.run_job")
def run_job_task(job_id: str) -> None:
    from workers.tasks import run_job

    run_job(uuid.UUID(job_id), runtime=runtime())


def _sweep_loop() -> None:
    from workers.tasks import sweep

    rt = runtime()
    interval = rt.settings.sweep_interval_seconds
    # Sweep once at start: this is what re-drives jobs a killed worker left running.
    while True:
        try:
            sweep(rt)
        except Exception:  # noqa: BLE001
            log.warning("job sweep failed", exc_info=True)
        if _sweeper_stop.wait(interval):
            return


@signals.worker_ready.connect
def _start_sweeper(**_: object) -> None:
    threading.Thread(target=_sweep_loop, name="job-sweeper", daemon=True).start()


@signals.worker_shutdown.connect
def _stop(**_: object) -> None:
    _sweeper_stop.set()
    from workers.tasks import close_sandboxes

    close_sandboxes()
