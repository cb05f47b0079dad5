"""Cloud Tasks request headers: parsed into a typed object; junk is ignored, never fatal."""

from __future__ import annotations

import pytest

from app.worker.headers import CloudTasksHeaders


def raw(**headers: str) -> list[tuple[bytes, bytes]]:
    return [(name.lower().encode(), value.encode("latin-1")) for name, value in headers.items()]


def test_all_headers_parsed():
    parsed = CloudTasksHeaders.from_mapping(
        {
            "X-CloudTasks-QueueName": "emails",
            "X-CloudTasks-TaskName": "0123456789abcdef",
            "X-CloudTasks-TaskRetryCount": "3",
            "X-CloudTasks-TaskExecutionCount": "1",
            "X-CloudTasks-TaskETA": "1767225600.123456",
            "X-CloudTasks-TaskPreviousResponse": "503",
            "X-CloudTasks-TaskRetryReason": "Service unavailable",
            "Content-Type": "application/json",
        }
    )
    assert parsed == CloudTasksHeaders(
        queue_name="emails",
        task_name="0123456789abcdef",
        retry_count=3,
        execution_count=1,
        eta=1767225600.123456,
        previous_response=503,
        retry_reason="Service unavailable",
    )
    assert parsed.idempotency_key == "emails/0123456789abcdef"


def test_raw_asgi_headers_give_the_same_result():
    mapping = {"X-CloudTasks-TaskName": "t", "X-CloudTasks-TaskETA": "12.5", "X-CloudTasks-TaskRetryCount": "0"}
    assert CloudTasksHeaders.from_raw(raw(**mapping)) == CloudTasksHeaders.from_mapping(mapping)


def test_absent_headers_are_none():
    parsed = CloudTasksHeaders.from_raw(raw(Host="x"))
    assert parsed.task_name is None and parsed.retry_count is None and parsed.eta is None
    assert parsed.idempotency_key is None
    assert parsed.invalid == ()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("X-CloudTasks-TaskRetryCount", "-1"),
        ("X-CloudTasks-TaskRetryCount", "three"),
        ("X-CloudTasks-TaskRetryCount", "1.5"),
        ("X-CloudTasks-TaskRetryCount", "99999999999999999999"),
        ("X-CloudTasks-TaskRetryCount", "\u00b2"),
        ("X-CloudTasks-TaskExecutionCount", ""),
        ("X-CloudTasks-TaskETA", "nan"),
        ("X-CloudTasks-TaskETA", "inf"),
        ("X-CloudTasks-TaskETA", "-5"),
        ("X-CloudTasks-TaskETA", "yesterday"),
        ("X-CloudTasks-TaskPreviousResponse", "5000"),
        ("X-CloudTasks-TaskName", "x" * 501),
        ("X-CloudTasks-TaskName", "tab\there"),
        ("X-CloudTasks-TaskRetryReason", "r" * 201),
    ],
)
def test_absurd_values_are_treated_as_absent_and_listed(name, value):
    parsed = CloudTasksHeaders.from_mapping({name: value, "X-CloudTasks-QueueName": "q"})
    assert parsed.invalid == (name,)
    assert parsed.queue_name == "q"
    attribute = {
        "X-CloudTasks-TaskRetryCount": "retry_count",
        "X-CloudTasks-TaskExecutionCount": "execution_count",
        "X-CloudTasks-TaskETA": "eta",
        "X-CloudTasks-TaskPreviousResponse": "previous_response",
        "X-CloudTasks-TaskName": "task_name",
        "X-CloudTasks-TaskRetryReason": "retry_reason",
    }[name]
    assert getattr(parsed, attribute) is None


def test_whitespace_is_trimmed_and_eta_is_fractional():
    parsed = CloudTasksHeaders.from_mapping({"X-CloudTasks-TaskRetryCount": " 2 ", "X-CloudTasks-TaskETA": "1.25"})
    assert parsed.retry_count == 2
    assert parsed.eta == 1.25


def test_task_without_queue_gets_a_placeholder_queue_in_its_key():
    assert CloudTasksHeaders(task_name="t").idempotency_key == "-/t"


def test_emulator_full_queue_path_is_accepted():
    path = "projects/p/locations/us-central1/queues/default"
    assert CloudTasksHeaders.from_mapping({"X-CloudTasks-QueueName": path}).queue_name == path
