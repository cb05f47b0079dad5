"""Dead letters kept in Cloud Storage by the worker (in-process app, real client, local
emulator): what is stored, when (permanent failure, last allowed attempt), once per task name,
and a 503 when it cannot be stored, so nothing is lost."""

from __future__ import annotations

import asyncio
import threading

import pytest
from pydantic import BaseModel

from app.worker.dead_letters import object_name
from app.worker.dependencies import get_store
from app.worker.errors import PermanentError, TransientError
from app.worker.handlers import HandlerRegistry, TaskContext
from app.worker.headers import CloudTasksHeaders
from app.worker.idempotency import InMemoryIdempotencyStore
from app.worker.settings import Settings, SettingsError
from tests.plugins.worker import task_headers


class Job(BaseModel):
    id: str


@pytest.fixture
def runs() -> list[tuple[str, int]]:
    return []


@pytest.fixture
def registry(runs) -> HandlerRegistry:
    reg = HandlerRegistry()

    @reg.handler("doomed")
    async def doomed(payload: Job, ctx: TaskContext) -> None:
        runs.append(("doomed", ctx.retry_count))
        raise PermanentError("customer account was deleted")

    @reg.handler("flaky")
    async def flaky(payload: Job, ctx: TaskContext) -> None:
        runs.append(("flaky", ctx.retry_count))
        raise TransientError("database is restarting")

    return reg


@pytest.fixture
def make(make_worker, worker_settings, registry, storage_env, bucket_name):
    def build(**update):
        values = {"dead_letter_bucket": bucket_name, "queue_max_attempts": 3, **update}
        return make_worker(worker_settings.model_copy(update=values), registry=registry)

    return build


@pytest.fixture
def post(make_token):
    token = make_token()

    def send(worker, body=None, *, name="t-1", retry=0, content=None):
        headers = task_headers(token, name=name, queue="orders", **{"X-CloudTasks-TaskRetryCount": str(retry),
                                                                     "X-CloudTasks-TaskExecutionCount": str(retry)})
        if content is not None:
            return worker.post("/tasks", content=content, headers=headers)
        return worker.post("/tasks", json=body, headers=headers)

    return send


def stored(gcs_client, bucket_name):
    return list(gcs_client.list_blobs(bucket_name, prefix="dead-letters/"))


def test_permanent_failure_is_kept_whole_then_acknowledged(make, post, gcs_client, bucket_name, worker_logs):
    worker = make()
    response = post(worker, {"kind": "doomed", "data": {"id": "a"}}, name="order-7", retry=1)
    assert response.status_code == 200 and response.json()["status"] == "dead_letter"
    (blob,) = stored(gcs_client, bucket_name)
    assert blob.name == object_name(CloudTasksHeaders(queue_name="orders", task_name="order-7"))
    assert blob.download_as_bytes() == b'{"kind":"doomed","data":{"id":"a"}}'
    assert blob.content_type == "application/json"
    meta = blob.metadata
    assert meta["task"] == "order-7" and meta["queue"] == "orders" and meta["kind"] == "doomed"
    assert meta["cause"] == "permanent" and meta["reason"] == "customer account was deleted"
    assert meta["x-cloudtasks-taskretrycount"] == "1" and meta["x-cloudtasks-taskexecutioncount"] == "1"
    assert meta["max-attempts"] == "3" and meta["body-bytes"] == str(blob.size) and "dead-lettered-at" in meta
    (line,) = [r for r in worker_logs() if r.get("dead_letter")]
    assert line["severity"] == "ERROR" and line["dead_letter_kept"] == "stored"
    assert line["dead_letter_object"] == f"gs://{bucket_name}/{blob.name}"


def test_a_body_that_is_not_json_is_kept_as_bytes(make, post, gcs_client, bucket_name):
    response = post(make(), content=b"\xff\x00 not json", name="junk")
    assert response.json()["status"] == "dead_letter"
    (blob,) = stored(gcs_client, bucket_name)
    assert blob.download_as_bytes() == b"\xff\x00 not json"
    assert blob.content_type == "application/octet-stream"


def test_a_second_attempt_on_another_instance_stores_nothing_twice(make, post, gcs_client, bucket_name,
                                                                   worker_logs):
    # Two workers with their own in-memory stores: both run the handler, one object is kept.
    first, second = make(), make()
    assert post(first, {"kind": "doomed", "data": {"id": "a"}}, name="dup").json()["status"] == "dead_letter"
    before = stored(gcs_client, bucket_name)[0].generation
    assert post(second, {"kind": "doomed", "data": {"id": "a"}}, name="dup").json()["status"] == "dead_letter"
    (blob,) = stored(gcs_client, bucket_name)
    assert blob.generation == before
    kept = [r["dead_letter_kept"] for r in worker_logs() if r.get("dead_letter")]
    assert kept == ["stored", "already_stored"]


def test_transient_failure_is_retried_until_the_last_attempt_then_kept(make, post, gcs_client, bucket_name, runs):
    worker = make(queue_max_attempts=3)
    body = {"kind": "flaky", "data": {"id": "a"}}
    assert post(worker, body, name="f", retry=0).status_code == 503
    assert post(worker, body, name="f", retry=1).status_code == 503
    assert stored(gcs_client, bucket_name) == []
    last = post(worker, body, name="f", retry=2)  # attempt 3 of 3
    assert last.status_code == 200 and last.json()["status"] == "dead_letter"
    (blob,) = stored(gcs_client, bucket_name)
    assert blob.metadata["cause"] == "retries-exhausted"
    assert blob.metadata["reason"] == "retries exhausted: database is restarting"
    assert runs == [("flaky", 0), ("flaky", 1), ("flaky", 2)]
    assert post(worker, body, name="f", retry=3).json()["status"] == "duplicate"


def test_unknown_or_unlimited_attempts_never_end_a_transient_failure(make, post, gcs_client, bucket_name):
    for limit in (None, -1):
        worker = make(queue_max_attempts=limit)
        assert post(worker, {"kind": "flaky", "data": {"id": "a"}}, name=f"u{limit}", retry=500).status_code == 503
    assert stored(gcs_client, bucket_name) == []


def test_store_outage_answers_503_and_frees_the_name(make, post, runs, worker_logs):
    worker = make(dead_letter_bucket="no-such-bucket-here")
    body = {"kind": "doomed", "data": {"id": "a"}}
    response = post(worker, body, name="lost?", retry=0)
    assert response.status_code == 503 and response.json()["status"] == "retry"
    assert post(worker, body, name="lost?", retry=1).status_code == 503  # name released: handler ran again
    assert runs == [("doomed", 0), ("doomed", 1)]
    assert not [r for r in worker_logs() if r.get("dead_letter")]  # nothing acknowledged as dead-lettered
    failed = [r for r in worker_logs() if r.get("dead_letter_store_failed")]
    assert len(failed) == 2 and all("may drop" not in r["message"] for r in failed)
    post(worker, body, name="lost?", retry=2)  # the real last attempt says the task may be dropped
    assert "Cloud Tasks may drop this task" in [r for r in worker_logs() if r.get("dead_letter_store_failed")][-1][
        "message"]


def test_log_only_by_default_and_said_at_start_up(make_worker, worker_settings, worker_logs):
    make_worker(worker_settings)
    (line,) = [r for r in worker_logs() if "task_names" in r]
    assert line["severity"] == "WARNING"
    assert "in-memory store" in line["task_names"] and "logged only" in line["dead_letters"]
    assert "WORKER_QUEUE_MAX_ATTEMPTS unset" in line["last_attempt"]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("WORKER_DEAD_LETTER_BUCKET", "gs://bucket", "without gs://"),
        ("WORKER_DEAD_LETTER_BUCKET", "Upper-Case", "Cloud Storage bucket name"),
        ("WORKER_TASK_NAME_BUCKET", "ab", "Cloud Storage bucket name"),
        ("WORKER_TASK_NAME_BUCKET", "my-google-bucket", "google"),
        ("WORKER_QUEUE_MAX_ATTEMPTS", "0", "-1 (unlimited) or at least 1"),
        ("WORKER_QUEUE_MAX_ATTEMPTS", "-2", "greater than or equal to -1"),
        ("WORKER_QUEUE_MAX_RETRY_DURATION_SECONDS", "-1", "greater than or equal to 0"),
    ],
)
def test_bad_store_settings_are_refused_naming_the_variable(name, value, message):
    with pytest.raises(SettingsError) as error:
        Settings.from_env({"WORKER_AUTH": "disabled", name: value})
    assert name in str(error.value) and message in str(error.value) and repr(value) in str(error.value)


def test_store_settings_are_read_from_the_environment():
    settings = Settings.from_env({"WORKER_AUTH": "disabled", "WORKER_DEAD_LETTER_BUCKET": "p-dead-letters",
                                  "WORKER_TASK_NAME_BUCKET": "p.task.names", "WORKER_QUEUE_MAX_ATTEMPTS": "-1",
                                  "WORKER_QUEUE_MAX_RETRY_DURATION_SECONDS": "3600"})
    assert (settings.dead_letter_bucket, settings.task_name_bucket) == ("p-dead-letters", "p.task.names")
    assert (settings.queue_max_attempts, settings.queue_max_retry_duration_seconds) == (-1, 3600)


def test_shared_task_names_stop_a_redelivery_on_another_instance(make, post, runs, bucket_name, worker_logs):
    first, second = make(task_name_bucket=bucket_name), make(task_name_bucket=bucket_name)
    body = {"kind": "doomed", "data": {"id": "a"}}
    assert post(first, body, name="once").json()["status"] == "dead_letter"
    assert post(second, body, name="once").json()["status"] == "duplicate"
    assert runs == [("doomed", 0)]
    (line,) = [r for r in worker_logs() if "task_names" in r][-1:]
    assert line["severity"] == "INFO" and f"gs://{bucket_name}/task-names/" in line["task_names"]


def test_last_attempt_waits_for_the_holder_instead_of_ending_with_409(make, post, runs):
    """The holder releases the name (its attempt failed transiently): the last attempt then runs
    the task itself instead of answering 409, after which nobody would retry it."""
    store = InMemoryIdempotencyStore()
    asyncio.run(store.begin("orders/held"))  # another attempt holds the name
    worker = make(queue_max_attempts=2, last_attempt_wait_seconds=5)
    worker.app.dependency_overrides[get_store] = lambda: store
    assert post(worker, {"kind": "flaky", "data": {"id": "a"}}, name="held", retry=0).status_code == 409
    threading.Timer(0.5, lambda: asyncio.run(store.release("orders/held"))).start()
    response = post(worker, {"kind": "flaky", "data": {"id": "a"}}, name="held", retry=1)
    assert response.status_code == 200 and response.json()["status"] == "dead_letter"
    assert runs == [("flaky", 1)]
