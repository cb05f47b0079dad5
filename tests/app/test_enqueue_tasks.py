"""Building the Task message: everything checked before any RPC."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io

import pytest
from google.cloud import tasks_v2

from app.enqueue import StackOutputs, TaskSpec, TaskSpecError
from app.enqueue.tasks import build_task, load_jsonl, task_name_id

OUT = StackOutputs(
    service_url="https://w-abc-uc.a.run.app/",
    audience="https://custom-audience.example",
    queue_path="projects/p/locations/us-central1/queues/q",
    invoker_email="inv@p.iam.gserviceaccount.com",
    dispatch_deadline_seconds=900,
    stack="dev",
)


def test_http_post_with_json_body_oidc_and_deadline():
    task = build_task(TaskSpec("echo", {"msg": "hé"}), OUT)
    req = task.http_request
    assert req.http_method == tasks_v2.HttpMethod.POST
    assert req.url == "https://w-abc-uc.a.run.app/tasks"
    assert dict(req.headers) == {"Content-Type": "application/json"}
    assert req.body == '{"kind":"echo","data":{"msg":"hé"}}'.encode()
    # The audience comes from the outputs, never defaulted to the task URL.
    assert req.oidc_token.audience == "https://custom-audience.example"
    assert req.oidc_token.service_account_email == "inv@p.iam.gserviceaccount.com"
    assert task.dispatch_deadline == dt.timedelta(seconds=900)
    assert not task.name and task.schedule_time is None


def test_url_is_the_outputs_task_url_with_its_own_path():
    out = dataclasses.replace(OUT, task_url="https://w-abc-uc.a.run.app/v2/work/tasks")
    url = build_task(TaskSpec("echo", {}), out).http_request.url
    assert url == "https://w-abc-uc.a.run.app/v2/work/tasks"


def test_task_id_gets_a_deterministic_hash_prefix():
    a = build_task(TaskSpec("echo", {}, task_id="order-42"), OUT)
    b = build_task(TaskSpec("echo", {"other": 1}, task_id="order-42"), OUT)
    assert a.name == b.name
    prefix, _, rest = a.name.rsplit("/", 1)[-1].partition("-")
    assert rest == "order-42" and len(prefix) == 8 and int(prefix, 16) >= 0
    assert a.name.startswith(OUT.queue_path + "/tasks/")
    assert task_name_id("order-42", hash_prefix=False) == "order-42"
    # Sequential ids do not share a prefix once hashed.
    assert task_name_id("job-1")[:8] != task_name_id("job-2")[:8]


def test_delay_sets_schedule_time():
    now = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    task = build_task(TaskSpec("echo", {}, delay_seconds=90.5), OUT, now=now)
    assert task.schedule_time == now + dt.timedelta(seconds=90.5)


@pytest.mark.parametrize("spec, message", [
    (TaskSpec("", {}), r"kind must be a non-empty string"),
    (TaskSpec(3, {}), r"kind must be a non-empty string"),  # type: ignore[arg-type]
    (TaskSpec("echo", [1, 2]), r"data must be a JSON object, got list"),  # type: ignore[arg-type]
    (TaskSpec("echo", {"x": float("nan")}), r"not JSON-serialisable"),
    (TaskSpec("echo", {"x": object()}), r"not JSON-serialisable"),
    (TaskSpec("echo", {}, task_id="has space"), r"task id 'has space' is invalid"),
    (TaskSpec("echo", {}, task_id="a/b"), r"invalid: use 1 to 500 letters"),
    (TaskSpec("echo", {}, task_id=""), r"invalid"),
    (TaskSpec("echo", {}, task_id="x" * 495), r"too long"),
    (TaskSpec("echo", {}, delay_seconds=-1), r"delay -1 s is out of range"),
    (TaskSpec("echo", {}, delay_seconds=31 * 86400), r"out of range: allowed 0 to 2592000"),
    (TaskSpec("echo", {}, delay_seconds="soon"), r"delay must be a number"),  # type: ignore[arg-type]
])
def test_invalid_specs(spec, message):
    with pytest.raises(TaskSpecError, match=message):
        build_task(spec, OUT)


def test_one_mib_limit_applies_to_the_whole_task():
    overhead = tasks_v2.Task.pb(build_task(TaskSpec("echo", {"b": ""}), OUT)).ByteSize()
    fits = 1024 * 1024 - overhead - 8  # room for the length prefix growing
    build_task(TaskSpec("echo", {"b": "x" * fits}), OUT)
    with pytest.raises(TaskSpecError, match=r"is 10\d{5} bytes; Cloud Tasks allows at most 1048576"):
        build_task(TaskSpec("echo", {"b": "x" * (1024 * 1024)}), OUT)


def test_jsonl_lines_are_validated_with_their_line_number():
    specs = load_jsonl(io.StringIO('{"kind": "echo"}\n\n{"kind": "x", "data": {"a": 1}, "task_id": "t", '
                                   '"delay_seconds": 5}\n'))
    assert specs == [TaskSpec("echo"), TaskSpec("x", {"a": 1}, "t", 5)]
    with pytest.raises(TaskSpecError, match=r"in line 3: invalid JSON"):
        load_jsonl(io.StringIO('{"kind": "echo"}\n\n{"kind": \n'), "in")
    with pytest.raises(TaskSpecError, match=r"line 1: unknown key\(s\) payload; allowed: kind, data"):
        load_jsonl(io.StringIO('{"kind": "echo", "payload": 1}'))
    with pytest.raises(TaskSpecError, match=r"line 1: missing required key 'kind'"):
        load_jsonl(io.StringIO('{"data": {}}'))
    with pytest.raises(TaskSpecError, match=r"line 1: expected a JSON object"):
        load_jsonl(io.StringIO("[1]"))
