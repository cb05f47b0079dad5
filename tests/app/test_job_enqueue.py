"""Job tasks without any RPC: the job outputs, the exact RunJobRequest and OAuth token each
task carries, JobEnqueuer's client/retry/duplicate behaviour and the CLI's --job."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest
from google.api_core import exceptions as gexc
from google.cloud import tasks_v2

from app.enqueue import (
    EnqueueError,
    JobEnqueuer,
    JobOutputs,
    JobSpec,
    OutputsError,
    TaskSpecError,
    build_job_task,
    cli,
    load_job_outputs,
    load_outputs,
    run_job_request,
    write_outputs,
)
from app.enqueue import enqueuer as enqueuer_mod
from app.enqueue.client import default_retry

RUN_URL = "https://run.googleapis.com/v2/projects/p/locations/us-central1/jobs/tasks-job-dev:run"
JOB = {
    "job_name": "tasks-job-dev",
    "job_run_url": RUN_URL,
    "job_queue_path": "projects/p/locations/us-central1/queues/tasks-job-dev",
    "job_invoker_email": "job-invoker@p.iam.gserviceaccount.com",
}
SERVICE = {
    "service_url": "https://w-abc-uc.a.run.app",
    "task_url": "https://w-abc-uc.a.run.app/tasks",
    "audience": "https://w-abc-uc.a.run.app",
    "queue_path": "projects/p/locations/us-central1/queues/q",
    "invoker_email": "inv@p.iam.gserviceaccount.com",
    "dispatch_deadline_seconds": 600,
}
OUTPUTS = JobOutputs(**JOB, stack="dev")


def write(tmp_path, document) -> str:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(document))
    return str(path)


class RecordingClient:
    """Answers create_task like the service; records what was asked."""

    def __init__(self, exists=False):
        self.calls = []
        self.exists = exists

    def create_task(self, *, request, retry, timeout):
        self.calls.append((request, retry, timeout))
        if self.exists:
            raise gexc.AlreadyExists("Requested entity already exists")
        task = request.task
        task.name = task.name or f"{request.parent}/tasks/{len(self.calls)}"
        return task


@pytest.fixture
def no_client(monkeypatch):
    monkeypatch.setattr(enqueuer_mod, "make_client", lambda *_: pytest.fail("a client was created"))


# --- the outputs file ---

def test_job_outputs_read_from_a_stack_with_both_patterns(tmp_path):
    path = write(tmp_path, {"dev": {**SERVICE, **JOB}})
    assert load_job_outputs(path) == OUTPUTS
    # The service reader is unchanged by the job outputs next to it (job_queue_path is not
    # the queue_path of a pattern named "job").
    assert load_outputs(path).queue_path == SERVICE["queue_path"]


def test_job_outputs_need_no_service_outputs_and_vice_versa(tmp_path):
    assert load_job_outputs(write(tmp_path, {"dev": JOB})) == OUTPUTS
    assert load_outputs(write(tmp_path, {"dev": SERVICE})).task_url == SERVICE["task_url"]
    with pytest.raises(OutputsError, match=r"has no job outputs \(job_name, job_run_url"):
        load_job_outputs(write(tmp_path, {"dev": SERVICE}))
    with pytest.raises(OutputsError, match=r"lacks output\(s\) service_url.*add --job"):
        load_outputs(write(tmp_path, {"dev": JOB}))


def test_job_patterns_prefixed_outputs(tmp_path):
    prefixed = {f"reindex_{k}": v for k, v in JOB.items()}
    other = {f"export_{k}": v.replace("tasks-job-dev", "export-job") for k, v in JOB.items()}
    path = write(tmp_path, {"dev": {**SERVICE, **prefixed}})
    assert load_job_outputs(path) == dataclasses.replace(OUTPUTS, pattern="reindex")
    assert load_outputs(path).queue_path == SERVICE["queue_path"]  # service outputs untouched
    path = write(tmp_path, {"dev": {**prefixed, **other}})
    with pytest.raises(OutputsError, match=r"several job patterns \(export, reindex\)"):
        load_job_outputs(path)
    assert load_job_outputs(path, pattern="export").job_name == "export-job"
    with pytest.raises(OutputsError, match=r"job pattern 'nope' not found.*export, reindex"):
        load_job_outputs(path, pattern="nope")
    # written back in the same shape
    export = load_job_outputs(path, pattern="export")
    again = write_outputs(tmp_path / "again.json", {"dev": [OUTPUTS, export]})
    assert load_job_outputs(again, pattern="export").job_name == "export-job"
    assert load_job_outputs(again, "dev").job_name == "tasks-job-dev"


@pytest.mark.parametrize("change, message", [
    ({"job_run_url": RUN_URL.replace("https:", "http:")}, "uses plain http"),
    ({"job_run_url": RUN_URL.replace("run.googleapis.com", "evil.example.com")},
     "sent only to Google APIs"),
    ({"job_run_url": "https://run.googleapis.com/v1/namespaces/p/jobs/tasks-job-dev:run"},
     "is not jobs.run"),
    ({"job_run_url": RUN_URL.replace("tasks-job-dev:run", "other:run")}, "runs job 'other'"),
    ({"job_run_url": RUN_URL + "?alt=json"}, "must not carry a query"),
    ({"job_run_url": "ftp://run.googleapis.com/x"}, "must be an absolute https URL"),
    ({"job_name": "Bad_Name"}, "is not a Cloud Run job name"),
    ({"job_queue_path": "queues/q"}, "is not of the form projects/PROJECT"),
    ({"job_invoker_email": "nobody"}, "is not a service account email"),
    ({"job_name": ""}, "must be a non-empty string"),
])
def test_bad_job_outputs_are_refused_before_anything_is_sent(tmp_path, change, message):
    with pytest.raises(OutputsError, match=message):
        load_job_outputs(write(tmp_path, {"dev": {**JOB, **change}}))
    with pytest.raises(OutputsError, match=message):
        JobOutputs(**{**JOB, **change})


def test_http_run_url_only_on_loopback_for_the_local_stand_in():
    for host in ("127.0.0.1:8123", "localhost:9", "[::1]:80"):
        url = f"http://{host}/v2/projects/p/locations/l/jobs/tasks-job-dev:run"
        assert JobOutputs(**{**JOB, "job_run_url": url}).job_run_url == url


# --- the task: RunJobRequest body, OAuth token ---

def test_job_task_is_a_run_job_request_with_the_payload_override_and_oauth_token():
    now = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    spec = JobSpec("resize_images", {"sources": ["gs://b/a.png"], "width": 8, "height": 8},
                   task_count=4, timeout_seconds=3600, task_id="batch-1", delay_seconds=30)
    task = build_job_task(spec, OUTPUTS, now=now)
    request = task.http_request
    assert request.url == RUN_URL
    assert request.http_method == tasks_v2.HttpMethod.POST
    assert dict(request.headers) == {"Content-Type": "application/json"}
    assert json.loads(request.body) == {"overrides": {
        "containerOverrides": [{"env": [{
            "name": "TASK_PAYLOAD",
            "value": '{"kind":"resize_images","data":{"sources":["gs://b/a.png"],"width":8,'
                     '"height":8}}'}]}],
        "taskCount": 4,
        "timeout": "3600s",
    }}
    assert request.oauth_token.service_account_email == JOB["job_invoker_email"]
    assert request.oauth_token.scope == "https://www.googleapis.com/auth/cloud-platform"
    assert not request.oidc_token.service_account_email  # OAuth for a Google API, not OIDC
    assert not tasks_v2.Task.pb(task).HasField("dispatch_deadline")  # the default (10 min)
    assert task.name.startswith(JOB["job_queue_path"] + "/tasks/")
    assert task.name.endswith("-batch-1")
    assert task.schedule_time == now + dt.timedelta(seconds=30)


def test_minimal_request_leaves_task_count_and_timeout_to_the_job():
    body = run_job_request(JobSpec("echo"))
    assert body == {"overrides": {"containerOverrides": [
        {"env": [{"name": "TASK_PAYLOAD", "value": '{"kind":"echo","data":{}}'}]}]}}
    named = run_job_request(JobSpec("echo", container="worker"))
    assert named["overrides"]["containerOverrides"][0]["name"] == "worker"


def test_the_run_job_request_uses_the_protos_json_names():
    """Every key sent is a field of RunJobRequest (google/cloud/run/v2/job.proto) in JSON form."""
    from app.jobs_standin import parse_run_request

    spec = JobSpec("echo", {"x": 1}, task_count=2, timeout_seconds=5, container="c")
    task = build_job_task(spec, OUTPUTS)
    parsed = parse_run_request("projects/p/locations/us-central1/jobs/tasks-job-dev",
                               task.http_request.body, "application/json", container="c")
    assert (parsed.task_count, parsed.timeout_s) == (2, 5)
    assert json.loads(parsed.env["TASK_PAYLOAD"]) == {"kind": "echo", "data": {"x": 1}}


@pytest.mark.parametrize("spec, message", [
    (JobSpec("echo", task_count=0), "task_count must be a whole number from 1 to 10000"),
    (JobSpec("echo", task_count=10001), "task_count must be a whole number"),
    (JobSpec("echo", task_count=True), "task_count must be a whole number"),
    (JobSpec("echo", timeout_seconds=0),
     "timeout_seconds must be a whole number from 1 to 604800"),
    (JobSpec("echo", timeout_seconds=1.5), "timeout_seconds must be a whole number"),
    (JobSpec("echo", container="Not A Label"), "is not a container name"),
    (JobSpec("", {}), "kind must be a non-empty string"),
    (JobSpec("echo", {"blob": "x" * 33_000}),
     "travels in the TASK_PAYLOAD env var, at most 32768"),
    (JobSpec("echo", task_id="bad id"), "task id 'bad id' is invalid"),
    (JobSpec("echo", delay_seconds=-1), "out of range"),
])
def test_bad_job_specs_fail_before_any_rpc(spec, message, no_client):
    enq = JobEnqueuer(OUTPUTS)
    with pytest.raises(TaskSpecError, match=message):
        enq.enqueue_spec(spec)


def test_job_spec_from_jsonl_line():
    spec = JobSpec.from_json({"kind": "echo", "data": {"a": 1}, "task_count": 2,
                              "timeout_seconds": 60, "task_id": "t"})
    assert (spec.task_count, spec.timeout_seconds, spec.task_id) == (2, 60, "t")
    with pytest.raises(TaskSpecError, match=r"unknown key\(s\) taskCount"):
        JobSpec.from_json({"kind": "echo", "taskCount": 2})


# --- JobEnqueuer ---

def test_enqueuer_creates_on_the_job_queue_with_explicit_retry_and_timeout():
    client = RecordingClient()
    retry = default_retry(5)
    enq = JobEnqueuer(OUTPUTS, client=client, retry=retry, timeout=3)
    res = enq.enqueue("echo", {"n": 1}, task_count=2, task_id="run-1")
    assert res.status == "created" and res.name.endswith("-run-1")
    ((request, used_retry, timeout),) = client.calls
    assert request.parent == JOB["job_queue_path"]
    assert used_retry is retry and timeout._timeout == 3
    assert json.loads(request.task.http_request.body)["overrides"]["taskCount"] == 2


def test_already_exists_is_a_duplicate_run():
    res = JobEnqueuer(OUTPUTS, client=RecordingClient(exists=True)).enqueue("echo", task_id="r")
    assert res.status == "duplicate" and res.ok


def test_from_outputs_file_and_bulk(tmp_path):
    client = RecordingClient()
    path = write(tmp_path, {"dev": {**SERVICE, **JOB}})
    with JobEnqueuer.from_outputs_file(path, "dev", client=client) as enq:
        bulk = enq.enqueue_many([JobSpec("echo", {"i": i}) for i in range(3)], concurrency=2)
    assert (bulk.created, bulk.failed) == (3, 0)
    assert {c[0].task.http_request.url for c in client.calls} == {RUN_URL}


# --- CLI ---

def test_cli_job_dry_run_prints_the_tasks(tmp_path, capsys, no_client):
    path = write(tmp_path, {"dev": {**SERVICE, **JOB}})
    code = cli.main(["--outputs", path, "--job", "--kind", "echo", "--data", '{"a":1}',
                     "--task-count", "3", "--task-timeout", "900", "--dry-run"])
    out, err = capsys.readouterr()
    assert code == 0, err
    task = json.loads(out)
    assert task["http_request"]["url"] == RUN_URL
    assert task["http_request"]["oauth_token"] == {
        "service_account_email": JOB["job_invoker_email"],
        "scope": "https://www.googleapis.com/auth/cloud-platform"}
    body = json.loads(task["http_request"]["body"])
    assert body["overrides"]["taskCount"] == 3 and body["overrides"]["timeout"] == "900s"


def test_cli_job_single_and_jsonl(tmp_path, capsys):
    path = write(tmp_path, {"dev": JOB})
    client = RecordingClient()
    assert cli.main(["--outputs", path, "--job", "--kind", "echo", "--task-id", "r1"],
                    client=client) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "created"
    jsonl = tmp_path / "runs.jsonl"
    jsonl.write_text("\n".join(json.dumps({"kind": "echo", "task_count": n}) for n in (1, 2)))
    assert cli.main(["--outputs", path, "--job", "--jsonl", str(jsonl)], client=client) == 0
    assert json.loads(capsys.readouterr().out)["created"] == 2
    counts = [json.loads(c[0].task.http_request.body)["overrides"].get("taskCount")
              for c in client.calls]
    assert counts == [None, 1, 2]


@pytest.mark.parametrize("argv, message", [
    (["--kind", "echo", "--task-count", "2"], "--task-count applies to job tasks: add --job"),
    (["--kind", "echo", "--container", "c"], "--container applies to job tasks"),
    (["--job", "--jsonl", "-", "--task-count", "2"],
     "--task-count applies to --kind, not --jsonl"),
    (["--job", "--kind", "echo", "--task-count", "0"], "task_count must be a whole number"),
    (["--job", "--kind", "echo", "--pattern", "nope"], "job pattern 'nope' not found"),
])
def test_cli_job_usage_errors_exit_2_without_a_client(tmp_path, capsys, no_client, argv,
                                                     message):
    path = write(tmp_path, {"dev": {**SERVICE, **JOB}})
    assert cli.main(["--outputs", path, *argv]) == 2
    assert message in capsys.readouterr().err


def test_cli_without_job_on_a_job_only_stack_says_to_add_job(tmp_path, capsys, no_client):
    assert cli.main(["--outputs", write(tmp_path, {"dev": JOB}), "--kind", "echo"]) == 2
    assert "add --job" in capsys.readouterr().err


def test_enqueue_error_is_the_base_of_job_errors():
    assert issubclass(TaskSpecError, EnqueueError) and issubclass(OutputsError, EnqueueError)
