"""Typed view of the ``X-CloudTasks-*`` request headers.

The headers are informational, never identity (anyone who can call the service can set them).
A header that is present but unusable (non-numeric or negative count, absurdly long name,
non-finite ETA) is treated as absent and its name is listed in ``invalid``: the task still
runs, and the per-task log line shows what was ignored.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

_PREFIX = b"x-cloudtasks-"
_MAX_NAME = 500  # task ids are at most 500 chars; the emulator sends full queue paths (< 300)
_MAX_REASON = 200
_MAX_COUNT = 1_000_000_000


@dataclass(frozen=True, slots=True)
class CloudTasksHeaders:
    """What Cloud Tasks says about this attempt (all ``None`` when called directly)."""

    queue_name: str | None = None
    task_name: str | None = None
    retry_count: int | None = None
    """Attempts before this one, counting 5xx answers and timeouts."""
    execution_count: int | None = None
    """Responses received for earlier attempts (5xx excluded)."""
    eta: float | None = None
    """Scheduled time, seconds since the epoch (fractional)."""
    previous_response: int | None = None
    """HTTP status of the previous attempt (retries only)."""
    retry_reason: str | None = None
    invalid: tuple[str, ...] = ()
    """Header names that were present but unusable, so treated as absent."""

    @property
    def idempotency_key(self) -> str | None:
        """Queue-qualified task name: task ids are unique per queue, not per project."""
        if self.task_name is None:
            return None
        return f"{self.queue_name or '-'}/{self.task_name}"

    @classmethod
    def from_raw(cls, raw_headers: Iterable[tuple[bytes, bytes]]) -> CloudTasksHeaders:
        """Parse ASGI raw headers (lower-case byte names), looking only at ``x-cloudtasks-*``."""
        found: dict[str, str] = {}
        for name, value in raw_headers:
            if name.startswith(_PREFIX):
                found[name[len(_PREFIX):].decode("latin-1")] = value.decode("latin-1")
        return cls._parse(found) if found else _EMPTY

    @classmethod
    def from_mapping(cls, headers: Mapping[str, str]) -> CloudTasksHeaders:
        """Parse a case-insensitive-by-convention mapping such as ``request.headers``."""
        found = {
            key.lower()[len("x-cloudtasks-"):]: value
            for key, value in headers.items()
            if key.lower().startswith("x-cloudtasks-")
        }
        return cls._parse(found) if found else _EMPTY

    @classmethod
    def _parse(cls, found: dict[str, str]) -> CloudTasksHeaders:
        invalid: list[str] = []

        def text(key: str, limit: int) -> str | None:
            value = found.get(key)
            if value is None:
                return None
            value = value.strip()
            if 0 < len(value) <= limit and value.isprintable():
                return value
            invalid.append("X-CloudTasks-" + _CANONICAL[key])
            return None

        def count(key: str, upper: int = _MAX_COUNT) -> int | None:
            value = found.get(key)
            if value is None:
                return None
            value = value.strip()
            if value.isascii() and value.isdigit() and len(value) <= 10 and int(value) <= upper:
                return int(value)
            invalid.append("X-CloudTasks-" + _CANONICAL[key])
            return None

        eta: float | None = None
        raw_eta = found.get("tasketa")
        if raw_eta is not None:
            try:
                eta = float(raw_eta)
            except ValueError:
                eta = None
            if eta is None or not math.isfinite(eta) or eta < 0:
                eta = None
                invalid.append("X-CloudTasks-TaskETA")

        return cls(
            queue_name=text("queuename", _MAX_NAME),
            task_name=text("taskname", _MAX_NAME),
            retry_count=count("taskretrycount"),
            execution_count=count("taskexecutioncount"),
            eta=eta,
            previous_response=count("taskpreviousresponse", upper=999),
            retry_reason=text("taskretryreason", _MAX_REASON),
            invalid=tuple(invalid),
        )


_CANONICAL = {
    "queuename": "QueueName",
    "taskname": "TaskName",
    "taskretrycount": "TaskRetryCount",
    "taskexecutioncount": "TaskExecutionCount",
    "tasketa": "TaskETA",
    "taskpreviousresponse": "TaskPreviousResponse",
    "taskretryreason": "TaskRetryReason",
}
_EMPTY = CloudTasksHeaders()
