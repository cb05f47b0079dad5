"""One task attempt, from body bytes to the answer Cloud Tasks acts on.

=============================  ======  =============================================
outcome                        status  Cloud Tasks then
=============================  ======  =============================================
done                           200     acknowledges: task deleted
duplicate (name completed)     200     acknowledges; handler not run again
dead_letter (permanent)        200     acknowledges; kept first; ERROR ``dead_letter: true``
dead_letter (last attempt)     200     the same, for a transient failure on the last attempt
retry (dead letter not kept)   503     retries: nothing lost (the store failed)
in_progress (name held)        409     retries later (Retry-After)
retry (TransientError)         503     retries, backing off (Retry-After)
retry (RateLimitedError)       429     retries, backing off (Retry-After)
error (unexpected exception)   500     retries per the queue's retry config
=============================  ======  =============================================

Each attempt logs exactly one summary line, at INFO for 200s, WARNING for retries, ERROR for
dead letters and crashes.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import ValidationError

from app.worker.attempts import RetryLimits
from app.worker.auth import Caller
from app.worker.dead_letters import (
    PERMANENT,
    RETRIES_EXHAUSTED,
    DeadLetter,
    DeadLetterSink,
    LogOnlySink,
)
from app.worker.errors import PermanentError, TransientError
from app.worker.handlers import HandlerRegistry, TaskContext
from app.worker.headers import CloudTasksHeaders
from app.worker.idempotency import BeginResult, IdempotencyStore
from app.worker.logs import task_fields
from app.worker.settings import Settings

logger = logging.getLogger("app.worker.tasks")

MAX_REASON_CHARS = 1000
_HOLDER_POLL_S = 0.2
MAX_KIND_CHARS = 100


@dataclass(slots=True)
class Outcome:
    """The answer to send and what to log about it."""

    status_code: int
    status: str
    result: Any = None
    reason: str | None = None
    retry_after: int | None = None
    log_fields: dict[str, Any] = field(default_factory=dict)

    def body(self, headers: CloudTasksHeaders, kind: str | None) -> bytes:
        doc: dict[str, Any] = {"status": self.status, "task": headers.task_name, "kind": kind}
        if self.result is not None:
            doc["result"] = self.result
        if self.reason is not None:
            doc["reason"] = self.reason
        try:
            return orjson.dumps(doc, default=str)
        except orjson.JSONEncodeError as exc:
            # A result orjson cannot encode (nested deeper than its 254 levels, non-string keys):
            # the work is done and recorded, so answer 200 without it. A 500 here would make Cloud
            # Tasks retry a task that already ran (and then get "duplicate").
            logger.warning(
                "task result not JSON-encodable; answered without it: %s",
                exc,
                extra={"json_fields": {"task": headers.task_name}},
            )
            doc.pop("result", None)
            doc["result_error"] = f"result not JSON-encodable: {exc}"
            return orjson.dumps(doc, default=str)


class TaskProcessor:
    """Runs one attempt: parse, validate, claim the task name, run the handler, classify.

    A dead letter is kept by ``dead_letters`` before it is acknowledged: if that fails, the
    answer is 503 so Cloud Tasks retries (nothing lost) and the task name is released.
    """

    def __init__(
        self,
        settings: Settings,
        registry: HandlerRegistry,
        store: IdempotencyStore,
        dead_letters: DeadLetterSink | None = None,
        limits: RetryLimits | None = None,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.store = store
        self.dead_letters = dead_letters if dead_letters is not None else _LOG_ONLY
        self.limits = limits if limits is not None else RetryLimits(
            max_attempts=settings.queue_max_attempts,
            max_retry_duration_seconds=settings.queue_max_retry_duration_seconds,
        )

    async def process(
        self,
        body: bytes,
        headers: CloudTasksHeaders,
        caller: Caller | None,
        context: dict[str, Any],
    ) -> tuple[Outcome, str | None]:
        """The outcome and the task kind (None if the body had no usable kind)."""
        try:
            task = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            return await self._dead_letter(
                f"body is not JSON: {exc}", body, headers, None, json_body=False
            ), None
        if not isinstance(task, dict):
            return await self._dead_letter("task must be a JSON object", body, headers, None), None
        kind = task.get("kind")
        if not isinstance(kind, str) or not kind:
            return await self._dead_letter("task has no 'kind' string", body, headers, None), None
        handler = self.registry.get(kind)
        if handler is None:
            # Not a registered kind, so any length: keep its log fields and answer small (a
            # Cloud Logging entry over 256 KB would be dropped, dead-letter record included).
            kind = kind[:MAX_KIND_CHARS]
            context["kind"] = kind
            return await self._dead_letter(f"unknown kind {kind!r}", body, headers, kind), kind
        context["kind"] = kind
        try:
            payload = handler.parse(task.get("data", {}))
        except ValidationError as exc:
            return await self._dead_letter(
                f"invalid payload: {_summarise(exc)}", body, headers, kind
            ), kind

        last = self.limits.is_last_attempt(headers)
        key = headers.idempotency_key
        if key is not None:
            try:
                claimed = await self.store.begin(key)
            except Exception:  # store outage: let Cloud Tasks retry
                logger.exception("idempotency store failed")
                if last:
                    return await self._dead_letter("idempotency store unavailable on the last "
                                                   "attempt", body,
                                                   headers, kind, cause=RETRIES_EXHAUSTED), kind
                return self._retry(503, "idempotency store unavailable", None), kind
            if claimed is BeginResult.IN_PROGRESS and last:
                claimed = await self._wait_for_holder(key)
            if claimed is BeginResult.DUPLICATE:
                return Outcome(200, "duplicate"), kind
            if claimed is BeginResult.IN_PROGRESS:
                if last:
                    logger.warning("last attempt answered 409: the attempt holding this task name "
                                   "decides its end")
                return self._retry(
                    409, "task is being processed by another attempt", None, status="in_progress"
                ), kind

        try:
            result = await handler.run(
                payload, TaskContext(kind=kind, headers=headers, caller=caller)
            )
        except TransientError as exc:
            if last:
                return await self._dead_letter(
                    f"retries exhausted: {exc}",
                    body,
                    headers,
                    kind,
                    cause=RETRIES_EXHAUSTED,
                    key=key,
                ), kind
            await self._release(key)
            return self._retry(exc.status_code, str(exc), exc.retry_after), kind
        except PermanentError as exc:
            return await self._dead_letter(str(exc), body, headers, kind, key=key), kind
        except Exception as exc:  # noqa: BLE001 - a bug: answer 500 so the task is retried
            if last:
                outcome = await self._dead_letter(
                    f"retries exhausted: unexpected {type(exc).__name__}",
                    body,
                    headers,
                    kind,
                    cause=RETRIES_EXHAUSTED,
                    key=key,
                )
                outcome.log_fields.setdefault("exc_info", exc)
                return outcome, kind
            await self._release(key)
            outcome = Outcome(500, "error", reason=f"unexpected {type(exc).__name__}")
            outcome.log_fields["exc_info"] = exc
            return outcome, kind
        await self._complete(key)
        return Outcome(200, "done", result=result), kind

    async def _wait_for_holder(self, key: str) -> BeginResult:
        """On the last attempt a 409 ends the task for Cloud Tasks; if the attempt holding the name
        then fails transiently and releases it, nobody would retry. So wait for the holder (up to
        ``WORKER_LAST_ATTEMPT_WAIT_SECONDS``): it completes (DUPLICATE) or releases (STARTED: this
        attempt runs the task)."""
        deadline = time.monotonic() + self.settings.last_attempt_wait_seconds
        claimed = BeginResult.IN_PROGRESS
        while claimed is BeginResult.IN_PROGRESS and time.monotonic() < deadline:
            await asyncio.sleep(_HOLDER_POLL_S)
            try:
                claimed = await self.store.begin(key)
            except Exception:  # store outage: answer as before (409)
                logger.exception("idempotency store failed while waiting for the attempt holding "
                                 "the task name")
                return BeginResult.IN_PROGRESS
        return claimed

    def _retry(
        self, status_code: int, reason: str, retry_after: float | None, status: str = "retry"
    ) -> Outcome:
        seconds = (
            self.settings.retry_after_seconds
            if retry_after is None
            else max(0, math.ceil(retry_after))
        )
        return Outcome(status_code, status, reason=reason[:MAX_REASON_CHARS], retry_after=seconds)

    async def _dead_letter(
        self,
        reason: str,
        body: bytes,
        headers: CloudTasksHeaders,
        kind: str | None,
        *,
        cause: str = PERMANENT,
        key: str | None = None,
        json_body: bool = True,
    ) -> Outcome:
        """Keep the dead letter, then acknowledge it (and record the task name done); if it
        cannot be kept, release the name and answer 503 so Cloud Tasks retries."""
        reason = reason[:MAX_REASON_CHARS]
        letter = DeadLetter(headers=headers, body=body, reason=reason, cause=cause, kind=kind,
                            body_is_json=json_body, max_attempts=self.limits.max_attempts)
        try:
            receipt = await self.dead_letters.keep(letter)
        except Exception:  # store outage: Cloud Tasks retries, nothing lost
            await self._release(key)
            if self.limits.is_last_attempt(headers):
                logger.exception(
                    "dead letter could not be stored on the last attempt: Cloud Tasks may drop "
                    "this task",
                    extra={
                        "json_fields": {
                            "dead_letter_store_failed": True,
                            "cause": cause,
                            "reason": reason,
                        }
                    },
                )
            else:
                logger.exception(
                    "dead letter could not be stored; answering 503 so Cloud Tasks retries",
                    extra={"json_fields": {"dead_letter_store_failed": True, "cause": cause}},
                )
            return self._retry(503, "dead-letter store unavailable", None)
        await self._complete(key)
        limit = self.settings.dead_letter_body_bytes
        fields: dict[str, Any] = {
            "dead_letter": True,
            "reason": reason,
            "cause": cause,
            "body_bytes": len(body),
            "dead_letter_kept": receipt.kept.value,
        }
        if receipt.location is not None:
            fields["dead_letter_object"] = receipt.location
        if limit:
            fields["body"] = body[:limit].decode("utf-8", "replace")
            fields["body_truncated"] = len(body) > limit
        return Outcome(200, "dead_letter", reason=reason, log_fields=fields)

    async def _complete(self, key: str | None) -> None:
        if key is None:
            return
        try:
            await self.store.complete(key)
        except Exception:  # the work is done; a later duplicate may run again
            logger.exception("could not record completed task; a redelivery would run it again")

    async def _release(self, key: str | None) -> None:
        if key is None:
            return
        try:
            await self.store.release(key)
        except Exception:  # the lease will expire instead
            logger.exception("could not release task name; retries wait for the lease to expire")


_LOG_ONLY = LogOnlySink()


def log_outcome(outcome: Outcome, headers: CloudTasksHeaders, started: float) -> None:
    """The one summary line for this attempt (task/kind/queue come from the context)."""
    if outcome.status_code == 200 and outcome.status != "dead_letter":
        level = logging.INFO
    elif outcome.status_code in (409, 429, 503):
        level = logging.WARNING
    else:
        level = logging.ERROR
    if not logger.isEnabledFor(level):
        return
    fields = dict(outcome.log_fields)
    exc = fields.pop("exc_info", None)
    fields["status"] = outcome.status
    fields["http_status"] = outcome.status_code
    fields["duration_ms"] = round((time.perf_counter() - started) * 1000, 3)
    if headers.retry_count is not None:
        fields["retry_count"] = headers.retry_count
    if headers.execution_count is not None:
        fields["execution_count"] = headers.execution_count
    if headers.invalid:
        fields["ignored_headers"] = list(headers.invalid)
    if outcome.reason and "reason" not in fields:
        fields["reason"] = outcome.reason
    message = _MESSAGES.get(outcome.status, outcome.status)
    exc_info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    logger.log(level, message, exc_info=exc_info, extra={"json_fields": fields})


_MESSAGES = {
    "done": "task done",
    "duplicate": "task already done; skipped duplicate delivery",
    "dead_letter": "task dead-lettered: acknowledged without retry",
    "retry": "task failed transiently; Cloud Tasks will retry",
    "in_progress": "task is running in another attempt; Cloud Tasks will retry",
    "error": "task crashed; Cloud Tasks will retry",
}


def bind_task_context(headers: CloudTasksHeaders, trace: dict[str, Any]) -> dict[str, Any]:
    """Set the log context for this attempt; returns the dict so ``kind`` can be added later."""
    context: dict[str, Any] = dict(trace)
    if headers.task_name is not None:
        context["task"] = headers.task_name
    if headers.queue_name is not None:
        context["queue"] = headers.queue_name
    task_fields.set(context)
    return context


def _summarise(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        location = ".".join(str(item) for item in error["loc"]) or "data"
        parts.append(f"{location}: {error['msg']}")
    more = exc.error_count() - len(parts)
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")
