"""Worker of the multi-instance run: ``uvicorn reliability.instances_worker:app``.

The shipped worker app (routes, auth, stores from the ``WORKER_*`` settings, processing, logs)
with one extra kind, ``chaos``, served from its own registry (the shipped kinds copied in):

* ``{"i": N, "permanent": true}`` fails permanently (a bug) unless ``CHAOS_FIXED=1`` (the fix
  deployed before the replay);
* otherwise it fails transiently on a seeded ``CHAOS_FAILURE_RATE`` of (seed, task name,
  attempt) draws (reliability.flaky_worker.should_fail), and else performs its side effect: one
  ``effect`` line appended to the ledger (``O_APPEND``, one ``write`` per line, shared by the
  instances), naming the logical task ``i``, the instance and the task name. Faults and
  permanent failures are recorded too, so the run counts from the ledger, not from logs.

Environment: ``CHAOS_LEDGER`` (required), ``CHAOS_SEED`` (0), ``CHAOS_FAILURE_RATE`` (0.3),
``CHAOS_FIXED`` ("" or "1"), ``CHAOS_INSTANCE`` (a name for the ledger).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from app.worker.dependencies import get_registry
from app.worker.errors import PermanentError, TransientError
from app.worker.handlers import HandlerRegistry, TaskContext
from app.worker.handlers import registry as default_registry
from app.worker.main import create_app
from reliability.flaky_worker import should_fail

KIND = "chaos"
EFFECT, FAULT, PERMANENT = "effect", "fault", "permanent"


class ChaosPayload(BaseModel):
    i: int
    permanent: bool = False


def append(ledger: Path, event: str, i: int, instance: str, task: str, attempt: int) -> None:
    line = f"{event} {i} {instance} {task} {attempt}\n".encode()
    fd = os.open(ledger, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def read_ledger(ledger: Path) -> list[tuple[str, int, str, str, int]]:
    """``(event, i, instance, task name, attempt)`` per line."""
    if not ledger.exists():
        return []
    rows = []
    for line in ledger.read_text(encoding="utf-8").splitlines():
        event, i, instance, task, attempt = line.split(" ")
        rows.append((event, int(i), instance, task, int(attempt)))
    return rows


def build_registry(env: dict[str, str]) -> HandlerRegistry:
    ledger = Path(env["CHAOS_LEDGER"])
    seed = int(env.get("CHAOS_SEED", "0"))
    rate = float(env.get("CHAOS_FAILURE_RATE", "0.3"))
    fixed = env.get("CHAOS_FIXED") == "1"
    instance = env.get("CHAOS_INSTANCE", "w")
    reg = HandlerRegistry()
    for kind in default_registry.kinds:
        handler = default_registry.get(kind)
        assert handler is not None
        reg.register(kind, handler.func, model=handler.model)

    async def chaos(payload: ChaosPayload, ctx: TaskContext) -> dict[str, Any]:
        name, attempt = ctx.task_name or "-", ctx.retry_count
        if payload.permanent and not fixed:
            append(ledger, PERMANENT, payload.i, instance, name, attempt)
            raise PermanentError(f"task {payload.i}: a bug rejects it (fixed by CHAOS_FIXED=1)")
        if should_fail(seed, name, attempt, rate):
            append(ledger, FAULT, payload.i, instance, name, attempt)
            raise TransientError(f"injected transient fault (attempt {attempt})")
        append(ledger, EFFECT, payload.i, instance, name, attempt)
        return {"i": payload.i, "instance": instance}

    reg.register(KIND, chaos, model=ChaosPayload)
    return reg


_app: FastAPI | None = None


def __getattr__(name: str) -> Any:
    """``app`` is built on first access from the environment."""
    global _app
    if name == "app":
        if _app is None:
            application = create_app()
            reg = build_registry(dict(os.environ))

            async def chaos_registry() -> HandlerRegistry:
                return reg

            application.dependency_overrides[get_registry] = chaos_registry
            _app = application
        return _app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
