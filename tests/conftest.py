"""Test set-up on real components: SQLite and PostgreSQL migrated by Alembic, a real SeaweedFS
S3 server, the real extraction sandbox, and the API served by uvicorn on a loopback port.

Every API test runs once per database backend. Workers commit on their own connections, so
isolation is by emptying every table and bucket after each test rather than by rolling back.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import uvicorn
from sqlalchemy import text
from sqlmodel import SQLModel

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("SCARF_NO_ANALYTICS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from service import runtime as runtime_module  # noqa: E402
from service.app import create_app  # noqa: E402
from service.audit.models import GENESIS_HASH, AuditHead  # noqa: E402
from service.auth import service as auth_service  # noqa: E402
from service.auth.models import Role  # noqa: E402
from service.config import Dispatch, Settings  # noqa: E402
from service.db import migrate, transaction  # noqa: E402
from service.deid import service as deid_service  # noqa: E402
from service.runtime import Runtime  # noqa: E402
from service.sites import service as sites_service  # noqa: E402
from service.storage.embedded import EmbeddedS3  # noqa: E402
from service.storage.service import ObjectStore  # noqa: E402

PG_ADMIN_URL = os.environ.get(
    "QUALARCHIVE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres"
)
RUN = secrets.token_hex(3)
TEST_IDENTITY_KEY = "qm-tHJ-0vEjWzdB4PE8kvwvrhj1gY2PDV5yCLJvuTLE="
TEST_AUDIT_KEY = "test-audit-key-Jq3v8Xw2LkP9sTn4RbYc6HdMf0UeZaGi"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--backend",
        action="append",
        choices=["sqlite", "postgresql"],
        help="database backend(s) to run the API tests on (default: both)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        chosen = metafunc.config.getoption("--backend") or ["sqlite", "postgresql"]
        metafunc.parametrize("backend", chosen, scope="session")


# -- object store ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedS3]:
    server = EmbeddedS3(tmp_path_factory.mktemp("seaweedfs"))
    server.start()
    yield server
    server.stop()


def make_test_store(s3: EmbeddedS3, prefix: str) -> ObjectStore:
    store = ObjectStore(
        endpoint=s3.endpoint,
        access_key=s3.credentials.access_key,
        secret_key=s3.credentials.secret_key,
        originals_bucket=f"{prefix}-originals",
        derived_bucket=f"{prefix}-derived",
        part_bytes=5 * 1024**2,
    )
    store.ensure_buckets()
    return store


def all_objects(store: ObjectStore) -> list[str]:
    names = []
    for bucket in (store.originals, store.derived):
        names += [
            f"{bucket}/{o.object_name}" for o in store.client.list_objects(bucket, recursive=True)
        ]
    return names


# -- databases ---------------------------------------------------------------------------


@contextmanager
def new_database(backend: str, directory: Path, name: str) -> Iterator[str]:
    """A fresh, empty database on ``backend``, dropped afterwards; yields its URL."""
    if backend == "sqlite":
        yield f"sqlite:///{directory / f'{name}.sqlite3'}"
        return
    database = f"qa_{name}_{RUN}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    try:
        yield f"{base}/{database}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@pytest.fixture(scope="session")
def database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with new_database(backend, tmp_path_factory.mktemp("db"), "test") as url:
        migrate(url)
        yield url


def test_settings(
    tmp: Path, database_url: str, s3: EmbeddedS3, prefix: str, **overrides: Any
) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp,
        "database_url": database_url,
        "s3_endpoint": s3.endpoint,
        "s3_access_key": s3.credentials.access_key,
        "s3_secret_key": s3.credentials.secret_key,
        "originals_bucket": f"{prefix}-originals",
        "derived_bucket": f"{prefix}-derived",
        "upload_part_bytes": 5 * 1024**2,
        "workers": 2,
        "job_lease_seconds": 6.0,
        "sweep_interval_seconds": 1.0,
        "extraction_timeout_seconds": 120.0,
        "identity_keys": TEST_IDENTITY_KEY,
        "audit_key": TEST_AUDIT_KEY,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


test_settings.__test__ = False  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def runtime(
    backend: str, database_url: str, s3: EmbeddedS3, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Runtime]:
    prefix = f"t{RUN}-{backend[:2]}"
    settings = test_settings(tmp_path_factory.mktemp("data"), database_url, s3, prefix)
    store = make_test_store(s3, prefix)
    rt = runtime_module.build(settings, store=store, dispatch=Dispatch.inprocess)
    yield rt
    rt.close()


class LiveServer:
    def __init__(self, app: Any) -> None:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        sock.close()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="session")
def server(runtime: Runtime) -> Iterator[LiveServer]:
    with LiveServer(create_app(runtime)) as live:
        yield live


def _empty_everything(runtime: Runtime) -> None:
    drain = getattr(runtime.dispatcher, "drain", None)
    if drain is not None:
        drain(timeout=60)
    tables = [t.name for t in reversed(SQLModel.metadata.sorted_tables)]
    with transaction(runtime.engine) as session:
        if runtime.engine.dialect.name == "postgresql":
            session.execute(text(f"TRUNCATE {', '.join(tables)} CASCADE"))
        else:
            for table in tables:
                session.execute(text(f"DELETE FROM {table}"))
        # The audit chain starts again from its genesis, and the vocabulary from its defaults,
        # as on a new database.
        session.add(AuditHead(id=1, seq=0, last_hash=GENESIS_HASH))
        deid_service.seed_vocabulary(session=session)
    for bucket in (runtime.store.originals, runtime.store.derived):
        runtime.store.remove_prefix(bucket, "")


@pytest.fixture
def make_server(
    clean: Runtime, s3: EmbeddedS3, tmp_path: Path
) -> Iterator[Callable[..., tuple[LiveServer, Runtime]]]:
    """Another API server on the test database, with settings or an object store of its own."""
    made: list[tuple[LiveServer, Runtime]] = []

    def factory(
        *,
        store: ObjectStore | None = None,
        dispatch: Dispatch = Dispatch.inprocess,
        database_url: str | None = None,
        **overrides: Any,
    ) -> tuple[LiveServer, Runtime]:
        url = database_url or clean.engine.url.render_as_string(hide_password=False)
        prefix = clean.store.originals.removesuffix("-originals")
        settings = test_settings(tmp_path, url, s3, prefix, dispatch=dispatch, **overrides)
        rt = runtime_module.build(settings, store=store or clean.store, dispatch=dispatch)
        live = LiveServer(create_app(rt)).__enter__()
        made.append((live, rt))
        return live, rt

    yield factory
    for live, rt in made:
        live.__exit__()
        rt.close()


@pytest.fixture
def clean(runtime: Runtime) -> Iterator[Runtime]:
    yield runtime
    _empty_everything(runtime)


# -- users and clients -------------------------------------------------------------------


class Api:
    """An HTTP client for one user, with the few waits the tests need."""

    def __init__(self, base_url: str, token: str | None, runtime: Runtime) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=f"{base_url}/api/v1", headers=headers, timeout=120)
        self.runtime = runtime
        self.token = token

    def __getattr__(self, name: str) -> Callable[..., httpx.Response]:
        return getattr(self.http, name)  # type: ignore[no-any-return]

    def upload(
        self,
        files: list[tuple[str, bytes]] | list[tuple[str, bytes, str]],
        *,
        file_kinds: list[str] | None = None,
        **fields: Any,
    ) -> httpx.Response:
        data: dict[str, Any] = {"title": "Interview 1", "source_type": "interview"}
        data.update({k: v for k, v in fields.items() if v is not None})
        if file_kinds:
            data["file_kind"] = file_kinds
        parts = [("file", (f[0], f[1], "application/octet-stream")) for f in files]
        return self.http.post("/sources", data=data, files=parts)

    def wait(self, source_id: str, timeout: float = 90) -> dict[str, Any]:
        """Poll until the source's extraction has finished (ready or failed)."""
        deadline = time.monotonic() + timeout
        while True:
            body = self.http.get(f"/sources/{source_id}").json()
            if body["status"] in ("ready", "failed"):
                return body  # type: ignore[no-any-return]
            if time.monotonic() > deadline:
                raise AssertionError(f"source still {body['status']} after {timeout} s: {body}")
            time.sleep(0.1)


def make_user(runtime: Runtime, role: Role, email: str | None = None, sites: list[str] = ()) -> str:
    """A user with a token; ``sites`` are site codes."""
    with transaction(runtime.engine) as session:
        user = auth_service.create_user(
            session=session,
            email=email or f"{role.value}-{uuid.uuid4().hex[:6]}@example.org",
            role=role,
        )
        auth_service.set_sites(
            session=session,
            user=user,
            site_ids=sites_service.ids_of_codes(session=session, codes=list(sites)),
        )
        _, secret = auth_service.issue_token(session=session, user=user, ttl=timedelta(days=1))
    return secret


@pytest.fixture
def admin(server: LiveServer, clean: Runtime) -> Api:
    return Api(server.url, make_user(clean, Role.admin), clean)


@pytest.fixture
def researcher(server: LiveServer, clean: Runtime) -> Api:
    return Api(server.url, make_user(clean, Role.researcher), clean)


@pytest.fixture
def analyst(server: LiveServer, clean: Runtime) -> Api:
    return Api(server.url, make_user(clean, Role.analyst), clean)


@pytest.fixture
def anonymous(server: LiveServer, clean: Runtime) -> Api:
    return Api(server.url, None, clean)
