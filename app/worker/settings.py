"""Worker settings: read from ``WORKER_*`` environment variables, validated once, cached.

Every default lives here. ``load_settings`` reads and caches them (``functools.lru_cache``);
``get_settings`` is the FastAPI dependency the routes use, which tests and embedders replace with
``app.dependency_overrides[get_settings] = lambda: Settings(...)``.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

ENV_PREFIX = "WORKER_"
GOOGLE_CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"
MAX_TASK_BYTES = 1024 * 1024
"""Cloud Tasks' maximum task size (1 MiB): no real task body can be larger."""

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_LOOPBACK_NAMES = frozenset({"localhost"})
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$")


class SettingsError(ValueError):
    """Settings are invalid; the message names each ``WORKER_*`` variable and what is allowed."""


class Settings(BaseModel):
    """Validated worker configuration (immutable; one instance per process)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    auth: Literal["required", "disabled"] = Field(
        "required", description="`required` verifies the OIDC token; `disabled` is for local runs "
                                "only."
    )
    audience: str | None = Field(
        None, description="Expected `aud`: the Cloud Run service URL or its custom audience."
    )
    invoker_email: str | None = Field(
        None, description="Expected `email`: the invoker service account Cloud Tasks signs as."
    )
    certs_url: str = Field(GOOGLE_CERTS_URL, description="Where Google's signing certificates are "
                                                         "fetched.")
    max_body_bytes: int = Field(
        MAX_TASK_BYTES, ge=1, le=32 * 1024 * 1024, description="Larger bodies get 413 (Cloud Tasks "
                                                               "max is 1 MiB)."
    )
    retry_after_seconds: int = Field(
        10, ge=0, le=3600, description="Retry-After sent with 503/429/409 unless the handler gives "
                                       "one."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        "INFO", description="INFO logs one line per task; WARNING keeps only problems."
    )
    project_id: str | None = Field(
        None, description="Project for trace links in logs (falls back to GOOGLE_CLOUD_PROJECT)."
    )
    clock_skew_seconds: int = Field(30, ge=0, le=300, description="Tolerance for `exp` and `iat`.")
    token_cache_size: int = Field(
        1024, ge=0, le=1_000_000, description="Verified tokens remembered until they expire (0 = "
                                              "off)."
    )
    idempotency_ttl_seconds: int = Field(
        86_400, ge=60, description="How long a completed task name is remembered (in-memory store)."
    )
    idempotency_max_entries: int = Field(
        100_000, ge=1, description="Bound of the in-memory idempotency store (oldest evicted "
                                   "first)."
    )
    idempotency_lease_seconds: int = Field(
        1_800, ge=1, le=86_400, description="An unfinished task name is free again after this "
                                            "(crash safety)."
    )
    dead_letter_body_bytes: int = Field(
        2_048, ge=0, le=65_536, description="How much of a dead-lettered body is logged (0 = none)."
    )
    dead_letter_bucket: str | None = Field(
        None,
        description="Cloud Storage bucket that keeps each dead letter whole (unset: dead letters "
                    "are only logged).",
    )
    task_name_bucket: str | None = Field(
        None,
        description="Cloud Storage bucket of the task-name store shared by all instances (unset: "
                    "in-memory store).",
    )
    queue_max_attempts: int | None = Field(
        None,
        ge=-1,
        le=1_000_000,
        description="The queue's retry_config.max_attempts (-1 = unlimited; unset = unknown): the "
                    "last attempt "
        "of a transient failure is dead-lettered.",
    )
    queue_max_retry_duration_seconds: int | None = Field(
        None,
        ge=0,
        le=10 * 365 * 86_400,
        description="The queue's max_retry_duration in seconds (0 = unlimited; unset = unknown).",
    )
    last_attempt_wait_seconds: float = Field(
        20.0, ge=0, le=1_800,
        description="On the queue's last attempt, how long to wait for another attempt holding the "
                    "task name "
        "(it may fail and release it) before answering 409, after which Cloud Tasks retries no "
        "more.",
    )
    storage_timeout_seconds: float = Field(
        10.0, gt=0, le=120, description="Timeout of each Cloud Storage request (dead letters, task "
                                        "names)."
    )
    storage_threads: int = Field(
        16, ge=1, le=256, description="Threads (and HTTP connections) for Cloud Storage calls, off "
                                      "the event loop."
    )

    @field_validator("auth", "log_level", mode="before")
    @classmethod
    def _normalise_case(cls, value: object, info) -> object:  # pydantic hook
        if not isinstance(value, str):
            return value
        value = value.strip()
        return value.upper() if info.field_name == "log_level" else value.lower()

    @field_validator(
        "audience",
        "invoker_email",
        "project_id",
        "dead_letter_bucket",
        "task_name_bucket",
        mode="before",
    )
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value.strip() if isinstance(value, str) else value

    @field_validator("invoker_email")
    @classmethod
    def _check_email(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not _EMAIL.match(value):
            raise ValueError(f"must be an email address like name@project.iam.gserviceaccount.com, "
                             f"got {value!r}")
        if not value.isascii():  # service-account e-mails are ASCII; tokens are compared exactly
            raise ValueError(f"must be ASCII (service-account e-mails are), got {value!r}")
        return value.lower()  # ASCII only, so this lowers A-Z and nothing else

    @field_validator("dead_letter_bucket", "task_name_bucket")
    @classmethod
    def _check_bucket(cls, value: str | None) -> str | None:
        # Bucket naming rules: https://cloud.google.com/storage/docs/buckets#naming (a name with
        # dots may be up to 222 characters, each dot-separated part at most 63).
        if value is None:
            return None
        if value.startswith("gs://"):
            raise ValueError(f"must be a bucket name without gs://, got {value!r}")
        if not (
            _BUCKET.match(value)
            and len(value) <= 222
            and all(len(part) <= 63 for part in value.split("."))
        ):
            raise ValueError(
                "must be a Cloud Storage bucket name: 3 to 63 lower-case letters, digits, '-', '_' "
                "or '.' "
                f"(up to 222 with dots), starting and ending with a letter or digit, got {value!r}"
            )
        if value.startswith("goog") or "google" in value:
            raise ValueError(f"must not start with 'goog' or contain 'google' (reserved by Cloud "
                             f"Storage), got {value!r}")
        return value

    @field_validator("queue_max_attempts")
    @classmethod
    def _check_max_attempts(cls, value: int | None) -> int | None:
        if value == 0:
            raise ValueError("must be -1 (unlimited) or at least 1, got 0")
        return value

    @field_validator("certs_url")
    @classmethod
    def _check_certs_url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError(f"must be an https:// URL, got {value!r}")
        if parts.scheme == "http" and not _is_loopback(parts.hostname):
            raise ValueError(f"plain http is only allowed for a loopback host (tests), got "
                             f"{value!r}")
        return value.strip()

    @model_validator(mode="after")
    def _auth_needs_identity(self) -> Settings:
        if self.auth == "required":
            missing = [
                f"{ENV_PREFIX}{name.upper()}"
                for name in ("audience", "invoker_email")
                if getattr(self, name) is None
            ]
            if missing:
                raise ValueError(
                    f"{' and '.join(missing)} must be set when {ENV_PREFIX}AUTH=required "
                    "(audience: the Cloud Run service URL or custom audience; invoker email: the "
                    "service "
                    f"account Cloud Tasks signs its OIDC token as). For a local run without tokens "
                    f"set "
                    f"{ENV_PREFIX}AUTH=disabled."
                )
        return self

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``WORKER_*`` variables; raise :class:`SettingsError` if invalid."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}  # strings from the environment; pydantic converts them
        for name in cls.model_fields:
            raw = env.get(ENV_PREFIX + name.upper())
            if raw is not None:
                values[name] = raw
        if "project_id" not in values and env.get("GOOGLE_CLOUD_PROJECT"):
            values["project_id"] = env["GOOGLE_CLOUD_PROJECT"]
        try:
            return cls(**values)
        except ValidationError as exc:
            raise SettingsError(_describe(exc, values)) from None


def unknown_env_names(environ: Mapping[str, str] | None = None) -> list[str]:
    """``WORKER_*`` variables that are not settings (likely typos); logged at start-up."""
    env = os.environ if environ is None else environ
    known = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
    return sorted(name for name in env if name.startswith(ENV_PREFIX) and name not in known)


@lru_cache(maxsize=1)
def load_settings() -> Settings:
    """The process settings, read from the environment once (``load_settings.cache_clear()``
    re-reads)."""
    return Settings.from_env()


async def get_settings() -> Settings:
    """FastAPI dependency for the settings: override it with
    ``app.dependency_overrides[get_settings] = lambda: Settings(...)``.

    It is ``async`` on purpose: FastAPI runs a plain ``def`` dependency in its thread pool, which
    costs more than the rest of the request; this one returns the cached value inline.
    """
    return load_settings()


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _describe(exc: ValidationError, raw: Mapping[str, str]) -> str:
    lines = []
    for error in exc.errors():
        message = error["msg"].removeprefix("Value error, ")
        if error["loc"]:
            field = str(error["loc"][0])
            lines.append(f"{ENV_PREFIX}{field.upper()}: {message} (got "
                         f"{raw.get(field, error['input'])!r})")
        else:
            lines.append(message)
    return "invalid worker settings: " + "; ".join(lines)
