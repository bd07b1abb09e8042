"""The command line: `qualarchive serve` on embedded defaults, and user administration."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

BIN = Path(sys.executable).parent
TOKEN = re.compile(r"\bqa_[A-Za-z0-9_-]{20,}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def embedded_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUALARCHIVE_")}
    env.update({"QUALARCHIVE_DATA_DIR": str(data_dir), "HOME": str(data_dir)})
    return env


class Serve:
    """`qualarchive serve` in a subprocess, with its console output collected."""

    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self.log = data_dir.parent / f"serve-{self.port}.log"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [str(BIN / "qualarchive"), "serve", "--port", str(self.port)],
                env=embedded_env(data_dir),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"serve did not become ready:\n{self.output}")
            time.sleep(0.2)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def descendants(self) -> list[psutil.Process]:
        return psutil.Process(self.process.pid).children(recursive=True)

    def stop(self) -> None:
        os.kill(self.process.pid, signal.SIGINT)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            raise


@pytest.mark.slow
def test_serve_on_embedded_defaults(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = Serve(data_dir)
    try:
        output = first.output
        assert f"http://127.0.0.1:{first.port}/api/v1" in output
        assert str(data_dir) in output
        tokens = TOKEN.findall(output)
        assert len(tokens) == 1
        weed = [p for p in first.descendants() if p.name() == "weed"]
        assert len(weed) == 1
        # The service supervises its object store: a crashed weed is started again.
        os.killpg(weed[0].pid, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while True:
            weed = [p for p in first.descendants() if p.name() == "weed" and p.status() != "zombie"]
            if weed and httpx.get(f"{first.url}/readyz", timeout=5).status_code == 200:
                break
            assert time.monotonic() < deadline, first.output
            time.sleep(0.5)
        headers = {"Authorization": f"Bearer {tokens[0]}"}
        api = httpx.Client(base_url=f"{first.url}/api/v1", headers=headers, timeout=60)
        created = api.post(
            "/sources",
            data={"title": "Embedded", "source_type": "document"},
            files=[("file", ("n.txt", b"Notes kept on a laptop.\n", "text/plain"))],
        )
        assert created.status_code == 201, created.text
        source_id = created.json()["id"]
        deadline = time.monotonic() + 120
        while api.get(f"/sources/{source_id}").json()["status"] != "ready":
            assert time.monotonic() < deadline, first.output
            time.sleep(0.2)
    finally:
        first.stop()
    # Uvicorn re-raises the SIGINT it handled once shut down: 130 is a clean, requested stop.
    assert first.process.returncode in (0, 130, -signal.SIGINT), first.output
    assert "Finished server process" in first.output
    assert not psutil.pid_exists(weed[0].pid) or weed[0].status() == psutil.STATUS_ZOMBIE
    assert (data_dir / "qualarchive.sqlite3").exists()
    assert oct((data_dir / "objects" / "s3-credentials.json").stat().st_mode & 0o777) == "0o600"

    second = Serve(data_dir)
    try:
        assert TOKEN.findall(second.output) == []  # the admin token is shown on first start only
        api = httpx.Client(
            base_url=f"{second.url}/api/v1", headers={"Authorization": f"Bearer {tokens[0]}"}
        )
        text = api.get(f"/sources/{source_id}/text", params={"form": "identifiable"})
        assert text.status_code == 200
        assert "Notes kept on a laptop." in text.text
    finally:
        second.stop()


def test_users_create_prints_a_token_that_works(tmp_path: Path) -> None:
    env = embedded_env(tmp_path)
    subprocess.run([str(BIN / "qualarchive"), "db", "upgrade"], env=env, check=True)
    result = subprocess.run(
        [
            str(BIN / "qualarchive"),
            "users",
            "create",
            "--email",
            "R@Example.org",
            "--role",
            "researcher",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    [token] = TOKEN.findall(result.stdout)
    again = subprocess.run(
        [
            str(BIN / "qualarchive"),
            "users",
            "create",
            "--email",
            "r@example.org",
            "--role",
            "analyst",
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    assert again.returncode == 1
    assert "already exists" in again.stderr
    listed = subprocess.run(
        [str(BIN / "qualarchive"), "users", "list"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "r@example.org\tresearcher" in listed.stdout

    from service.auth.service import authenticate
    from service.db import make_engine, transaction

    engine = make_engine(f"sqlite:///{tmp_path / 'qualarchive.sqlite3'}")
    with transaction(engine) as session:
        principal = authenticate(session=session, secret=token)
    assert principal.email == "r@example.org"
    engine.dispose()


def test_production_mode_refuses_example_secrets(tmp_path: Path) -> None:
    env = embedded_env(tmp_path) | {
        "QUALARCHIVE_MODE": "production",
        "QUALARCHIVE_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1/test",
        "QUALARCHIVE_S3_ENDPOINT": "minio:9000",
        "QUALARCHIVE_S3_ACCESS_KEY": "minioadmin",
        "QUALARCHIVE_S3_SECRET_KEY": "minioadmin",
    }
    result = subprocess.run(
        [str(BIN / "qualarchive"), "serve"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "QUALARCHIVE_S3_ACCESS_KEY" in result.stderr
    assert "QUALARCHIVE_AUDIT_KEY" in result.stderr
