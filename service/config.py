"""Settings: one class, read from the environment (prefix ``QUALARCHIVE_``) or ``.env``."""

from __future__ import annotations

import os
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Values that appear in documentation and examples. Outside dev mode the service refuses to
# start while a secret still holds one of them.
EXAMPLE_SECRETS = frozenset({"", "changeme", "change-me", "secret", "minioadmin", "example"})
# An audit key shorter than this is too easy to guess (e.g. `openssl rand -base64 32`: 44).
MIN_AUDIT_KEY_CHARS = 32


class Mode(StrEnum):
    dev = "dev"
    production = "production"


class Dispatch(StrEnum):
    inprocess = "inprocess"
    celery = "celery"


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "qualarchive"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="QUALARCHIVE_", env_file=".env", extra="ignore", frozen=True
    )

    mode: Mode = Mode.dev
    data_dir: Path = Field(default_factory=_default_data_dir)
    host: str = "127.0.0.1"
    port: int = 8000

    # Empty means the embedded default: SQLite in the data dir.
    database_url: str = ""

    # Object store. An empty endpoint means: start a local SeaweedFS under the data dir.
    s3_endpoint: str = ""
    s3_access_key: SecretStr = SecretStr("")
    s3_secret_key: SecretStr = SecretStr("")
    s3_secure: bool = False
    s3_region: str | None = None
    originals_bucket: str = "originals"
    derived_bucket: str = "derived"

    # Uploads.
    max_upload_bytes: int = 4 * 1024**3
    upload_part_bytes: int = 8 * 1024**2

    # Background work. In-process threads by default; Celery on a broker when configured.
    dispatch: Dispatch = Dispatch.inprocess
    broker_url: str = ""
    workers: int = 2
    job_lease_seconds: float = 60.0
    job_max_attempts: int = 3
    sweep_interval_seconds: float = 15.0

    # Extraction limits, per job.
    extraction_timeout_seconds: float = 600.0
    extraction_memory_bytes: int = 2 * 1024**3
    extraction_max_unpacked_bytes: int = 1024**3
    extraction_max_pages: int = 20_000
    tesseract_cmd: str = "tesseract"
    # Transcription: the model directory (empty: the Whisper base model from its PyPI packages)
    # the longest recording transcribed (8 hours), and the CPU threads one transcription uses.
    whisper_model_dir: str = ""
    transcription_max_seconds: float = 8 * 3600
    transcription_threads: int = 2
    ocr_language: str = "eng"

    # Tokens.
    token_ttl_days: int = 90

    # Metadata combinations (site x role x date) shared by fewer people than this are
    # generalised for those outside a source's identifiable tier.
    disclosure_k: int = 3
    # The most sources one list request examines when filters on role, participant or date
    # must be checked against generalised values; past it, a page can come back short.
    list_scan_rows: int = Field(default=1000, ge=1)

    # Participants' identifying details are encrypted with these Fernet keys (comma-separated,
    # the first one encrypts). Empty in dev mode: a key is generated into the data directory.
    identity_keys: SecretStr = SecretStr("")

    # The audit chain's events are HMAC-SHA256'd with this key, so that whoever holds only the
    # database cannot rewrite them. Empty in dev mode: a key is generated into the data
    # directory. Never stored in the database.
    audit_key: SecretStr = SecretStr("")
    # Refusals of requests without a valid token written to the audit log per minute and
    # process; beyond it they are counted, so a flood cannot grow the log without bound.
    audit_unauthenticated_per_minute: int = Field(default=60, ge=1)

    @model_validator(mode="after")
    def _refuse_example_secrets(self) -> Settings:
        if self.mode is Mode.dev:
            return self
        problems = []
        if not self.database_url:
            problems.append("QUALARCHIVE_DATABASE_URL must name the production database")
        if not self.s3_endpoint:
            problems.append("QUALARCHIVE_S3_ENDPOINT must name the object store")
        for name in ("s3_access_key", "s3_secret_key"):
            value: SecretStr = getattr(self, name)
            secret = value.get_secret_value().strip().lower()
            if secret in EXAMPLE_SECRETS or secret.startswith("replace-with"):
                problems.append(f"QUALARCHIVE_{name.upper()} is empty or an example value")
        identity_keys = self.identity_keys.get_secret_value().strip()
        if not identity_keys or identity_keys.startswith("replace-with"):
            problems.append("QUALARCHIVE_IDENTITY_KEYS must hold the key for participants' details")
        audit_key = self.audit_key.get_secret_value().strip()
        if audit_key.lower() in EXAMPLE_SECRETS or audit_key.startswith("replace-with"):
            problems.append("QUALARCHIVE_AUDIT_KEY must hold the key of the audit log")
        elif len(audit_key) < MIN_AUDIT_KEY_CHARS:
            problems.append(
                f"QUALARCHIVE_AUDIT_KEY must be at least {MIN_AUDIT_KEY_CHARS} characters long"
            )
        if self.dispatch is Dispatch.celery and not self.broker_url:
            problems.append("QUALARCHIVE_BROKER_URL is required with QUALARCHIVE_DISPATCH=celery")
        if problems:
            raise ValueError("refusing to start in production mode: " + "; ".join(problems))
        return self

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'qualarchive.sqlite3'}"

    def identity_key_list(self) -> list[str]:
        """The configured identity keys, or the data directory's own key in dev mode."""
        keys = [k.strip() for k in self.identity_keys.get_secret_value().split(",") if k.strip()]
        if keys:
            return keys
        from service.participants.identity import load_or_create_key_file

        return [load_or_create_key_file(self.data_dir)]

    def audit_key_bytes(self) -> bytes:
        """The configured audit key, or the data directory's own key in dev mode."""
        key = self.audit_key.get_secret_value().strip()
        if not key:
            from service.audit.service import load_or_create_key_file

            key = load_or_create_key_file(self.data_dir)
        return key.encode("utf-8")

    @property
    def embedded_s3(self) -> bool:
        return not self.s3_endpoint


@lru_cache
def get_settings() -> Settings:
    return Settings()
