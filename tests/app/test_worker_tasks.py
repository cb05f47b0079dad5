"""Task outcomes over HTTP: done, duplicate, retry, dead letter, crash, size limit."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from app.worker.errors import PermanentError, RateLimitedError, TransientError
from app.worker.handlers import HandlerRegistry, TaskContext
from app.worker.idempotency import BeginResult, InMemoryIdempotencyStore
from app.worker.settings import Settings
from tests.plugins.worker import task_headers


class Job(BaseModel):
    id: str
    fail_times: int = 0


class Recorder:
    """A registry whose handlers record every run."""

    def __init__(self) -> None:
        self.runs: list[tuple[str, str | None, int]] = []
        self.registry = HandlerRegistry()
        attempts: dict[str, int] = {}

        @self.registry.handler("count")
        async def count(payload: Job, ctx: TaskContext) -> dict:
            self.runs.append(("count", ctx.task_name, ctx.retry_count))
            return {"id": payload.id}

        @self.registry.handler("flaky")
        async def flaky(payload: Job, ctx: TaskContext) -> dict:
            attempts[payload.id] = attempts.get(payload.id, 0) + 1
            self.runs.append(("flaky", ctx.task_name, ctx.retry_count))
            if attempts[payload.id] <= payload.fail_times:
                raise TransientError("database is restarting")
            return {"attempts": attempts[payload.id]}

        @self.registry.handler("throttled")
        async def throttled(payload: Job, ctx: TaskContext) -> None:
            raise RateLimitedError("quota exceeded", retry_after=30.2)

        @self.registry.handler("doomed")
        async def doomed(payload: Job, ctx: TaskContext) -> None:
            self.runs.append(("doomed", ctx.task_name, ctx.retry_count))
            raise PermanentError("customer account was deleted")

        @self.registry.handler("buggy")
        async def buggy(payload: Job, ctx: TaskContext) -> None:
            self.runs.append(("buggy", ctx.task_name, ctx.retry_count))
            if len([r for r in self.runs if r[0] == "buggy"]) == 1:
                raise KeyError("oops")

        @self.registry.handler("blocking")
        def blocking(payload: Job, ctx: TaskContext) -> dict:
            import threading

            return {"thread": threading.current_thread().name}


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def store() -> InMemoryIdempotencyStore:
    return InMemoryIdempotencyStore()


@pytest.fixture
def worker(make_worker, worker_settings, recorder, store):
    return make_worker(worker_settings, registry=recorder.registry, store=store)


@pytest.fixture
def send(worker, make_token):
    token = make_token()

    def send(body=None, name="task-1", queue="default", content=None, **headers):
        all_headers = task_headers(token, name=name, queue=queue, **headers)
        if content is not None:
            return worker.post("/tasks", content=content, headers=all_headers)
        return worker.post("/tasks", json=body, headers=all_headers)

    return send


def test_same_task_name_twice_runs_once(send, recorder):
    first = send({"kind": "count", "data": {"id": "a"}}, name="order-42")
    second = send({"kind": "count", "data": {"id": "a"}}, name="order-42")
    assert first.status_code == second.status_code == 200
    assert first.json()["status"] == "done"
    assert second.json() == {"status": "duplicate", "task": "order-42", "kind": "count"}
    assert recorder.runs == [("count", "order-42", 0)]


def test_same_task_name_in_another_queue_is_another_task(send, recorder):
    send({"kind": "count", "data": {"id": "a"}}, name="t", queue="emails")
    send({"kind": "count", "data": {"id": "a"}}, name="t", queue="images")
    assert len(recorder.runs) == 2


def test_without_task_name_every_request_runs(send, recorder):
    send({"kind": "count", "data": {"id": "a"}}, name=None)
    send({"kind": "count", "data": {"id": "a"}}, name=None)
    assert len(recorder.runs) == 2


def test_transient_failure_is_503_with_retry_after_then_succeeds(send, recorder, worker_logs):
    body = {"kind": "flaky", "data": {"id": "x", "fail_times": 1}}
    first = send(body, name="flaky-1")
    assert first.status_code == 503
    assert first.headers["Retry-After"] == "7"
    assert first.json()["status"] == "retry"
    # Cloud Tasks retries the same task name; the claim was released so it runs again.
    second = send(body, name="flaky-1", **{"X-CloudTasks-TaskRetryCount": "1", "X-CloudTasks-TaskPreviousResponse": "503"})
    assert second.status_code == 200
    assert second.json()["result"] == {"attempts": 2}
    assert [r[2] for r in recorder.runs] == [0, 1]
    third = send(body, name="flaky-1")
    assert third.json()["status"] == "duplicate"
    warning = [r for r in worker_logs() if r.get("status") == "retry"][0]
    assert warning["severity"] == "WARNING"
    assert warning["task"] == "flaky-1"
    assert warning["http_status"] == 503


def test_rate_limited_is_429_with_handler_retry_after(send):
    response = send({"kind": "throttled", "data": {"id": "x"}})
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "31"  # rounded up


def test_task_held_by_another_attempt_is_409(send, store, recorder):
    import asyncio

    assert asyncio.run(store.begin("default/busy")) is BeginResult.STARTED
    response = send({"kind": "count", "data": {"id": "a"}}, name="busy")
    assert response.status_code == 409
    assert response.headers["Retry-After"] == "7"
    assert recorder.runs == []


@pytest.mark.parametrize(
    ("body", "content", "reason"),
    [
        (None, b"this is not json", "body is not JSON"),
        (None, b"", "body is not JSON"),
        ([1, 2, 3], None, "task must be a JSON object"),
        ({"data": {}}, None, "task has no 'kind' string"),
        ({"kind": 7, "data": {}}, None, "task has no 'kind' string"),
        ({"kind": "launch_rockets", "data": {}}, None, "unknown kind 'launch_rockets'"),
        ({"kind": "count", "data": {"id": 5}}, None, "invalid payload: id: Input should be a valid string"),
        ({"kind": "count", "data": "nope"}, None, "invalid payload"),
        ({"kind": "doomed", "data": {"id": "x"}}, None, "customer account was deleted"),
    ],
    ids=["not-json", "empty", "array", "no-kind", "kind-not-string", "unknown-kind", "invalid-payload",
         "data-not-object", "PermanentError"],
)
def test_permanent_failures_are_acknowledged_and_dead_lettered(send, worker_logs, body, content, reason):
    response = send(body, name="bad-task", content=content)
    assert response.status_code == 200
    assert response.json()["status"] == "dead_letter"
    assert reason in response.json()["reason"]
    records = [r for r in worker_logs() if r.get("dead_letter")]
    assert len(records) == 1
    record = records[0]
    assert record["severity"] == "ERROR"
    assert record["dead_letter"] is True
    assert record["task"] == "bad-task"
    assert record["queue"] == "default"
    assert reason in record["reason"]
    assert "body" in record and "body_bytes" in record
    if isinstance(body, dict) and isinstance(body.get("kind"), str):
        assert record["kind"] == body["kind"]


def test_permanent_error_is_not_run_again(send, recorder):
    send({"kind": "doomed", "data": {"id": "x"}}, name="d")
    assert send({"kind": "doomed", "data": {"id": "x"}}, name="d").json()["status"] == "duplicate"
    assert len(recorder.runs) == 1


def test_dead_letter_body_excerpt_is_bounded(make_worker, worker_settings, recorder, make_token, worker_logs):
    worker = make_worker(worker_settings.model_copy(update={"dead_letter_body_bytes": 10}))
    worker.post("/tasks", content=b"x" * 500, headers=task_headers(make_token()))
    record = [r for r in worker_logs() if r.get("dead_letter")][0]
    assert record["body"] == "x" * 10
    assert record["body_truncated"] is True
    assert record["body_bytes"] == 500


def test_unexpected_exception_is_500_logged_and_retried(send, recorder, worker_logs):
    body = {"kind": "buggy", "data": {"id": "x"}}
    first = send(body, name="bug")
    assert first.status_code == 500
    assert first.json()["status"] == "error"
    error = [r for r in worker_logs() if r.get("status") == "error"][0]
    assert error["severity"] == "ERROR"
    assert "KeyError" in error["message"] and "Traceback" in error["message"]
    second = send(body, name="bug")
    assert second.status_code == 200
    assert len(recorder.runs) == 2


def test_sync_handler_runs_in_a_worker_thread(send):
    response = send({"kind": "blocking", "data": {"id": "x"}})
    assert response.status_code == 200
    assert response.json()["result"]["thread"] != "MainThread"


def test_body_over_the_limit_is_413(make_worker, worker_settings, recorder, make_token):
    worker = make_worker(worker_settings.model_copy(update={"max_body_bytes": 100}), registry=recorder.registry)
    headers = task_headers(make_token())
    ok = worker.post("/tasks", json={"kind": "count", "data": {"id": "a" * 50}}, headers=headers)
    assert ok.status_code == 200
    big = {"kind": "count", "data": {"id": "a" * 100}}
    too_big = worker.post("/tasks", json=big, headers=task_headers(make_token(), name="big"))
    assert too_big.status_code == 413
    assert recorder.runs == [("count", "task-1", 0)]


def test_streamed_body_over_the_limit_is_413(make_worker, worker_settings, recorder, make_token):
    worker = make_worker(worker_settings.model_copy(update={"max_body_bytes": 100}), registry=recorder.registry)

    def chunks():
        for _ in range(10):
            yield b"x" * 50

    response = worker.post("/tasks", content=chunks(), headers=task_headers(make_token()))
    assert response.status_code == 413
    assert recorder.runs == []


def test_default_limit_is_cloud_tasks_max_task_size():
    assert Settings(auth="disabled").max_body_bytes == 1024 * 1024


def test_example_kinds(make_worker):
    worker = make_worker(Settings(auth="disabled"))

    def run(kind, data):
        return worker.post("/tasks", json={"kind": kind, "data": data}, headers=task_headers(name=None)).json()

    assert run("echo", {"anything": [1, 2]})["result"] == {"anything": [1, 2]}
    email = run("send_email", {"to": ["ada@example.com"], "subject": "Hello", "body": "Hi"})
    assert email["status"] == "done" and email["result"]["recipients"] == 1
    assert run("send_email", {"to": [], "subject": "Hello"})["status"] == "dead_letter"
    assert run("send_email", {"to": ["ada@example.com"]})["status"] == "dead_letter"  # no subject
    assert run("send_email", {"to": ["not-an-address"], "subject": "x"})["status"] == "dead_letter"
    assert run("send_email", {"to": ["a@b.com"], "subject": "x\r\nBcc: all@b.com"})["status"] == "dead_letter"
    assert run("send_email", {"to": ["bob@mail.invalid"], "subject": "x"})["status"] == "dead_letter"
    image = run("resize_image", {"source": "gs://bucket/cat.png", "width": 64, "height": 64, "format": "webp"})
    assert image["result"] == {"output": "gs://bucket/cat-64x64.webp"}
    assert run("resize_image", {"source": "file:///etc/passwd", "width": 1, "height": 1})["status"] == "dead_letter"
    assert run("resize_image", {"source": "gs://b/c.png", "width": 0, "height": 1})["status"] == "dead_letter"


def test_auth_disabled_runs_tasks_without_token_and_warns(make_worker, worker_logs):
    worker = make_worker(Settings(auth="disabled"))
    response = worker.post("/tasks", json={"kind": "echo", "data": {}}, headers=task_headers(None))
    assert response.status_code == 200
    warnings = [r for r in worker_logs() if r["severity"] == "WARNING" and "WORKER_AUTH=disabled" in r["message"]]
    assert len(warnings) == 1


def test_task_log_line_carries_task_queue_kind_and_trace(send, worker_logs):
    send(
        {"kind": "count", "data": {"id": "a"}},
        name="traced",
        queue="emails",
        **{
            "X-Cloud-Trace-Context": "105445aa7843bc8bf206b12000100000/1;o=1",
            "X-CloudTasks-TaskExecutionCount": "2",
            "X-CloudTasks-TaskRetryCount": "-3",
        },
    )
    record = [r for r in worker_logs() if r.get("status") == "done"][0]
    assert record["severity"] == "INFO"
    assert record["message"] == "task done"
    assert record["task"] == "traced"
    assert record["queue"] == "emails"
    assert record["kind"] == "count"
    assert record["logging.googleapis.com/trace"] == "projects/test-project/traces/105445aa7843bc8bf206b12000100000"
    assert record["logging.googleapis.com/spanId"] == "0000000000000001"
    assert record["logging.googleapis.com/trace_sampled"] is True
    assert record["execution_count"] == 2
    assert "retry_count" not in record  # a negative count is ignored...
    assert record["ignored_headers"] == ["X-CloudTasks-TaskRetryCount"]  # ...and reported
    assert isinstance(record["duration_ms"], float)


def test_no_trace_without_project(make_worker, worker_logs):
    worker = make_worker(Settings(auth="disabled"))
    worker.post(
        "/tasks",
        json={"kind": "echo", "data": {}},
        headers=task_headers(None, **{"X-Cloud-Trace-Context": "105445aa7843bc8bf206b12000100000/1;o=1"}),
    )
    record = [r for r in worker_logs() if r.get("status") == "done"][0]
    assert "logging.googleapis.com/trace" not in record


def test_healthz_needs_no_token(worker):
    for path in ("/healthz", "/health"):
        response = worker.get(path)
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}


def test_only_post_is_allowed_on_tasks(worker):
    assert worker.get("/tasks").status_code == 405
