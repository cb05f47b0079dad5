"""Turn a task description into a Cloud Tasks ``Task`` message, validating it on the way.

Nothing here talks to the network: every error is raised before an RPC could be made.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO

from google.cloud import tasks_v2
from google.protobuf import duration_pb2, timestamp_pb2

from app.enqueue import defaults
from app.enqueue.errors import TaskSpecError
from app.enqueue.outputs import StackOutputs

#: Keys allowed on one JSONL line in bulk mode.
SPEC_KEYS = ("kind", "data", "task_id", "delay_seconds")


@dataclass(frozen=True)
class TaskSpec:
    """One task to create: the worker's ``{"kind", "data"}`` body plus optional id and delay."""

    kind: str
    data: Mapping[str, Any] = field(default_factory=dict)
    task_id: str | None = None
    delay_seconds: float = 0.0

    @classmethod
    def from_json(cls, obj: Any, where: str = "task") -> TaskSpec:
        """Build a spec from a decoded JSON object (one JSONL line)."""
        if not isinstance(obj, dict):
            raise TaskSpecError(f"{where}: expected a JSON object with keys {SPEC_KEYS}, got "
                                f"{type(obj).__name__}")
        unknown = sorted(set(obj) - set(SPEC_KEYS))
        if unknown:
            raise TaskSpecError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: "
                                f"{', '.join(SPEC_KEYS)}")
        if "kind" not in obj:
            raise TaskSpecError(f"{where}: missing required key 'kind'")
        return cls(
            kind=obj["kind"],
            data=obj.get("data", {}),
            task_id=obj.get("task_id"),
            delay_seconds=obj.get("delay_seconds", 0.0),
        )


@dataclass(frozen=True)
class BodyTaskSpec:
    """A task whose body is given as bytes, sent unchanged: replay re-sends a dead letter's body
    exactly as the worker received it (even one that is not JSON)."""

    body: bytes
    task_id: str | None = None
    delay_seconds: float = 0.0
    kind: str = "replay"
    """Only names the task in error messages."""


def read_jsonl(lines: Iterable[str], source: str = "input", spec: Any = None) -> Iterator[Any]:
    """Yield one spec per non-blank line; raise naming the line on invalid JSON.

    ``spec``: the class whose ``from_json`` builds each (default ``TaskSpec``; ``JobSpec``).
    """
    spec_cls = TaskSpec if spec is None else spec
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{source} line {number}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise TaskSpecError(f"{where}: invalid JSON: {exc.msg} at column {exc.colno}") from None
        yield spec_cls.from_json(obj, where)


def load_jsonl(stream: TextIO, source: str = "input", spec: Any = None) -> list[Any]:
    """Read a whole JSONL stream (validating every line before anything is sent)."""
    return list(read_jsonl(stream, source, spec))


def task_name_id(task_id: str, hash_prefix: bool = True) -> str:
    """Task id as sent: ``<sha256 prefix>-<task_id>`` so ids spread over Cloud Tasks' key space.

    The prefix is deterministic, so the same ``task_id`` always maps to the same task name and
    Cloud Tasks' de-duplication still applies.
    """
    if not isinstance(task_id, str) or not defaults.TASK_ID_RE.match(task_id):
        raise TaskSpecError(
            f"task id {task_id!r} is invalid: use 1 to 500 letters, digits, '-' or '_'"
        )
    if not hash_prefix:
        return task_id
    digest = hashlib.sha256(task_id.encode("utf-8")).hexdigest()[: defaults.HASH_PREFIX_LEN]
    full = f"{digest}-{task_id}"
    if len(full) > 500:
        raise TaskSpecError(
            f"task id {task_id[:40]!r}... is too long: with the "
            f"{defaults.HASH_PREFIX_LEN + 1}-character "
            f"hash prefix it must stay within 500 characters (got {len(full)})"
        )
    return full


def encode_body(kind: Any, data: Any) -> bytes:
    """The JSON body the worker expects: ``{"kind": str, "data": {...}}``, UTF-8."""
    if not isinstance(kind, str) or not kind.strip():
        raise TaskSpecError(f"kind must be a non-empty string, got {kind!r}")
    if not isinstance(data, Mapping):
        raise TaskSpecError(f"data must be a JSON object, got {type(data).__name__}")
    try:
        text = json.dumps({"kind": kind, "data": dict(data)}, ensure_ascii=False, allow_nan=False,
                          separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise TaskSpecError(f"data for kind {kind!r} is not JSON-serialisable: {exc}") from None
    return text.encode("utf-8")


def check_delay(delay: Any) -> float:
    """Validate a delay in seconds (0 to 30 days)."""
    if isinstance(delay, bool) or not isinstance(delay, (int, float)) or not math.isfinite(delay):
        raise TaskSpecError(f"delay must be a number of seconds, got {delay!r}")
    if not 0 <= delay <= defaults.MAX_DELAY_S:
        raise TaskSpecError(f"delay {delay!r} s is out of range: allowed 0 to "
                            f"{defaults.MAX_DELAY_S} (30 days)")
    return float(delay)


def build_task(
    spec: TaskSpec | BodyTaskSpec,
    outputs: StackOutputs,
    *,
    hash_prefix: bool = True,
    now: dt.datetime | None = None,
) -> tasks_v2.Task:
    """Build the HTTP POST task for ``spec``; raise ``TaskSpecError`` if it cannot be sent."""
    if isinstance(spec, BodyTaskSpec):
        if not isinstance(spec.body, bytes):
            raise TaskSpecError(f"body must be bytes, got {type(spec.body).__name__}")
        body = spec.body
    else:
        body = encode_body(spec.kind, spec.data)
    delay = check_delay(spec.delay_seconds)
    task = tasks_v2.Task(
        http_request=tasks_v2.HttpRequest(
            http_method=tasks_v2.HttpMethod.POST,
            url=outputs.task_url,
            # Cloud Tasks sets no Content-Type of its own.
            headers={"Content-Type": "application/json"},
            body=body,
            # Audience set explicitly: the default (the full task URL, with its path) fails
            # Cloud Run's audience check.
            oidc_token=tasks_v2.OidcToken(
                service_account_email=outputs.invoker_email,
                audience=outputs.audience,
            ),
        ),
        dispatch_deadline=duration_pb2.Duration(seconds=outputs.dispatch_deadline_seconds),
    )
    return finish_task(task, outputs.queue_path, spec.kind, spec.task_id, delay,
                       hash_prefix=hash_prefix, now=now)


def finish_task(
    task: tasks_v2.Task,
    queue_path: str,
    kind: str,
    task_id: str | None,
    delay: float,
    *,
    hash_prefix: bool = True,
    now: dt.datetime | None = None,
) -> tasks_v2.Task:
    """Name ``task`` (if ``task_id``), schedule it ``delay`` s ahead, check its size."""
    if task_id is not None:
        task.name = f"{queue_path}/tasks/{task_name_id(task_id, hash_prefix)}"
    if delay > 0:
        when = (now or dt.datetime.now(dt.UTC)) + dt.timedelta(seconds=delay)
        stamp = timestamp_pb2.Timestamp()
        stamp.FromDatetime(when)
        task.schedule_time = stamp
    size = tasks_v2.Task.pb(task).ByteSize()
    if size > defaults.MAX_TASK_BYTES:
        raise TaskSpecError(
            f"task of kind {kind!r} is {size} bytes; Cloud Tasks allows at most "
            f"{defaults.MAX_TASK_BYTES} bytes (1 MiB) per task: store large payloads elsewhere "
            "and pass a reference"
        )
    return task
