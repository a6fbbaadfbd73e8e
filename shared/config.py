"""Settings base. Each process subclasses it with its own env prefix (CASES_, GATEWAY_, ...).

Platform-wide secrets and keys use unprefixed names so one environment file serves
every process; the database URL can be set per process (CASES_DATABASE_URL) or once
for all (DATABASE_URL).
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:54329/haolin"


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    return value if value else None


def key_pem(inline: str | None, file: str | Path | None, env: str) -> str:
    """A PEM key given in the environment itself (`env`) or in a file it names (`env`_FILE)."""
    if inline:
        return inline
    if file:
        return Path(file).read_text()
    raise RuntimeError(f"{env} or {env}_FILE must be set (make run writes .data/keys/)")


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", env_prefix="")

    database_url: str | None = None
    db_pool_size: int = 10
    db_max_overflow: int = 10
    timezone: str = "Asia/Shanghai"
    log_level: str = "INFO"
    # Requests larger than this are refused with 413 before they are parsed.
    max_body_bytes: int = 1_000_000
    # A tablet's push (WatermelonDB sends every change at once and cannot split it): room for
    # the gateway's record limit (GATEWAY_SYNC_MAX_PUSH_RECORDS, 10,000) of large records.
    sync_max_body_bytes: int = 16_000_000
    # A push's part held prepared this long has lost its gateway and is rolled back (shared/prepared.py):
    # above the gateway's GATEWAY_SYNC_PUSH_TIMEOUT_S (120 s), since the gateway commits it only after the
    # later services have written their parts.
    sync_prepared_ttl_s: float = 300.0

    jwt_public_key: str | None = None
    jwt_public_key_file: Path | None = None
    jwt_issuer: str = "haolin"
    jwt_audience: str = "haolin"

    # "kid:base64key,kid:base64key": the first encrypts, all decrypt (key rotation).
    field_encryption_keys: str | None = None
    blind_index_key: str | None = None

    # Peers whose X-Real-IP / X-Forwarded-For name the client (the gateway's connection to a
    # service; a load balancer in front of the gateway): addresses or networks, comma-separated.
    trusted_proxies: str = "127.0.0.1,::1"
    # Audit rows older than this are pruned (python -m ops.audit prune); never under six months.
    audit_retention_days: int = 183

    # Where files go (shared/storage/url.py): unset is .data/files/, else file:///<folder> or s3://<bucket>?...
    storage_url: str | None = None
    storage_access_key_id: str | None = None
    storage_secret_access_key: str | None = None
    # An attachment's upload (shared/uploads): larger files are refused with 413 as they arrive.
    upload_max_bytes: int = 20_000_000

    @model_validator(mode="after")
    def _platform_fallbacks(self) -> "ServiceSettings":
        # Unprefixed platform names apply when the prefixed one is not set.
        for field, env in (
            ("database_url", "DATABASE_URL"),
            ("jwt_public_key", "JWT_PUBLIC_KEY"),
            ("jwt_public_key_file", "JWT_PUBLIC_KEY_FILE"),
            ("field_encryption_keys", "FIELD_ENCRYPTION_KEYS"),
            ("blind_index_key", "BLIND_INDEX_KEY"),
            ("timezone", "HAOLIN_TIMEZONE"),
            ("storage_url", "STORAGE_URL"),
            ("storage_access_key_id", "STORAGE_ACCESS_KEY_ID"),
            ("storage_secret_access_key", "STORAGE_SECRET_ACCESS_KEY"),
        ):
            if getattr(self, field) in (None, "") and _env(env):
                value = _env(env)
                setattr(self, field, Path(value) if field.endswith("_file") else value)
        if not self.database_url:
            self.database_url = DEFAULT_DATABASE_URL
        # Platform-wide like the keys: one value for every process unless a prefixed one is set.
        for field, env in (("trusted_proxies", "TRUSTED_PROXIES"), ("audit_retention_days", "AUDIT_RETENTION_DAYS"),
                           ("upload_max_bytes", "UPLOAD_MAX_BYTES")):
            if field not in self.model_fields_set and _env(env):
                setattr(self, field, type(getattr(self, field))(_env(env)))
        if self.audit_retention_days < 183:
            raise ValueError("AUDIT_RETENTION_DAYS must be at least 183 (six months)")
        return self

    def public_key_pem(self) -> str:
        return key_pem(self.jwt_public_key, self.jwt_public_key_file, "JWT_PUBLIC_KEY")


class ResourceSettings(ServiceSettings):
    """A resource service (cases, projects, volunteers). A record that names another service's record
    (a case's project, an activity's volunteers) is checked with its owner through the gateway, as the
    caller (shared/contracts/lookup): GATEWAY_URL, or the prefixed CASES_GATEWAY_URL..., says where it is."""

    gateway_url: str = "http://127.0.0.1:8000"
    # A PostgreSQL streaming standby of database_url for the figure reads (shared/standby.py says
    # which): CASES_READ_DATABASE_URL..., or READ_DATABASE_URL for every service. Unset: the primary.
    read_database_url: str | None = None
    lookup_timeout_s: float = 10.0
    # Registrations refused because the ID number is registered at a station the caller cannot see,
    # per user (or tablet) per hour; beyond it every registration with an ID number waits (429).
    duplicate_id_attempts_per_hour: int = 30
    # A spreadsheet import (shared/spreadsheet.py) larger than this answers 413; more data rows than
    # import_max_rows answers 422.
    import_max_bytes: int = 1_000_000
    import_max_rows: int = 2000

    @model_validator(mode="after")
    def _gateway_fallback(self) -> "ResourceSettings":
        prefixed = f"{self.model_config.get('env_prefix', '')}GATEWAY_URL"
        if "gateway_url" not in self.model_fields_set and _env(prefixed) is None and _env("GATEWAY_URL"):
            self.gateway_url = _env("GATEWAY_URL")
        if not self.read_database_url and _env("READ_DATABASE_URL"):
            self.read_database_url = _env("READ_DATABASE_URL")
        # Platform-wide like the keys: one value for every service unless a prefixed one is set.
        attempts = f"{self.model_config.get('env_prefix', '')}DUPLICATE_ID_ATTEMPTS_PER_HOUR"
        if (_env(attempts) is None and "duplicate_id_attempts_per_hour" not in self.model_fields_set
                and _env("DUPLICATE_ID_ATTEMPTS_PER_HOUR")):
            self.duplicate_id_attempts_per_hour = int(_env("DUPLICATE_ID_ATTEMPTS_PER_HOUR"))
        return self
