"""Example task kinds: ``echo``, ``send_email``, ``resize_image`` and ``resize_images``.

They do no real I/O; each shows where the real call goes and how its failures map to
:class:`TransientError` (retry) or :class:`PermanentError` (dead-letter). ``resize_images`` is
a batch that shards: as a Cloud Run job task (``python -m app.job``) each task resizes its
share, as a request the worker resizes them all.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.worker.errors import PermanentError
from app.worker.handlers import TaskContext, registry

logger = logging.getLogger("app.worker.kinds")

EmailAddress = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
]


class EchoPayload(BaseModel):
    """Anything: returned as is (smoke tests, benchmarks)."""

    model_config = ConfigDict(extra="allow")


class SendEmail(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: list[EmailAddress] = Field(min_length=1, max_length=50)
    subject: str = Field(min_length=1, max_length=998, pattern=r"^[^\r\n]*$")
    body: str = Field("", max_length=100_000)


class ResizeImage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str = Field(pattern=r"^(gs|https)://\S+$", max_length=2048)
    width: int = Field(ge=1, le=10_000)
    height: int = Field(ge=1, le=10_000)
    format: Literal["jpeg", "png", "webp"] = "jpeg"


@registry.handler("echo")
async def echo(payload: EchoPayload, ctx: TaskContext) -> dict[str, Any]:
    return payload.model_dump()


@registry.handler("send_email")
async def send_email(payload: SendEmail, ctx: TaskContext) -> dict[str, Any]:
    # Real code: call the mail provider here. Timeouts, 5xx -> TransientError; 429 ->
    # RateLimitedError(retry_after=...); "recipient rejected" 4xx -> PermanentError.
    undeliverable = [address for address in payload.to if address.lower().endswith(".invalid")]
    if undeliverable:
        raise PermanentError(
            f"undeliverable recipients (reserved .invalid domain): {undeliverable}"
        )
    # Derive the message id from the task name so a provider-side dedup key survives retries.
    seed = f"{ctx.task_name or ''}|{payload.subject}|{','.join(payload.to)}"
    message_id = hashlib.sha256(seed.encode()).hexdigest()[:24]
    logger.info(
        "email accepted for delivery", extra={"json_fields": {"recipients": len(payload.to)}}
    )
    return {"message_id": message_id, "recipients": len(payload.to)}


@registry.handler("resize_image")
def resize_image(payload: ResizeImage, ctx: TaskContext) -> dict[str, Any]:
    # Plain ``def``: CPU-bound image work runs in a thread, off the event loop. Real code:
    # download ``source`` (not found -> PermanentError, 5xx -> TransientError), resize, upload.
    stem = payload.source.rsplit(".", 1)[0]
    return {"output": f"{stem}-{payload.width}x{payload.height}.{payload.format}"}


ImageUrl = Annotated[str, StringConstraints(pattern=r"^(gs|https)://\S+$", max_length=2048)]


class ResizeImages(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sources: list[ImageUrl] = Field(min_length=1, max_length=1000)
    width: int = Field(ge=1, le=10_000)
    height: int = Field(ge=1, le=10_000)
    format: Literal["jpeg", "png", "webp"] = "jpeg"


@registry.handler("resize_images")
def resize_images(payload: ResizeImages, ctx: TaskContext) -> dict[str, Any]:
    # Sharding: job task i of n takes sources i, i+n, i+2n... (a request takes them all), so
    # the n tasks of an execution split the batch without talking to each other.
    mine = ctx.shard(payload.sources)
    size = f"{payload.width}x{payload.height}"
    outputs = [f"{source.rsplit('.', 1)[0]}-{size}.{payload.format}" for source in mine]
    return {"task_index": ctx.task_index, "task_count": ctx.task_count, "outputs": outputs}
