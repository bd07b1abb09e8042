"""The ``qualarchive`` command: serve, worker, database and user administration."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from sqlmodel import Session, select

from schemas.audit import Anchor
from service.audit import service as audit_service
from service.audit.service import SYSTEM
from service.auth import service as auth_service
from service.auth.models import Role, User
from service.config import Dispatch, Mode, Settings, get_settings
from service.db import at_head, make_engine, migrate, transaction

app = typer.Typer(
    help="qualarchive: an archive for qualitative research evidence.", no_args_is_help=True
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
users_app = typer.Typer(help="Users and their tokens.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit log.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(audit_app, name="audit")

# soft_wrap: paths and tokens are printed whole, never broken across lines.
console = Console(stderr=True, soft_wrap=True, highlight=False)
BOOTSTRAP_ADMIN = "admin@localhost"


def _quiet_third_parties() -> None:
    # Libraries we call must not send usage pings or go looking for models online.
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("SCARF_NO_ANALYTICS", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _settings() -> Settings:
    try:
        return get_settings()
    except ValueError as exc:
        console.print(f"[red]Configuration error:[/red] {exc}")
        raise typer.Exit(2) from None


@contextmanager
def _object_store(settings: Settings) -> Iterator[tuple[str, str, str]]:
    """The object store's endpoint and keys: the configured one, or a local SeaweedFS."""
    if not settings.embedded_s3:
        yield (
            settings.s3_endpoint,
            settings.s3_access_key.get_secret_value(),
            settings.s3_secret_key.get_secret_value(),
        )
        return
    from service.storage.embedded import EmbeddedS3, EmbeddedS3Error

    embedded = EmbeddedS3(settings.data_dir / "objects")
    try:
        embedded.start()
    except EmbeddedS3Error as exc:
        console.print(f"[red]Could not start the embedded object store:[/red] {exc}")
        raise typer.Exit(1) from None
    stopping = threading.Event()

    def supervise() -> None:
        # Keep the store up for as long as the service runs: a crashed weed comes back on the
        # same ports, so clients need not know.
        while not stopping.wait(2.0):
            try:
                embedded.restart_if_exited()
            except EmbeddedS3Error as exc:
                console.print(f"[red]The embedded object store could not be restarted:[/red] {exc}")

    watchdog = threading.Thread(target=supervise, name="s3-supervisor", daemon=True)
    watchdog.start()
    try:
        creds = embedded.credentials
        yield embedded.endpoint, creds.access_key, creds.secret_key
    finally:
        stopping.set()
        watchdog.join(timeout=5)
        embedded.stop()


def _bootstrap_admin(settings: Settings) -> str | None:
    """On an empty database, create an admin and return its token (shown once)."""
    engine = make_engine(settings.effective_database_url)
    try:
        with transaction(engine) as session:
            if session.exec(select(User.id).limit(1)).first() is not None:
                return None
            user = auth_service.create_user(session=session, email=BOOTSTRAP_ADMIN, role=Role.admin)
            token, secret = auth_service.issue_token(
                session=session,
                user=user,
                name="bootstrap",
                ttl=timedelta(days=settings.token_ttl_days),
            )
            _audit_cli(session, "user.create", user.id, {"role": user.role, "bootstrap": True})
            _audit_cli(session, "token.create", token.id, {"user_id": str(user.id)})
            return secret
    finally:
        engine.dispose()


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on")] = None,
) -> None:
    """Run the API (and, unless configured otherwise, the object store and workers) here."""
    import uvicorn

    from service import runtime as runtime_module
    from service.app import create_app

    _quiet_third_parties()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = _settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if settings.mode is Mode.dev or settings.effective_database_url.startswith("sqlite"):
        migrate(settings.effective_database_url)
    elif not at_head(settings.effective_database_url):
        console.print(
            "[red]The database schema is not up to date: run `qualarchive db upgrade`.[/red]"
        )
        raise typer.Exit(2)
    host = host or settings.host
    port = port or settings.port

    with _object_store(settings) as (endpoint, access_key, secret_key):
        store = runtime_module.make_store(
            settings, endpoint=endpoint, access_key=access_key, secret_key=secret_key
        )
        store.ensure_buckets()
        runtime = runtime_module.build(settings, store=store)
        try:
            token = _bootstrap_admin(settings)
            url = f"http://{host}:{port}/api/v1"
            console.print(f"qualarchive is running at [bold]{url}[/bold] (docs: {url}/docs)")
            console.print(f"Data directory: {settings.data_dir}")
            where = "embedded SeaweedFS at " + endpoint if settings.embedded_s3 else endpoint
            console.print(
                f"Database: {_redacted(settings.effective_database_url)}; objects: {where}"
            )
            if token:
                console.print(
                    f"An admin ({BOOTSTRAP_ADMIN}) was created. Its token, shown only now:\n"
                    f"  [bold]{token}[/bold]"
                )
            config = uvicorn.Config(
                create_app(runtime), host=host, port=port, log_level="info", access_log=False
            )
            uvicorn.Server(config).run()
        finally:
            runtime.close()


def _redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@app.command()
def worker(
    concurrency: Annotated[int | None, typer.Option(help="Jobs at once (threads)")] = None,
) -> None:
    """Run a Celery worker for the distributed mode (needs QUALARCHIVE_BROKER_URL)."""
    _quiet_third_parties()
    settings = _settings()
    if not settings.broker_url:
        console.print(
            "[red]Set QUALARCHIVE_BROKER_URL (e.g. redis://host:6379/0) to run a worker.[/red]"
        )
        raise typer.Exit(2)
    if settings.embedded_s3:
        console.print(
            "[red]Set QUALARCHIVE_S3_ENDPOINT and its keys: workers share one object store.[/red]"
        )
        raise typer.Exit(2)
    os.environ["QUALARCHIVE_DISPATCH"] = Dispatch.celery.value
    get_settings.cache_clear()
    from workers.celery_app import configure

    celery_app = configure(get_settings())
    # Threads, not processes: each thread keeps its own extraction sandbox (a child process),
    # which prefork's daemonic children are not allowed to start.
    celery_app.worker_main(
        [
            "worker",
            "--pool=threads",
            f"--concurrency={concurrency or settings.workers}",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            "--queues=qualarchive",
        ]
    )


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Migrate the database to the newest schema (or to REVISION)."""
    settings = _settings()
    migrate(settings.effective_database_url, revision)
    console.print(f"Database at {revision}: {_redacted(settings.effective_database_url)}")


def _audit_cli(session: Session, action: str, target_id: object, detail: dict[str, object]) -> None:
    """Commands run by whoever holds the server's configuration: recorded as the system."""
    kind = action.split(".", 1)[0]
    audit_service.append(
        session=session,
        key=_settings().audit_key_bytes(),
        actor=SYSTEM,
        action=action,
        target_type=kind,
        target_id=target_id,
        detail=detail,
    )


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Option(help="The user's email address")],
    role: Annotated[Role, typer.Option(help="admin, researcher or analyst")],
    site: Annotated[list[str] | None, typer.Option(help="A site code (repeatable)")] = None,
) -> None:
    """Create a user and print their first token (shown only now)."""
    settings = _settings()
    engine = make_engine(settings.effective_database_url)
    from service.errors import AppError
    from service.sites import service as sites_service

    try:
        with transaction(engine) as session:
            user = auth_service.create_user(session=session, email=email, role=role)
            auth_service.set_sites(
                session=session,
                user=user,
                site_ids=sites_service.ids_of_codes(session=session, codes=site or []),
            )
            token, secret = auth_service.issue_token(
                session=session,
                user=user,
                name="initial",
                ttl=timedelta(days=settings.token_ttl_days),
            )
            _audit_cli(session, "user.create", user.id, {"role": role.value, "sites": site or []})
            _audit_cli(session, "token.create", token.id, {"user_id": str(user.id)})
    except AppError as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    console.print(f"Created {role.value} {user.email}. Token (shown only now):")
    print(secret)


@users_app.command("token")
def users_token(
    email: Annotated[str, typer.Option(help="The user's email address")],
    name: Annotated[str, typer.Option(help="A label for the token")] = "cli",
) -> None:
    """Issue another token for an existing user and print it (shown only now)."""
    settings = _settings()
    engine = make_engine(settings.effective_database_url)
    try:
        with transaction(engine) as session:
            user = auth_service.find_user(session=session, email=email)
            if user is None:
                console.print(f"[red]No user with the email {email}.[/red]")
                raise typer.Exit(1)
            token, secret = auth_service.issue_token(
                session=session, user=user, name=name, ttl=timedelta(days=settings.token_ttl_days)
            )
            _audit_cli(session, "token.create", token.id, {"user_id": str(user.id)})
    finally:
        engine.dispose()
    print(secret)


@users_app.command("list")
def users_list() -> None:
    """List users."""
    settings = _settings()
    engine = make_engine(settings.effective_database_url)
    try:
        with transaction(engine) as session:
            for user in auth_service.list_users(session=session):
                state = " (disabled)" if user.disabled_at else ""
                print(f"{user.email}\t{user.role}{state}")
    finally:
        engine.dispose()


@audit_app.command("anchor")
def audit_anchor(
    out: Annotated[
        Path | None,
        typer.Option(help="Append the anchor to this file (one JSON line each) instead of stdout"),
    ] = None,
) -> None:
    """Record the head of the audit chain (seq, hash, time), to keep outside the database."""
    settings = _settings()
    engine = make_engine(settings.effective_database_url)
    try:
        anchor = audit_service.anchor_now(engine=engine, key=settings.audit_key_bytes())
    finally:
        engine.dispose()
    line = anchor.model_dump_json()
    if out is None:
        print(line)
        return
    # Appending keeps every earlier anchor: each one is a point the log can be checked against.
    with out.open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    console.print(f"Anchored the audit log at event {anchor.seq}.")


def _read_anchors(paths: list[Path]) -> list[Anchor]:
    anchors = []
    for path in paths:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            console.print(f"[red]Cannot read the anchor file {path}:[/red] {exc.strerror}")
            raise typer.Exit(2) from None
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                anchors.append(Anchor.model_validate_json(line))
            except ValidationError:
                console.print(
                    f"[red]Line {number} of {path} is not an anchor[/red] "
                    "(one JSON object with seq, hash and anchored_at per line, as written by "
                    "`qualarchive audit anchor`)."
                )
                raise typer.Exit(2) from None
    return anchors


@audit_app.command("verify")
def audit_verify(
    anchor: Annotated[
        list[Path] | None,
        typer.Option(help="A file of anchors written by `audit anchor` (repeatable)"),
    ] = None,
) -> None:
    """Walk the audit log's keyed hash chain, check it against anchors; name any break."""
    settings = _settings()
    anchors = _read_anchors(anchor or [])
    engine = make_engine(settings.effective_database_url)
    try:
        verdict = audit_service.verify(
            engine=engine, key=settings.audit_key_bytes(), anchors=anchors
        )
    finally:
        engine.dispose()
    if verdict.ok:
        against = f"; it holds all {len(anchors)} anchors" if anchors else ""
        before = f" ({verdict.unkeyed} written before the audit key)" if verdict.unkeyed else ""
        console.print(
            f"The audit log is intact: {verdict.checked} events checked{before}{against}."
        )
        return
    console.print(
        f"[red]The audit log is broken at event {verdict.broken_at}:[/red] {verdict.reason} "
        f"({verdict.checked} events before it are intact)."
    )
    raise typer.Exit(1)
