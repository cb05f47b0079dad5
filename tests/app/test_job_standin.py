"""The local jobs.run stand-in (app/jobs_standin.py): the RunJobRequest checks, the answer, the
N task processes with their env, timeouts, and that closing it stops every child."""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request

import pytest

from app.jobs_standin import JobsStandin, RequestError, parse_run_request
from support.processes import live_children

JOB = "projects/p/locations/us-central1/jobs/j"
PAYLOAD = json.dumps({"kind": "echo", "data": {"n": 1}})
GOOD = {"overrides": {
    "containerOverrides": [{"env": [{"name": "TASK_PAYLOAD", "value": PAYLOAD}]}],
    "taskCount": 2, "timeout": "30s"}}
#: A task that prints its CLOUD_RUN_* and TASK_PAYLOAD env as one JSON line, and its args.
ENV_DUMP = (sys.executable, "-c",
            "import json, os, sys; print(json.dumps({'env': {k: v for k, v in os.environ.items() "
            "if k.startswith('CLOUD_RUN_') or k in ('TASK_PAYLOAD', 'BASE')}, "
            "'args': sys.argv[1:]}))")


def parse(body, content_type="application/json", container=None):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return parse_run_request(JOB, raw, content_type, container)


def post(url: str, body, content_type: str = "application/json") -> tuple[int, dict]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url, data=raw, method="POST",
                                     headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


# --- the request checks, as the API answers them ---

def test_a_valid_request_and_what_it_overrides():
    request = parse(GOOD)
    assert request.env == {"TASK_PAYLOAD": PAYLOAD}
    assert (request.task_count, request.timeout_s, request.args, request.validate_only) == (
        2, 30.0, None, False)


def test_proto_field_names_are_accepted_too_and_null_is_unset():
    request = parse({"overrides": {"container_overrides": [{"env": [{"name": "A", "value": "1"}],
                                                            "clear_args": True}],
                                   "task_count": "3", "timeout": "1.5s"},
                     "validate_only": True, "etag": None})
    assert (request.env, request.args, request.task_count, request.timeout_s) == (
        {"A": "1"}, [], 3, 1.5)
    assert request.validate_only
    assert parse({"overrides": {"taskCount": 0}}).task_count is None  # proto3: 0 is unset


@pytest.mark.parametrize("body, message", [
    ({"override": {}}, 'Unknown name "override": Cannot find field.'),
    ({"overrides": {"taskcount": 2}}, 'Unknown name "taskcount" at \'overrides\''),
    ({"overrides": {"containerOverrides": [{"environment": []}]}},
     "Unknown name \"environment\" at 'overrides.container_overrides[0]'"),
    ({"overrides": {"containerOverrides": [{"env": [{"name": "A", "valu": "1"}]}]}},
     "Unknown name \"valu\" at 'overrides.container_overrides[0].env[0]'"),
    ({"overrides": {"taskCount": -1}}, "task_count must be 1 to 10000"),
    ({"overrides": {"taskCount": 10001}}, "task_count must be 1 to 10000"),
    ({"overrides": {"taskCount": "two"}}, "(TYPE_INT32)"),
    ({"overrides": {"taskCount": 1.5}}, "(TYPE_INT32)"),
    ({"overrides": {"timeout": 600}}, "google.protobuf.Duration"),
    ({"overrides": {"timeout": "10m"}}, "google.protobuf.Duration"),
    ({"overrides": {"timeout": "0s"}}, "timeout must be 1s to 604800s"),
    ({"overrides": {"timeout": "604801s"}}, "timeout must be 1s to 604800s"),
    ({"overrides": {"containerOverrides": [{"env": [{"value": "x"}]}]}}, "env[0].name is required"),
    ({"overrides": {"containerOverrides": [{"env": [{"name": "A", "value": 1}]}]}},
     "(TYPE_STRING)"),
    ({"overrides": {"containerOverrides": [{"env": [{"name": "CLOUD_RUN_TASK_INDEX",
                                                      "value": "3"}]}]}}, "is reserved"),
    ({"overrides": {"containerOverrides": [{"env": [{"name": "A", "value": "x" * 32769}]}]}},
     "over 32768 bytes"),
    ({"overrides": {"containerOverrides": [{"env": [
        {"name": "A", "value": "x", "valueSource": {"secretKeyRef": {"secret": "s"}}}]}]}},
     "value and value_source are one of"),
    ({"overrides": {"containerOverrides": [{}, {}]}}, "has 2 entries; the job has one container"),
    ({"overrides": {"containerOverrides": {"env": []}}}, "expected a list"),
    ({"overrides": "all"}, "Starting an object on a scalar field"),
    ({"name": "projects/p/locations/us-central1/jobs/other"}, "differs from the path's"),
    ({"validateOnly": "yes"}, "(TYPE_BOOL)"),
    ({"overrides": {"taskCount": 1}, "overrides ": {}}, 'Unknown name "overrides "'),
    ([GOOD], "Root element must be a message"),
    (b"{not json", "Invalid JSON payload received."),
])
def test_bad_requests_are_400_invalid_argument(body, message):
    with pytest.raises(RequestError) as info:
        parse(body)
    assert (info.value.code, info.value.status) == (400, "INVALID_ARGUMENT")
    assert message in info.value.message


def test_content_type_container_name_and_secrets():
    with pytest.raises(RequestError, match="Content-Type: application/json"):
        parse(GOOD, content_type="text/plain")
    assert parse(GOOD, content_type="application/json; charset=utf-8").task_count == 2
    named = {"overrides": {"containerOverrides": [{"name": "worker", "env": []}]}}
    assert parse(named, container="worker").env == {}
    with pytest.raises(RequestError, match="the job has no such container"):
        parse(named, container="main")
    secret = {"overrides": {"containerOverrides": [{"env": [
        {"name": "S", "valueSource": {"secretKeyRef": {"secret": "s", "version": "1"}}}]}]}}
    with pytest.raises(RequestError) as info:
        parse(secret)
    assert (info.value.code, info.value.status) == (501, "UNIMPLEMENTED")


# --- the endpoint and the executions ---

@pytest.fixture
def no_leftovers():
    before = live_children()
    yield
    assert live_children() == before, "a child process outlived the test"


def test_answers_an_operation_at_once_and_runs_n_tasks_with_their_env(no_leftovers):
    with JobsStandin(command=ENV_DUMP, task_count=1, env={"BASE": "template"}) as standin:
        started = time.monotonic()
        status, op = post(standin.run_url("p", "us-central1", "j"), GOOD)
        assert status == 200 and time.monotonic() - started < 1
        assert op["done"] is False
        assert op["name"].startswith("projects/p/locations/us-central1/operations/")
        meta = op["metadata"]
        assert meta["@type"] == "type.googleapis.com/google.cloud.run.v2.Execution"
        assert meta["name"].startswith(f"{JOB}/executions/j-") and meta["taskCount"] == 2
        (execution,) = standin.wait_for_executions(1, timeout=5)
        assert execution.wait(timeout=15) and execution.succeeded
        assert execution.name == meta["name"] and execution.exit_codes == [0, 0]
        envs = [task.records()[0]["env"] for task in execution.tasks]
    assert envs == [{"TASK_PAYLOAD": PAYLOAD, "BASE": "template", "CLOUD_RUN_JOB": "j",
                     "CLOUD_RUN_EXECUTION": execution.short_name, "CLOUD_RUN_TASK_INDEX": str(i),
                     "CLOUD_RUN_TASK_COUNT": "2", "CLOUD_RUN_TASK_ATTEMPT": "0"} for i in range(2)]


def test_the_jobs_defaults_apply_unless_overridden_and_args_replace(no_leftovers):
    with JobsStandin(command=ENV_DUMP, task_count=3, args=["--from-template"]) as standin:
        url = standin.run_url("p", "us-central1", "j")
        assert post(url, {})[0] == 200
        assert post(url, {"overrides": {"containerOverrides": [{"args": ["a", "b"]}]}})[0] == 200
        assert post(url, {"overrides": {"containerOverrides": [{"clearArgs": True}]}})[0] == 200
        runs = standin.wait_for_executions(3, timeout=5)
        assert all(run.wait(timeout=15) for run in runs)
    assert [run.task_count for run in runs] == [3, 3, 3]
    args = [run.tasks[0].records()[0]["args"] for run in runs]
    assert args == [["--from-template"], ["a", "b"], []]


def test_refusals_unknown_jobs_and_validate_only_start_nothing(no_leftovers):
    with JobsStandin(command=ENV_DUMP, jobs=[JOB]) as standin:
        status, error = post(standin.run_url("p", "us-central1", "j"), {"overrides": {"x": 1}})
        assert status == 400 and error["error"]["status"] == "INVALID_ARGUMENT"
        status, error = post(standin.run_url("p", "us-central1", "nope"), GOOD)
        assert (status, error["error"]["status"]) == (404, "NOT_FOUND")
        assert post(standin.url + "/v1/namespaces/p/jobs/j:run", GOOD)[0] == 404
        validate_only = {**GOOD, "validateOnly": True}
        assert post(standin.run_url("p", "us-central1", "j"), validate_only)[0] == 200
        assert standin.executions == []
        assert [a.status for a in standin.answers] == [400, 404, 404, 200]
        with pytest.raises(TimeoutError, match="refused"):
            standin.wait_for_executions(1, timeout=0.2)


def test_a_task_over_its_timeout_is_stopped_and_parallelism_is_honoured(no_leftovers):
    sleeper = (sys.executable, "-c", "import time; print('started', flush=True); time.sleep(30)")
    with JobsStandin(command=sleeper, timeout_seconds=0.5, parallelism=1,
                     stop_timeout=2) as standin:
        started = time.monotonic()
        post(standin.run_url("p", "l", "j"), {"overrides": {"taskCount": 2}})
        (execution,) = standin.wait_for_executions(1, timeout=5)
        assert execution.wait(timeout=10)
        elapsed = time.monotonic() - started
    assert [task.timed_out for task in execution.tasks] == [True, True]
    assert all(code not in (0, None) for code in execution.exit_codes)
    assert elapsed >= 1.0  # one at a time: two timeouts of 0.5 s in a row
    assert execution.tasks[0].output == ["started"]


def test_close_stops_every_running_task(no_leftovers):
    sleeper = (sys.executable, "-c", "import time; time.sleep(60)")
    standin = JobsStandin(command=sleeper, stop_timeout=2).start()
    try:
        post(standin.run_url("p", "l", "j"), {"overrides": {"taskCount": 3}})
        (execution,) = standin.wait_for_executions(1, timeout=5)
        deadline = time.monotonic() + 5
        while len(standin._procs) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(standin._procs) == 3
    finally:
        started = time.monotonic()
        standin.close()
    assert time.monotonic() - started < 5
    assert execution.done and all(code not in (0, None) for code in execution.exit_codes)
