"""One Cloud Run job task: payload from ``TASK_PAYLOAD``, handler from the worker's registry.

``jobs.run`` (through a Cloud Tasks task the enqueuer created) starts an execution of
``task_count`` tasks; each runs ``python -m app.job`` with the override env. This module reads
the ``{"kind": ..., "data": ...}`` payload, validates ``data`` with the kind's model, runs the
handler with a :class:`~app.worker.handlers.TaskContext` whose ``job`` carries the task's index,
count, attempt and execution, logs one JSON summary line (the worker's format, see
:mod:`app.worker.logs`) and returns the exit status (docs/job.md):

=====  ===================  ===============================================================
exit   status               meaning
=====  ===================  ===============================================================
0      done                 the handler returned
1      failed               the handler raised (TransientError, PermanentError or a bug)
2      invalid_payload      TASK_PAYLOAD missing, not JSON, no kind, or data fails the model
3      unknown_kind         no handler registered for the payload's kind
4      bad_environment      CLOUD_RUN_TASK_* unusable, JOB_LOG_LEVEL invalid, or arguments given
143    terminated           SIGTERM (task timeout or cancelled execution)
=====  ===================  ===============================================================

Cloud Run retries a task that exits non-zero (up to the job's ``max_retries``) whatever the
code; 2 and 3 cannot succeed on a retry, so their lines say ``retryable: false``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from pydantic import ValidationError

from app.worker import kinds as _example_kinds  # noqa: F401 - registers the example kinds
from app.worker.errors import PermanentError, TransientError
from app.worker.handlers import HandlerRegistry, JobRun, TaskContext, registry
from app.worker.logs import configure_logging, json_logger, task_fields
from app.worker.processing import MAX_KIND_CHARS, MAX_REASON_CHARS, _summarise

LOGGER_NAME = "app.job"
logger = logging.getLogger(LOGGER_NAME)

PAYLOAD_ENV = "TASK_PAYLOAD"
LOG_LEVEL_ENV = "JOB_LOG_LEVEL"
INDEX_ENV, COUNT_ENV = "CLOUD_RUN_TASK_INDEX", "CLOUD_RUN_TASK_COUNT"
ATTEMPT_ENV = "CLOUD_RUN_TASK_ATTEMPT"
EXECUTION_ENV, JOB_ENV = "CLOUD_RUN_EXECUTION", "CLOUD_RUN_JOB"

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INVALID_PAYLOAD = 2
EXIT_UNKNOWN_KIND = 3
EXIT_BAD_ENVIRONMENT = 4
EXIT_TERMINATED = 128 + signal.SIGTERM

#: The payload logged with an invalid-payload line is cut to this many characters.
PAYLOAD_LOG_CHARS = 2048
#: A handler's result is logged (the job has no response to carry it) up to this size.
MAX_RESULT_LOG_BYTES = 16 * 1024
_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_MAX_DIGITS = 9

_MESSAGES = {
    "done": "job task done",
    "failed": "job task failed: the handler raised",
    "invalid_payload": "job task payload invalid: nothing ran",
    "unknown_kind": "job task kind unknown: nothing ran",
    "bad_environment": "job task environment unusable: nothing ran",
    "terminated": "job task terminated (SIGTERM): task timeout or cancelled execution",
}


class JobEnvironmentError(ValueError):
    """A ``CLOUD_RUN_TASK_*`` variable is not usable."""


def job_run_from_env(environ: Mapping[str, str]) -> JobRun:
    """The task's place in its execution, from Cloud Run's variables (index 0 of 1 if unset)."""
    index = _count(environ, INDEX_ENV, 0)
    count = _count(environ, COUNT_ENV, 1)
    attempt = _count(environ, ATTEMPT_ENV, 0)
    if count < 1:
        raise JobEnvironmentError(f"{COUNT_ENV} must be >= 1, got {count}")
    if index >= count:
        raise JobEnvironmentError(f"{INDEX_ENV} ({index}) must be below {COUNT_ENV} ({count})")
    return JobRun(task_index=index, task_count=count, attempt=attempt,
                  execution=environ.get(EXECUTION_ENV) or None, job=environ.get(JOB_ENV) or None)


def configure_job_logging(level: str = "INFO") -> logging.Logger:
    """JSON lines on stdout for ``app.job`` and (via the worker's setup) handlers' loggers."""
    configure_logging(level)
    return json_logger(logger.name, level)


def run_job_task(environ: Mapping[str, str] | None = None,
                 handlers: HandlerRegistry = registry) -> int:
    """Run the task ``environ`` describes (default: this process's); return the exit status.

    Logging must be set up first (:func:`configure_job_logging`; :func:`main` does it).
    """
    env = os.environ if environ is None else environ
    started = time.perf_counter()
    context: dict[str, Any] = {}
    task_fields.set(context)
    try:
        try:
            job = job_run_from_env(env)
        except JobEnvironmentError as exc:
            return _finish("bad_environment", EXIT_BAD_ENVIRONMENT, started, reason=str(exc))
        context.update(_job_fields(job))
        return _run(env.get(PAYLOAD_ENV), job, handlers, context, started)
    finally:
        task_fields.set(None)


def _run(raw: str | None, job: JobRun, handlers: HandlerRegistry, context: dict[str, Any],
         started: float) -> int:
    if raw is None:
        return _invalid(f"{PAYLOAD_ENV} is not set", None, started)
    try:
        task = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return _invalid(f"{PAYLOAD_ENV} is not JSON: {exc}", raw, started)
    if not isinstance(task, dict):
        return _invalid(f"{PAYLOAD_ENV} must be a JSON object", raw, started)
    kind = task.get("kind")
    if not isinstance(kind, str) or not kind:
        return _invalid(f"{PAYLOAD_ENV} has no 'kind' string", raw, started)
    handler = handlers.get(kind)
    context["kind"] = kind[:MAX_KIND_CHARS]
    if handler is None:
        return _finish("unknown_kind", EXIT_UNKNOWN_KIND, started, retryable=False,
                       reason=f"unknown kind {kind[:MAX_KIND_CHARS]!r}; registered: "
                              f"{', '.join(handlers.kinds) or 'none'}")
    try:
        payload = handler.parse(task.get("data", {}))
    except ValidationError as exc:
        return _invalid(f"invalid payload: {_summarise(exc)}", raw, started)
    try:
        result = asyncio.run(handler.run(payload, TaskContext.for_job(kind, job)))
    except TransientError as exc:
        return _finish("failed", EXIT_FAILED, started, reason=str(exc), error_type="transient")
    except PermanentError as exc:
        return _finish("failed", EXIT_FAILED, started, reason=str(exc), error_type="permanent",
                       retryable=False)
    except Exception as exc:  # noqa: BLE001 - a bug: logged with its traceback
        return _finish("failed", EXIT_FAILED, started, reason=f"unexpected {type(exc).__name__}",
                       error_type="unexpected", exc=exc)
    return _finish("done", EXIT_OK, started, **_result_fields(result))


def _invalid(reason: str, raw: str | None, started: float) -> int:
    fields: dict[str, Any] = {"payload_bytes": len(raw.encode("utf-8", "replace")) if raw else 0}
    if raw:
        fields["payload"] = raw[:PAYLOAD_LOG_CHARS]
        fields["payload_truncated"] = len(raw) > PAYLOAD_LOG_CHARS
    return _finish("invalid_payload", EXIT_INVALID_PAYLOAD, started, reason=reason,
                   retryable=False, **fields)


def _finish(status: str, code: int, started: float, *, exc: BaseException | None = None,
            **fields: Any) -> int:
    """Log the task's one summary line; return ``code``."""
    fields = {"status": status, "exit_code": code, **fields,
              "duration_ms": round((time.perf_counter() - started) * 1000, 3)}
    if isinstance(fields.get("reason"), str):
        fields["reason"] = fields["reason"][:MAX_REASON_CHARS]
    level = logging.INFO if code == EXIT_OK else logging.ERROR
    exc_info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    logger.log(level, _MESSAGES[status], exc_info=exc_info, extra={"json_fields": fields})
    return code


def _result_fields(result: Any) -> dict[str, Any]:
    if result is None:
        return {}
    try:
        encoded = orjson.dumps(result, default=str)
    except orjson.JSONEncodeError as exc:
        return {"result_error": f"result not JSON-encodable: {exc}"}
    if len(encoded) > MAX_RESULT_LOG_BYTES:
        return {"result_bytes": len(encoded), "result_truncated": True}
    return {"result": orjson.loads(encoded)}


def _job_fields(job: JobRun) -> dict[str, Any]:
    fields: dict[str, Any] = {"job": job.job, "execution": job.execution,
                              "task_index": job.task_index, "task_count": job.task_count,
                              "attempt": job.attempt}
    return {key: value for key, value in fields.items() if value is not None}


def _count(environ: Mapping[str, str], name: str, default: int) -> int:
    value = environ.get(name)
    if value is None or value == "":
        return default
    text = value.strip()
    if not (text.isascii() and text.isdigit() and len(text) <= _MAX_DIGITS):
        raise JobEnvironmentError(f"{name} must be a non-negative integer, got {value[:40]!r}")
    return int(text)


def _terminate(started: float) -> None:
    """SIGTERM: one summary line, then exit at once (Cloud Run kills the task soon after)."""
    _finish("terminated", EXIT_TERMINATED, started)
    sys.stdout.flush()
    os._exit(EXIT_TERMINATED)

USAGE = f"""usage: python -m app.job

Run one Cloud Run job task (docs/job.md). Takes no arguments; reads the environment:
  {PAYLOAD_ENV}            {{"kind": ..., "data": ...}} (the jobs.run override carries it)
  {INDEX_ENV}    this task's index (default 0)
  {COUNT_ENV}    tasks in the execution (default 1)
  {ATTEMPT_ENV}  retries of this task so far (default 0)
  {LOG_LEVEL_ENV}           DEBUG, INFO (default), WARNING, ERROR or CRITICAL
Exit: 0 done, 1 handler failed, 2 invalid payload, 3 unknown kind, 4 bad environment,
143 terminated.
"""


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m app.job``: set up logging and SIGTERM, run the task, return its exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args in (["-h"], ["--help"]):
        sys.stdout.write(USAGE)
        return EXIT_OK
    level = (os.environ.get(LOG_LEVEL_ENV) or "INFO").strip().upper()
    configure_job_logging(level if level in _LEVELS else "INFO")
    started = time.perf_counter()
    if level not in _LEVELS:
        return _finish("bad_environment", EXIT_BAD_ENVIRONMENT, started,
                       reason=f"{LOG_LEVEL_ENV} must be one of {', '.join(_LEVELS)}, "
                              f"got {level[:40]!r}")
    if args:
        return _finish("bad_environment", EXIT_BAD_ENVIRONMENT, started,
                       reason=f"python -m app.job takes no arguments, got {len(args)} "
                              "(an args override of the job?)")
    previous = signal.signal(signal.SIGTERM, lambda _signum, _frame: _terminate(started))
    try:
        return run_job_task()
    finally:
        signal.signal(signal.SIGTERM, previous)
