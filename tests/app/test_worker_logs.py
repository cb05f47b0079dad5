"""JSON log lines that Cloud Logging understands."""

from __future__ import annotations

import json
import logging
import sys

from app.worker.logs import JsonFormatter, task_fields, trace_fields


def record(level: int = logging.INFO, msg: str = "hello %s", args=("world",), **extra) -> logging.LogRecord:
    rec = logging.LogRecord("app.worker.test", level, __file__, 1, msg, args, None)
    for key, value in extra.items():
        setattr(rec, key, value)
    return rec


def test_one_json_object_with_severity_message_and_time():
    line = JsonFormatter().format(record(logging.WARNING))
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["severity"] == "WARNING"
    assert entry["message"] == "hello world"
    assert entry["time"].endswith("+00:00")
    assert entry["logger"] == "app.worker.test"


def test_extra_fields_and_task_context_are_merged():
    token = task_fields.set({"task": "t1", "queue": "q"})
    try:
        entry = json.loads(JsonFormatter().format(record(json_fields={"dead_letter": True, "kind": "echo"})))
    finally:
        task_fields.reset(token)
    assert entry["task"] == "t1" and entry["queue"] == "q"
    assert entry["dead_letter"] is True and entry["kind"] == "echo"


def test_exceptions_go_into_the_message_for_error_reporting():
    try:
        raise ValueError("boom")
    except ValueError:
        rec = record(logging.ERROR, exc_info=sys.exc_info())
    entry = json.loads(JsonFormatter().format(rec))
    assert entry["severity"] == "ERROR"
    assert entry["message"].startswith("hello world\nTraceback")
    assert "ValueError: boom" in entry["message"]


def test_non_json_values_are_stringified():
    entry = json.loads(JsonFormatter().format(record(json_fields={"obj": object()})))
    assert entry["obj"].startswith("<object object")


def test_trace_fields():
    assert trace_fields("105445aa7843bc8bf206b12000100000/12345;o=1", "proj") == {
        "logging.googleapis.com/trace": "projects/proj/traces/105445aa7843bc8bf206b12000100000",
        "logging.googleapis.com/spanId": format(12345, "016x"),
        "logging.googleapis.com/trace_sampled": True,
    }
    assert trace_fields("abc/1;o=0", "proj")["logging.googleapis.com/trace_sampled"] is False
    assert trace_fields("abc", "proj") == {"logging.googleapis.com/trace": "projects/proj/traces/abc"}
    assert trace_fields("abc/1;o=1", None) == {}
    assert trace_fields(None, "proj") == {}
    assert trace_fields("../../x/1", "proj") == {}
