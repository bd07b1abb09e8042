"""Background work: Celery workers on a real Redis, and re-driving work a crash left behind."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from sqlalchemy import update

from service.auth.models import Role
from service.config import Dispatch
from service.db import migrate, transaction, utcnow
from service.jobs.models import Job
from service.runtime import Runtime
from tests import files
from tests.conftest import Api, make_user, new_database
from tests.test_recordings import SPEECH, speak

REDIS_DB = 13
BIN = Path(sys.executable).parent


def worker_env(runtime: Runtime, broker: str, home: Path) -> dict[str, str]:
    s = runtime.settings
    return {
        **os.environ,
        "HOME": str(home),  # onnxruntime and friends write under $HOME: keep it private
        "QUALARCHIVE_DATA_DIR": str(home),
        "QUALARCHIVE_DATABASE_URL": runtime.engine.url.render_as_string(hide_password=False),
        "QUALARCHIVE_S3_ENDPOINT": s.s3_endpoint,
        "QUALARCHIVE_S3_ACCESS_KEY": s.s3_access_key.get_secret_value(),
        "QUALARCHIVE_S3_SECRET_KEY": s.s3_secret_key.get_secret_value(),
        "QUALARCHIVE_ORIGINALS_BUCKET": runtime.store.originals,
        "QUALARCHIVE_DERIVED_BUCKET": runtime.store.derived,
        "QUALARCHIVE_BROKER_URL": broker,
        "QUALARCHIVE_JOB_LEASE_SECONDS": "3",
        "QUALARCHIVE_SWEEP_INTERVAL_SECONDS": "1",
    }


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [str(BIN / "qualarchive"), "worker", "--concurrency", "1"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def kill(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def job_status(runtime: Runtime, job_id: str) -> str:
    with transaction(runtime.engine) as session:
        job = session.get(Job, uuid.UUID(job_id))
        assert job is not None
        return job.status


@pytest.fixture
def broker() -> str:
    url = f"redis://127.0.0.1:6379/{REDIS_DB}"
    redis.Redis.from_url(url).flushdb()
    yield url
    redis.Redis.from_url(url).flushdb()


@pytest.mark.slow
def test_celery_worker_runs_jobs_and_redrives_a_killed_workers_job(
    backend: str, clean: Runtime, make_server, broker: str, tmp_path: Path
) -> None:
    # A database of its own: the suite's in-process sweeper must not pick up these jobs.
    with new_database(backend, tmp_path, "celery") as url:
        migrate(url)
        live, rt = make_server(dispatch=Dispatch.celery, broker_url=broker, database_url=url)
        api = Api(live.url, make_user(rt, Role.researcher), rt)
        env = worker_env(rt, broker, tmp_path)
        log = tmp_path / "worker.log"
        first = start_worker(env, log)
        second = None
        try:
            quick = api.upload([("notes.txt", b"Notes taken by a Celery worker.\n")]).json()
            assert api.wait(quick["id"], timeout=120)["status"] == "ready", log.read_text()

            if shutil.which("espeak-ng"):
                # A recording: the worker joins the model into its own empty home, transcribes.
                spoken = api.upload([("interview.wav", speak(SPEECH))]).json()
                assert api.wait(spoken["id"], timeout=180)["status"] == "ready", log.read_text()
                text = api.get(f"/sources/{spoken['id']}/text", params={"form": "identifiable"})
                assert "discharge" in text.text.lower(), text.text
                cache = tmp_path / ".cache"
                assert (cache / "qualarchive" / "whisper-base" / "model.bin").is_file()
                assert not (cache / "Microsoft").exists()  # no onnxruntime telemetry

            # A job long enough to kill its worker in the middle of it.
            pdf = files.make_pdf([f"Page {n} of the long policy document." for n in range(1500)])
            body = api.upload([("long.pdf", pdf)], source_type="document").json()
            job_id = body["files"][0]["job_id"]
            deadline = time.monotonic() + 60
            while job_status(rt, job_id) != "running":
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.02)
            kill(first)
            assert job_status(rt, job_id) == "running"  # nobody has finished it

            second = start_worker(env, log)
            done = api.wait(body["id"], timeout=180)
            assert done["status"] == "ready", log.read_text()
            job = api.get(f"/jobs/{job_id}").json()
            assert job["status"] == "succeeded"
            assert job["attempts"] == 2, log.read_text()[-3000:]
        finally:
            kill(first)
            if second is not None:
                kill(second)
            live.__exit__()
            rt.close()


def abandon(runtime: Runtime, job_id: uuid.UUID, *, attempts: int) -> None:
    """Make it look as if the worker holding this job died a while ago."""
    with transaction(runtime.engine) as session:
        session.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(
                status="running",
                attempts=attempts,
                claimed_by="gone:1:1",
                lease_expires_at=utcnow() - timedelta(seconds=5),
            )
        )


def test_sweeper_redrives_a_job_whose_worker_vanished(researcher: Api, clean: Runtime) -> None:
    """In-process mode: a job left running by a crashed server is picked up again."""
    body = researcher.upload([("notes.txt", b"Notes that were being extracted.\n")]).json()
    researcher.wait(body["id"])
    job_id = uuid.UUID(body["files"][0]["job_id"])
    abandon(clean, job_id, attempts=1)
    deadline = time.monotonic() + 30
    while job_status(clean, str(job_id)) != "succeeded":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    job = researcher.get(f"/jobs/{job_id}").json()
    assert job["attempts"] == 2


def test_job_that_keeps_killing_its_worker_ends_failed(researcher: Api, clean: Runtime) -> None:
    body = researcher.upload([("notes.txt", b"Notes.\n")]).json()
    researcher.wait(body["id"])
    job_id = uuid.UUID(body["files"][0]["job_id"])
    abandon(clean, job_id, attempts=3)
    deadline = time.monotonic() + 30
    while job_status(clean, str(job_id)) != "failed":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    source = researcher.get(f"/sources/{body['id']}").json()
    assert source["status"] == "failed"
    assert "stopped unexpectedly 3 times" in source["status_reason"]
