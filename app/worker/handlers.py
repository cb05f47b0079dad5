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
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from app.worker.auth import Caller
from app.worker.headers import CloudTasksHeaders

_KIND = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")

HandlerFunc = Callable[[Any, "TaskContext"], Any] | Callable[[Any, "TaskContext"], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class TaskContext:
    """What a handler knows about the attempt besides its payload."""

    kind: str
    headers: CloudTasksHeaders
    caller: Caller | None
    """None when ``WORKER_AUTH=disabled``."""

    @property
    def task_name(self) -> str | None:
        return self.headers.task_name

    @property
    def retry_count(self) -> int:
        return self.headers.retry_count or 0


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

    def register(self, kind: str, func: HandlerFunc, *, model: type[BaseModel] | None = None) -> Handler:
        if not _KIND.match(kind):
            raise ValueError(f"kind {kind!r} must match {_KIND.pattern}")
        if kind in self._handlers:
            raise ValueError(f"kind {kind!r} is already registered")
        model = model or _payload_model(func)
        entry = Handler(kind=kind, model=model, func=func, is_async=inspect.iscoroutinefunction(func))
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
        raise TypeError(f"{func.__qualname__}: annotate the first parameter with a pydantic model or pass model=")
    return model


registry = HandlerRegistry()
"""The default registry; :mod:`app.worker.kinds` adds the example kinds to it."""
