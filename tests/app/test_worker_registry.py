"""The handler registry: decorator, payload model inference, guard rails."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import BaseModel, ValidationError

from app.worker.handlers import HandlerRegistry, TaskContext
from app.worker.headers import CloudTasksHeaders


class Greet(BaseModel):
    name: str


def test_decorator_registers_with_the_model_from_the_annotation():
    registry = HandlerRegistry()

    @registry.handler("greet")
    async def greet(payload: Greet, ctx: TaskContext) -> dict:
        return {"hello": payload.name, "task": ctx.task_name}

    handler = registry.get("greet")
    assert handler is not None and handler.model is Greet and handler.is_async
    assert "greet" in registry and registry.kinds == ["greet"]
    ctx = TaskContext(kind="greet", headers=CloudTasksHeaders(task_name="t1"), caller=None)
    assert asyncio.run(handler.run(handler.parse({"name": "Ada"}), ctx)) == {"hello": "Ada", "task": "t1"}
    with pytest.raises(ValidationError):
        handler.parse({"nom": "Ada"})


def test_sync_handlers_and_explicit_model():
    registry = HandlerRegistry()

    def plain(payload, ctx):  # no annotations: model given explicitly
        return payload.name.upper()

    registry.register("plain", plain, model=Greet)
    handler = registry.get("plain")
    assert handler is not None and not handler.is_async
    ctx = TaskContext(kind="plain", headers=CloudTasksHeaders(), caller=None)
    assert asyncio.run(handler.run(Greet(name="ada"), ctx)) == "ADA"
    assert ctx.retry_count == 0


def test_guard_rails():
    registry = HandlerRegistry()

    @registry.handler("one")
    async def one(payload: Greet, ctx: TaskContext) -> None: ...

    with pytest.raises(ValueError, match="already registered"):
        registry.register("one", one)
    with pytest.raises(ValueError, match="must match"):
        registry.register("Bad Kind!", one)
    with pytest.raises(TypeError, match="pydantic model"):

        @registry.handler("untyped")
        async def untyped(payload, ctx):
            ...


def test_default_registry_has_the_example_kinds():
    from app.worker import kinds  # noqa: F401 - registers them
    from app.worker.handlers import registry

    assert {"echo", "send_email", "resize_image"} <= set(registry.kinds)
