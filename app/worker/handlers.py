"""Task handlers registered by kind, each with a pydantic model for its ``data``.

    from app.worker.handlers import TaskContext, registry

    class Greet(BaseModel):
        name: str

    @registry.handler("greet")
    async def greet(payload: Greet, ctx: TaskContext) -> dict:
        return {"hello": payload.name}

The model comes from the first parameter's annotation (or ``model=``). ``async def`` handlers
run on the event loop and must not block; plain ``def`` handlers run in a worker thread. The
return value (JSON-serialisable or None) is sent back in the response's ``result``.

A kind runs as a request (``POST /tasks``) or as a Cloud Run job task (``python -m app.job``,
docs/job.md) with the same handler: ``ctx.job`` is set in a job, and ``ctx.task_index`` /
``ctx.task_count`` (0 and 1 for a request) say which share of the work is this task's, e.g.
``for item in ctx.shard(payload.items): ...``.
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from app.worker.auth import Caller
from app.worker.headers import CloudTasksHeaders

_KIND = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")

T = TypeVar("T")

HandlerFunc = Callable[[Any, "TaskContext"], Any] | Callable[[Any, "TaskContext"], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class JobRun:
    """Where a job task runs: Cloud Run's ``CLOUD_RUN_*`` variables, read by ``app.job``."""

    task_index: int
    """``CLOUD_RUN_TASK_INDEX``: 0 to ``task_count - 1``."""
    task_count: int
    """``CLOUD_RUN_TASK_COUNT``: tasks in this execution."""
    attempt: int = 0
    """``CLOUD_RUN_TASK_ATTEMPT``: retries of this task before this one (0 on the first try)."""
    execution: str | None = None
    """``CLOUD_RUN_EXECUTION``: the execution's short name."""
    job: str | None = None
    """``CLOUD_RUN_JOB``: the job's short name."""


@dataclass(frozen=True, slots=True)
class TaskContext:
    """What a handler knows about the attempt besides its payload."""

    kind: str
    headers: CloudTasksHeaders
    """Empty (every field None) in a job: a job task gets no Cloud Tasks headers."""
    caller: Caller | None
    """None when ``WORKER_AUTH=disabled``, and in a job (Cloud Run checked the OAuth token)."""
    job: JobRun | None = None
    """Set when the handler runs as a Cloud Run job task; None for a request."""

    @classmethod
    def for_job(cls, kind: str, job: JobRun) -> TaskContext:
        """The context of a job task: no request headers, no caller."""
        return cls(kind=kind, headers=CloudTasksHeaders(), caller=None, job=job)

    @property
    def task_name(self) -> str | None:
        """The Cloud Tasks task name (requests only; None in a job)."""
        return self.headers.task_name

    @property
    def retry_count(self) -> int:
        """Attempts before this one: Cloud Tasks' retry count, or the job task's attempt."""
        if self.job is not None:
            return self.job.attempt
        return self.headers.retry_count or 0

    @property
    def task_index(self) -> int:
        """This task's share of the work: the job task's index, 0 for a request."""
        return self.job.task_index if self.job is not None else 0

    @property
    def task_count(self) -> int:
        """Into how many shares the work is split: the job's task count, 1 for a request."""
        return self.job.task_count if self.job is not None else 1

    def shard(self, items: Iterable[T]) -> list[T]:
        """The items this task handles: those at positions ``i % task_count == task_index``
        (every item for a request)."""
        count, index = self.task_count, self.task_index
        return [item for position, item in enumerate(items) if position % count == index]


@dataclass(frozen=True, slots=True)
class Handler:
    """A registered kind: its payload model and the function that does the work."""

    kind: str
    model: type[BaseModel]
    func: HandlerFunc
    is_async: bool

    def parse(self, data: Any) -> BaseModel:
        """Validate ``data``; raises ``pydantic.ValidationError`` (a permanent failure)."""
        return self.model.model_validate(data)

    async def run(self, payload: BaseModel, ctx: TaskContext) -> Any:
        if self.is_async:
            return await self.func(payload, ctx)
        return await run_in_threadpool(self.func, payload, ctx)


class HandlerRegistry:
    """Maps a task ``kind`` to its :class:`Handler`."""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    def handler(
        self, kind: str, *, model: type[BaseModel] | None = None
    ) -> Callable[[HandlerFunc], HandlerFunc]:
        """Decorator registering ``func`` for ``kind``."""

        def decorate(func: HandlerFunc) -> HandlerFunc:
            self.register(kind, func, model=model)
            return func

        return decorate

    def register(
        self, kind: str, func: HandlerFunc, *, model: type[BaseModel] | None = None
    ) -> Handler:
        if not _KIND.match(kind):
            raise ValueError(f"kind {kind!r} must match {_KIND.pattern}")
        if kind in self._handlers:
            raise ValueError(f"kind {kind!r} is already registered")
        model = model or _payload_model(func)
        entry = Handler(
            kind=kind, model=model, func=func, is_async=inspect.iscoroutinefunction(func)
        )
        self._handlers[kind] = entry
        return entry

    def get(self, kind: str) -> Handler | None:
        return self._handlers.get(kind)

    @property
    def kinds(self) -> list[str]:
        return sorted(self._handlers)

    def __contains__(self, kind: object) -> bool:
        return kind in self._handlers


def _payload_model(func: HandlerFunc) -> type[BaseModel]:
    params = list(inspect.signature(func).parameters)
    hints = typing.get_type_hints(func)
    model = hints.get(params[0]) if params else None
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise TypeError(f"{func.__qualname__}: annotate the first parameter with a pydantic model "
                        f"or pass model=")
    return model


registry = HandlerRegistry()
"""The default registry; :mod:`app.worker.kinds` adds the example kinds to it."""
