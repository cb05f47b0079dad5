"""The worker's ASGI app: ``uvicorn app.worker.main:app``.

``POST /tasks`` takes one Cloud Tasks HTTP task (``{"kind": ..., "data": ...}``); ``GET /healthz``
(and ``/health``: Cloud Run's front end reserves some paths ending in ``z``) answers 200 for
probes without touching auth. Settings are read at start-up (lifespan), not at import, and
a bad configuration stops the process with a message naming the variable.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, HTTPException, Request, Response
from starlette.requests import ClientDisconnect

from app.worker.dependencies import (
    Components,
    RegistryDep,
    SettingsDep,
    StoreDep,
    authenticate,
    components_for,
)
from app.worker.headers import CloudTasksHeaders
from app.worker.logs import LOGGER_NAME, configure_logging, task_fields, trace_fields
from app.worker.processing import TaskProcessor, bind_task_context, log_outcome
from app.worker.settings import Settings, SettingsError, get_settings, unknown_env_names

logger = logging.getLogger(LOGGER_NAME)

_JSON = "application/json"


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Validate settings, set up logging, warm the certificate cache."""
    provider = app.dependency_overrides.get(get_settings, get_settings)
    try:
        settings = provider()
        if inspect.isawaitable(settings):
            settings = await settings
    except SettingsError as exc:
        configure_logging("INFO")
        logger.critical("%s", exc)
        raise RuntimeError(str(exc)) from None
    assert isinstance(settings, Settings)
    configure_logging(settings.log_level)
    unknown = unknown_env_names()
    if unknown:
        logger.warning("ignoring unknown WORKER_* variables (typo?): %s", ", ".join(unknown))
    components = components_for(app, settings)
    if components.verifier is None:
        logger.warning(
            "WORKER_AUTH=disabled: tokens are NOT verified; any caller can run tasks. Use only for "
            "local runs."
        )
    else:
        if not await components.verifier.certs.refresh():
            logger.warning(
                "signing certificates not available yet; requests get 503 until they are"
            )
        logger.info(
            "worker ready",
            extra={
                "json_fields": {
                    "audience": settings.audience,
                    "invoker_email": settings.invoker_email,
                }
            },
        )
    stores = components.describe()
    # WARNING when a per-process default is in use: say it even with WORKER_LOG_LEVEL=WARNING.
    shared = (
        components.storage is not None and settings.task_name_bucket and settings.dead_letter_bucket
    )
    logger.log(
        logging.INFO if shared else logging.WARNING,
        "; ".join(stores.values()),
        extra={"json_fields": stores},
    )
    try:
        yield
    finally:
        current: Components | None = getattr(app.state, "worker_components", None)
        if current is not None and current.storage is not None:
            current.close()  # the storage pool and HTTP session; rebuilt if the app starts again
            app.state.worker_components = None


def create_app() -> FastAPI:
    """A fresh worker app (tests build one per case; the module-level ``app`` is for uvicorn)."""
    application = FastAPI(
        title="Cloud Tasks worker",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )

    @application.post("/tasks", response_class=Response)
    async def receive_task(
        request: Request, settings: SettingsDep, store: StoreDep, registry: RegistryDep
    ) -> Response:
        """Run one task attempt; the status code tells Cloud Tasks whether to retry."""
        started = time.perf_counter()
        headers = CloudTasksHeaders.from_raw(request.scope["headers"])
        trace = trace_fields(request.headers.get("x-cloud-trace-context"), settings.project_id)
        context = bind_task_context(
            headers, trace
        )  # so every line below, rejections too, names the task
        try:
            caller = await authenticate(request, settings)
            body = await read_body(request, settings.max_body_bytes)
            components = components_for(request.app, settings)
            processor = TaskProcessor(
                settings, registry, store, components.dead_letters, components.limits
            )
            outcome, kind = await processor.process(body, headers, caller, context)
            log_outcome(outcome, headers, started)
        except ClientDisconnect:
            # Cloud Tasks gave up (dispatch deadline) mid-body; it will retry. Nobody reads this
            # answer.
            logger.warning("caller disconnected before the body arrived")
            return Response(status_code=400)
        finally:
            task_fields.set(None)
        response_headers = (
            None if outcome.retry_after is None else {"Retry-After": str(outcome.retry_after)}
        )
        return Response(
            outcome.body(headers, kind),
            status_code=outcome.status_code,
            media_type=_JSON,
            headers=response_headers,
        )

    @application.get("/healthz")
    @application.get("/health")
    async def healthz() -> Response:
        """Liveness: the process serves requests (no dependency checks, so Google outages do not
        kill it)."""
        return Response(b'{"status":"ok"}', media_type=_JSON)

    return application


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing more than ``limit`` bytes without reading them all (413):
    a declared Content-Length is checked first, then the received bytes are counted (chunked)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    receive = request.receive
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _too_large(limit: int) -> HTTPException:
    logger.warning(
        "task body over %d bytes refused", limit, extra={"json_fields": {"http_status": 413}}
    )
    return HTTPException(413, detail=f"body exceeds {limit} bytes (Cloud Tasks' task limit is 1 "
                                     f"MiB)")


app = create_app()
