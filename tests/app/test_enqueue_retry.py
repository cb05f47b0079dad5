"""Retry and timeout over real gRPC, against a scripted CreateTask server."""

from __future__ import annotations

import time
from concurrent import futures

import grpc
import pytest
from google.cloud import tasks_v2

from app.enqueue import TaskEnqueuer, TaskSpec
from app.enqueue.client import default_retry
from tests.plugins.emulator import outputs_for

QUEUE = "projects/p/locations/us-central1/queues/q"


class ScriptedCreateTask:
    """CreateTask answers: each item is a grpc.StatusCode to abort with, a float to sleep, or "ok"."""

    def __init__(self, script):
        self.script = list(script)
        self.attempts = 0

    def __call__(self, request_bytes, context):
        request = tasks_v2.CreateTaskRequest.deserialize(request_bytes)
        step = self.script[min(self.attempts, len(self.script) - 1)]
        self.attempts += 1
        if isinstance(step, grpc.StatusCode):
            context.abort(step, f"scripted {step.name}")
        if isinstance(step, float):
            time.sleep(step)
        task = request.task
        task.name = task.name or f"{request.parent}/tasks/{self.attempts}"
        return tasks_v2.Task.serialize(task)


@pytest.fixture
def scripted():
    servers = []

    def start(*script):
        handler = ScriptedCreateTask(script)
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(
            "google.cloud.tasks.v2.CloudTasks",
            {"CreateTask": grpc.unary_unary_rpc_method_handler(handler)},
        )])
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        servers.append(server)
        return handler, f"127.0.0.1:{port}"

    yield start
    for server in servers:
        server.stop(grace=0)


def enqueuer(address, **kwargs):
    return TaskEnqueuer(outputs_for("https://w.example.test", QUEUE), emulator=address, **kwargs)


def test_unavailable_is_retried_with_backoff_until_it_succeeds(scripted):
    handler, address = scripted(grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNAVAILABLE, "ok")
    with enqueuer(address) as enq:
        res = enq.enqueue("echo", {})
    assert res.status == "created" and handler.attempts == 3


@pytest.mark.parametrize("code", [grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.INVALID_ARGUMENT,
                                  grpc.StatusCode.NOT_FOUND])
def test_final_errors_are_not_retried(scripted, code):
    handler, address = scripted(code)
    with enqueuer(address) as enq:
        bulk = enq.enqueue_many([TaskSpec("echo", {})])
    assert handler.attempts == 1
    assert bulk.failed == 1 and bulk.results[0].error.startswith(code.name)


def test_already_exists_is_a_duplicate_not_an_error(scripted):
    handler, address = scripted(grpc.StatusCode.ALREADY_EXISTS)
    with enqueuer(address) as enq:
        res = enq.enqueue("echo", {}, task_id="t")
    assert res.status == "duplicate" and res.ok and handler.attempts == 1
    assert res.name.endswith("-t")


def test_timeout_per_attempt_and_bounded_retries(scripted):
    handler, address = scripted(1.0)  # every attempt is slower than the timeout
    with enqueuer(address, timeout=0.2, retry=default_retry(total_s=1.0)) as enq:
        started = time.monotonic()
        bulk = enq.enqueue_many([TaskSpec("echo", {})])
        elapsed = time.monotonic() - started
    assert bulk.failed == 1
    assert "DEADLINE_EXCEEDED" in bulk.results[0].error
    assert handler.attempts >= 2 and elapsed < 3


def test_default_retry_is_bounded_and_selective():
    from google.api_core import exceptions as gexc

    retry = default_retry()
    assert 0 < retry.timeout <= 60
    assert retry._predicate(gexc.ServiceUnavailable("x")) and retry._predicate(gexc.DeadlineExceeded("x"))
    assert not retry._predicate(gexc.AlreadyExists("x")) and not retry._predicate(gexc.PermissionDenied("x"))
