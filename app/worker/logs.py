"""Structured logs for Cloud Logging: one JSON object per line on stdout.

Cloud Run's logging agent turns each line into an entry: ``severity`` sets the level,
``message`` the summary, ``logging.googleapis.com/trace`` ties the entry to the request's trace,
and every other key lands in ``jsonPayload``. The current task's name, queue and kind travel in a
context variable, so any log call made while handling a task (including in handlers) carries
them without passing a logger around. Extra fields go in ``extra={"json_fields": {...}}``.
"""

from __future__ import annotations

import contextvars
import logging
import sys
import traceback
from datetime import UTC, datetime
from typing import Any

import orjson

LOGGER_NAME = "app.worker"
TRACE_KEY = "logging.googleapis.com/trace"
SPAN_KEY = "logging.googleapis.com/spanId"
SAMPLED_KEY = "logging.googleapis.com/trace_sampled"

task_fields: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "task_fields", default=None
)
"""Fields of the task being handled, added to every record logged while it runs."""

_SEVERITY = {"WARN": "WARNING", "FATAL": "CRITICAL"}


class JsonFormatter(logging.Formatter):
    """Format a record as one Cloud Logging JSON line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "severity": _SEVERITY.get(record.levelname, record.levelname),
            "message": record.getMessage(),
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="microseconds"),
            "logger": record.name,
        }
        context = task_fields.get()
        if context:
            entry.update(context)
        extra = getattr(record, "json_fields", None)
        if extra:
            entry.update(extra)
        if record.exc_info:
            # Error Reporting picks up a stack trace found in the message.
            entry["message"] += (
                "\n" + "".join(traceback.format_exception(*record.exc_info)).rstrip()
            )
        return orjson.dumps(entry, default=str).decode()


class StdoutHandler(logging.StreamHandler):
    """Write to whatever ``sys.stdout`` is at emit time (so captured output works in tests)."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    @property
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, value) -> None:  # ignored, see property
        pass


def configure_logging(level: str = "INFO") -> logging.Logger:
    """Send ``app.worker`` logs (and uvicorn's own) as JSON lines; safe to call again."""
    # Records need no thread/process ids (the JSON has none): skip collecting them per record.
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logger = json_logger(LOGGER_NAME, level)
    for name in ("uvicorn", "uvicorn.error"):
        for uvicorn_handler in logging.getLogger(name).handlers:
            uvicorn_handler.setFormatter(JsonFormatter())
    return logger


def json_logger(name: str, level: str = "INFO") -> logging.Logger:
    """``name``'s logger writing JSON lines to stdout, once (safe to call again)."""
    logger = logging.getLogger(name)
    for handler in list(logger.handlers):
        if isinstance(handler, StdoutHandler):
            logger.removeHandler(handler)
    handler = StdoutHandler()
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    return logger


def trace_fields(header: str | None, project_id: str | None) -> dict[str, Any]:
    """Cloud Logging trace keys from ``X-Cloud-Trace-Context: TRACE/SPAN;o=1`` (needs a project)."""
    if not header or not project_id:
        return {}
    trace, _, rest = header.partition("/")
    trace = trace.strip()
    if not (0 < len(trace) <= 64 and trace.isascii() and trace.isalnum()):
        return {}
    fields: dict[str, Any] = {TRACE_KEY: f"projects/{project_id}/traces/{trace}"}
    span, _, options = rest.partition(";")
    # Length first: int() of a digit string over 4,300 digits raises ValueError (a 500 before auth).
    if len(span) <= 20 and span.isascii() and span.isdigit() and int(span) < 2**64:
        fields[SPAN_KEY] = format(
            int(span), "016x"
        )  # the header's span is decimal; Logging wants hex
    if options:
        fields[SAMPLED_KEY] = options.strip() == "o=1"
    return fields
