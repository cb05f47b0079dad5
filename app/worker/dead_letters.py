"""Where dead letters are kept: a log line only (default) or one Cloud Storage object per task.

A dead letter is a task that will not be retried: a permanent failure (bad body, unknown kind,
invalid payload, :class:`PermanentError`), or a transient failure on the queue's last allowed
attempt (app/worker/attempts.py). The worker always logs one ERROR line with
``"dead_letter": true`` for it (the alert counts those); with ``WORKER_DEAD_LETTER_BUCKET`` set it
also keeps the whole task in that bucket first, and answers 503 (Cloud Tasks retries, nothing
lost) when it cannot.

Object layout (``GcsDeadLetterSink``), one object per queue-qualified task name::

    dead-letters/<sha256(queue/task)[:32]>-<task name, unsafe characters as '_'>

* the object's data is the task body exactly as received (bytes; ``Content-Type``
  ``application/json`` when the body parsed as JSON, else ``application/octet-stream``);
* its custom metadata holds the rest: ``task``, ``queue``, ``kind``, ``cause``
  (``permanent`` or ``retries-exhausted``), ``reason`` (the error), the ``X-CloudTasks-*``
  values the attempt carried (``x-cloudtasks-taskretrycount``, ...), ``max-attempts``,
  ``dead-lettered-at`` (UTC, ISO 8601), ``body-bytes`` and ``format`` (``1``). Replay
  (``python -m app.enqueue replay``) adds ``replayed-at``, ``replayed-as`` and ``replays``.

The object is created with ``ifGenerationMatch=0``: a second attempt for the same task name
(a redelivery, or a duplicate on another instance) gets 412, stores nothing and is acknowledged
like the first. Creating with that precondition needs only ``storage.objects.create``, so the
runtime account holds ``roles/storage.objectCreator`` on the bucket and cannot read or delete
what it stored.
"""

from __future__ import annotations

import enum
import hashlib
import logging
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

from app.worker.gcs import StorageRunner
from app.worker.headers import CloudTasksHeaders

logger = logging.getLogger("app.worker.dead_letters")

PREFIX = "dead-letters/"
FORMAT = "1"
PERMANENT = "permanent"
RETRIES_EXHAUSTED = "retries-exhausted"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")
_MAX_READABLE = 200


@dataclass(frozen=True, slots=True, kw_only=True)
class DeadLetter:
    """Everything kept about one dead-lettered attempt."""

    headers: CloudTasksHeaders
    body: bytes
    reason: str
    cause: str
    """``permanent`` or ``retries-exhausted``."""
    kind: str | None = None
    body_is_json: bool = False
    max_attempts: int | None = None
    at: datetime | None = None

    def metadata(self) -> dict[str, str]:
        """The object's custom metadata (strings only; well under the 8 KiB limit)."""
        h = self.headers
        values: dict[str, object | None] = {
            "format": FORMAT,
            "task": h.task_name,
            "queue": h.queue_name,
            "kind": self.kind,
            "cause": self.cause,
            "reason": self.reason,
            "x-cloudtasks-taskretrycount": h.retry_count,
            "x-cloudtasks-taskexecutioncount": h.execution_count,
            "x-cloudtasks-tasketa": h.eta,
            "x-cloudtasks-taskpreviousresponse": h.previous_response,
            "x-cloudtasks-taskretryreason": h.retry_reason,
            "ignored-headers": ",".join(h.invalid) or None,
            "max-attempts": self.max_attempts,
            "dead-lettered-at": (self.at or datetime.now(UTC)).isoformat(timespec="milliseconds"),
            "body-bytes": len(self.body),
        }
        return {key: str(value) for key, value in values.items() if value is not None}


def object_name(headers: CloudTasksHeaders) -> str:
    """``dead-letters/<hash of queue/task>-<readable task name>``; a random name for an unnamed
    call (only a direct request has no task name: Cloud Tasks always sends one)."""
    key = headers.idempotency_key
    if key is None:
        return f"{PREFIX}unnamed-{uuid.uuid4().hex}"
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    readable = _UNSAFE.sub("_", headers.task_name or "")[:_MAX_READABLE]
    return f"{PREFIX}{digest}-{readable}"


class Kept(enum.Enum):
    LOGGED = "logged"
    """Log line only (no store configured)."""
    STORED = "stored"
    ALREADY_STORED = "already_stored"
    """An earlier attempt stored it (412 on the create-only write)."""


@dataclass(frozen=True, slots=True)
class Receipt:
    kept: Kept
    location: str | None = None
    """``gs://bucket/object`` when stored."""


@runtime_checkable
class DeadLetterSink(Protocol):
    """Keeps a dead letter before the worker acknowledges it; raises if it could not."""

    description: str

    async def keep(self, letter: DeadLetter) -> Receipt: ...


class LogOnlySink:
    """Today's behaviour: the dead-letter log line is the only record (body cut to
    ``WORKER_DEAD_LETTER_BODY_BYTES``); a task whose retries run out leaves its last ERROR line."""

    description = (
        "dead letters are logged only (WORKER_DEAD_LETTER_BUCKET unset): their bodies are not kept"
    )

    async def keep(self, letter: DeadLetter) -> Receipt:
        return Receipt(Kept.LOGGED)


class GcsDeadLetterSink:
    """One create-only Cloud Storage object per task name (layout in the module docstring)."""

    def __init__(self, runner: StorageRunner, bucket: str) -> None:
        self.runner = runner
        self.bucket_name = bucket
        self._bucket = runner.bucket(bucket)
        self.description = f"dead letters are kept in gs://{bucket}/{PREFIX}"

    async def keep(self, letter: DeadLetter) -> Receipt:
        name = object_name(letter.headers)
        created = await self.runner.run(self._create, name, letter)
        return Receipt(Kept.STORED if created else Kept.ALREADY_STORED, f"gs://{self.bucket_name}/{name}")

    def _create(self, name: str, letter: DeadLetter) -> bool:
        from google.api_core.exceptions import PreconditionFailed

        blob = self._bucket.blob(name)
        blob.metadata = letter.metadata()
        content_type = "application/json" if letter.body_is_json else "application/octet-stream"
        try:
            blob.upload_from_string(
                letter.body, content_type=content_type, if_generation_match=0,
                timeout=self.runner.timeout, retry=self.runner.retry,
            )
        except PreconditionFailed:
            return False  # an earlier attempt (or a retry of this very write) stored it
        return True
