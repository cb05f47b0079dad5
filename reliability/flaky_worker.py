"""A fault-injecting worker for the fault runs: ``uvicorn reliability.flaky_worker:app``.

It is the shipped worker app (``app.worker.main.create_app``, same routes, auth, idempotency
store, processing and logs) with one extra task kind, ``flaky``, served from its own handler
registry (the example kinds are copied into it), so neither the shipped kinds nor the default
registry change.

``flaky`` fails on purpose: for each attempt it hashes (seed, task name, attempt number) and, for
``failure_rate`` of them, raises :class:`~app.worker.errors.TransientError` (503: Cloud Tasks
retries). Otherwise it performs its side effect: one line appended to a ledger file opened with
``O_APPEND`` (one ``write`` per execution), so executions are counted from the ledger, not from
logs. Injected faults are recorded in the same ledger (``fault`` lines) for cross-checking.

Configuration (environment, read when ``app`` is first looked up):

``FLAKY_LEDGER``        path of the ledger file (required)
``FLAKY_SEED``          integer seed (default 0)
``FLAKY_FAILURE_RATE``  fraction of attempts that fail, 0 to 1 (default 0.3)

The attempt number is ``X-CloudTasks-TaskRetryCount`` (the emulator sends dispatch count - 1),
so the same seed gives the same faults for the same task names.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict

from app.worker.dependencies import get_registry
from app.worker.errors import TransientError
from app.worker.handlers import HandlerRegistry, TaskContext
from app.worker.handlers import registry as default_registry
from app.worker.main import create_app

KIND = "flaky"
ENV_LEDGER, ENV_SEED, ENV_RATE = "FLAKY_LEDGER", "FLAKY_SEED", "FLAKY_FAILURE_RATE"
EFFECT, FAULT = "effect", "fault"


def should_fail(seed: int, task_name: str, attempt: int, rate: float) -> bool:
    """Deterministic coin for one attempt: True for ``rate`` of (seed, task, attempt) triples."""
    digest = hashlib.sha256(f"{seed}\x00{task_name}\x00{attempt}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64 < rate


class Ledger:
    """Append-only record of executions: one ``write(2)`` of one line per event (O_APPEND)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def append(self, event: str, task_name: str, attempt: int) -> None:
        line = f"{event} {task_name} {attempt}\n".encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)

    def read(self) -> list[tuple[str, str, int]]:
        """``(event, task name, attempt)`` for every line written so far."""
        if not self.path.exists():
            return []
        rows = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            event, name, attempt = line.split(" ")
            rows.append((event, name, int(attempt)))
        return rows


class FlakyPayload(BaseModel):
    """Any data; ``flaky`` only looks at the task name and attempt."""

    model_config = ConfigDict(extra="allow")


@dataclass(frozen=True)
class FlakyConfig:
    ledger: Path
    seed: int = 0
    failure_rate: float = 0.3

    def __post_init__(self) -> None:
        if not 0.0 <= self.failure_rate < 1.0:
            raise ValueError(f"failure_rate must be in [0, 1), got {self.failure_rate!r}")

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> FlakyConfig:
        env = dict(os.environ if env is None else env)
        ledger = env.get(ENV_LEDGER)
        if not ledger:
            raise RuntimeError(f"{ENV_LEDGER} must name the ledger file of the flaky worker")
        return cls(Path(ledger), int(env.get(ENV_SEED, "0")), float(env.get(ENV_RATE, "0.3")))


def build_registry(config: FlakyConfig) -> HandlerRegistry:
    """A new registry: the shipped kinds (same functions and models) plus ``flaky``."""
    reg = HandlerRegistry()
    for kind in default_registry.kinds:
        handler = default_registry.get(kind)
        assert handler is not None
        reg.register(kind, handler.func, model=handler.model)
    ledger = Ledger(config.ledger)

    async def flaky(payload: FlakyPayload, ctx: TaskContext) -> dict[str, Any]:
        name = ctx.task_name or "-"
        attempt = ctx.retry_count
        if should_fail(config.seed, name, attempt, config.failure_rate):
            ledger.append(FAULT, name, attempt)
            raise TransientError(f"injected transient fault (attempt {attempt})")
        ledger.append(EFFECT, name, attempt)  # the side effect: must happen once per task
        return {"attempt": attempt}

    reg.register(KIND, flaky, model=FlakyPayload)
    return reg


def create_flaky_app(config: FlakyConfig) -> FastAPI:
    """The shipped worker app, serving the registry from :func:`build_registry`."""
    application = create_app()
    reg = build_registry(config)

    async def flaky_registry() -> HandlerRegistry:
        return reg

    application.dependency_overrides[get_registry] = flaky_registry
    return application


_app: FastAPI | None = None


def __getattr__(name: str) -> Any:
    """``app`` is built on first access from the environment (so importing needs no settings)."""
    global _app
    if name == "app":
        if _app is None:
            _app = create_flaky_app(FlakyConfig.from_env())
        return _app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
