"""FastAPI dependencies (settings, idempotency store, handler registry) and the caller check.

Each is a function the routes name in ``Annotated[..., Depends(...)]``, so a test or an embedding
app swaps any of them with ``app.dependency_overrides[func] = replacement``. The verifier and the
in-memory store live on ``app.state`` and are built from the settings on first use (rebuilt only
if the settings change), so importing the app reads nothing.

All of them are ``async def``: FastAPI runs plain ``def`` dependencies in its thread pool, a cost
larger than the whole task on this hot path.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request

from app.worker import kinds as _example_kinds  # noqa: F401 - registers the example kinds
from app.worker.attempts import RetryLimits
from app.worker.auth import AuthError, Caller, TokenVerifier
from app.worker.certs import CertCache, CertsUnavailableError
from app.worker.dead_letters import DeadLetterSink, GcsDeadLetterSink, LogOnlySink
from app.worker.gcs import StorageRunner
from app.worker.gcs_store import GcsIdempotencyStore
from app.worker.handlers import HandlerRegistry, registry
from app.worker.idempotency import IdempotencyStore, InMemoryIdempotencyStore
from app.worker.settings import Settings, get_settings

logger = logging.getLogger("app.worker.auth")


@dataclass(frozen=True, slots=True)
class Components:
    """Long-lived objects built from one :class:`Settings`."""

    settings: Settings
    verifier: TokenVerifier | None
    store: IdempotencyStore
    dead_letters: DeadLetterSink
    limits: RetryLimits
    storage: StorageRunner | None = None
    """The Cloud Storage client and pool, when a bucket is configured."""

    def describe(self) -> dict[str, str]:
        """Where task names and dead letters live, and which attempt is the last (start-up log)."""
        store = getattr(self.store, "description", None) or (
            "task names are remembered in this process only (in-memory store; "
            "WORKER_TASK_NAME_BUCKET unset): "
            "a redelivery to another instance runs again"
        )
        return {
            "task_names": store,
            "dead_letters": self.dead_letters.description,
            "last_attempt": self.limits.describe(),
        }

    def close(self) -> None:
        if self.storage is not None:
            self.storage.close()


def build_components(settings: Settings) -> Components:
    verifier = None
    if settings.auth == "required":
        assert settings.audience and settings.invoker_email  # guaranteed by Settings validation
        verifier = TokenVerifier(
            CertCache(settings.certs_url),
            audience=settings.audience,
            invoker_email=settings.invoker_email,
            clock_skew=settings.clock_skew_seconds,
            cache_size=settings.token_cache_size,
        )
    storage = None
    if settings.task_name_bucket or settings.dead_letter_bucket:
        storage = StorageRunner(
            timeout_seconds=settings.storage_timeout_seconds, threads=settings.storage_threads
        )
    store: IdempotencyStore
    if settings.task_name_bucket and storage is not None:
        store = GcsIdempotencyStore(
            storage,
            settings.task_name_bucket,
            lease_seconds=settings.idempotency_lease_seconds,
            ttl_seconds=settings.idempotency_ttl_seconds,
        )
    else:
        store = InMemoryIdempotencyStore(
            ttl_seconds=settings.idempotency_ttl_seconds,
            lease_seconds=settings.idempotency_lease_seconds,
            max_entries=settings.idempotency_max_entries,
        )
    dead_letters: DeadLetterSink = LogOnlySink()
    if settings.dead_letter_bucket and storage is not None:
        dead_letters = GcsDeadLetterSink(storage, settings.dead_letter_bucket)
    limits = RetryLimits(
        max_attempts=settings.queue_max_attempts,
        max_retry_duration_seconds=settings.queue_max_retry_duration_seconds,
    )
    return Components(settings=settings, verifier=verifier, store=store, dead_letters=dead_letters,
                      limits=limits, storage=storage)


def components_for(app: FastAPI, settings: Settings) -> Components:
    """The app's components for ``settings`` (identity check first: it is the common case)."""
    components: Components | None = getattr(app.state, "worker_components", None)
    if components is None or (
        components.settings is not settings and components.settings != settings
    ):
        previous = components
        components = build_components(settings)
        app.state.worker_components = components
        if previous is not None:
            previous.close()
    return components


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_store(request: Request, settings: SettingsDep) -> IdempotencyStore:
    """The idempotency store (in-memory by default; override for a shared one)."""
    return components_for(request.app, settings).store


async def get_registry() -> HandlerRegistry:
    """The handler registry with the example kinds (override to serve another set)."""
    return registry


async def authenticate(request: Request, settings: Settings) -> Caller | None:
    """The verified caller (None when ``WORKER_AUTH=disabled``); 401/403 for a bad token, 503
    when no signing keys can be had. The verifier is built from the settings.

    Called first thing in the route rather than declared as a dependency: each FastAPI dependency
    costs about as much as the token check itself on this path.
    """
    verifier = components_for(request.app, settings).verifier
    if verifier is None:
        return None
    try:
        return await verifier.authenticate(_single_authorization(request))
    except AuthError as exc:
        logger.warning(
            "request rejected: %s",
            exc.detail,
            extra={"json_fields": {"auth_reason": exc.reason, "http_status": exc.status_code}},
        )
        error = (
            "invalid_token" if exc.status_code == 401 else "insufficient_scope"
        )  # RFC 6750 names
        headers = {"WWW-Authenticate": f'Bearer error="{error}", error_description="{exc.reason}"'}
        raise HTTPException(exc.status_code, detail=exc.detail, headers=headers) from None
    except CertsUnavailableError as exc:
        logger.error(
            "request refused, failing closed: %s", exc, extra={"json_fields": {"http_status": 503}}
        )
        raise HTTPException(
            503,
            detail="token cannot be verified right now",
            headers={"Retry-After": str(settings.retry_after_seconds)},
        ) from None


def _single_authorization(request: Request) -> str | None:
    """The one ``Authorization`` value; two or more are ambiguous (a proxy and this check could
    read different ones), so they are refused like a malformed header (401)."""
    values = request.headers.getlist("authorization")
    if len(values) > 1:
        raise AuthError(401, "malformed_header", "more than one Authorization header")
    return values[0] if values else None


StoreDep = Annotated[IdempotencyStore, Depends(get_store)]
RegistryDep = Annotated[HandlerRegistry, Depends(get_registry)]
