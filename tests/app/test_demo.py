"""The local demo: reading the synthesized stack, classifying worker logs, and one end-to-end run."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from app import demo
from support.processes import live_children

# Shaped like cdktf.out/stacks/dev/cdk.tf.json; logical ids deliberately unlike the real ones.
STACK = {
    "provider": {"google": [{"project": "demo-proj", "region": "europe-west1"}]},
    "output": {
        "queue_path": {"value": "${google_cloud_tasks_queue.anything_1234.id}"},
        "invoker_email": {"value": "${google_service_account.who_ABCD.email}"},
        "dispatch_deadline_seconds": {"value": 300},
        "service_url": {"value": "${google_cloud_run_v2_service.svc_9.uri}"},
        "audience": {"value": "https://worker-dev.example.test"},
    },
    "resource": {
        "google_cloud_tasks_queue": {"anything_1234": {"name": "jobs-dev", "location": "europe-west1"}},
        "google_cloud_run_v2_service": {"svc_9": {"name": "worker-dev", "location": "europe-west1", "template": {
            "containers": [{"env": [
                {"name": "WORKER_AUDIENCE", "value": "https://worker-dev.example.test"},
                {"name": "WORKER_INVOKER_EMAIL", "value": "${google_service_account.who_ABCD.email}"},
                # one store named by reference to its bucket, one by a literal name (an existing bucket)
                {"name": "WORKER_DEAD_LETTER_BUCKET", "value": "${google_storage_bucket.dl_77.name}"},
                {"name": "WORKER_TASK_NAME_BUCKET", "value": "shared-task-names-xyz"},
                {"name": "WORKER_QUEUE_MAX_ATTEMPTS", "value": "4"},
            ]}]}}},
        "google_storage_bucket": {"dl_77": {"name": "worker-dev-dead-letters-q1"}},
        "google_service_account": {
            "runtime_1": {"account_id": "worker-dev-run"},
            "who_ABCD": {"account_id": "worker-dev-invoker"},
        },
    },
}


def write_stack(root: Path, doc=STACK, stack="dev") -> Path:
    path = demo.stack_json_path(root, stack)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(doc))
    return path


def test_read_stack_finds_the_queue_by_resource_type(tmp_path):
    target = demo.read_stack(write_stack(tmp_path))
    assert target.queue_path == "projects/demo-proj/locations/europe-west1/queues/jobs-dev"
    assert target.invoker_email == "worker-dev-invoker@demo-proj.iam.gserviceaccount.com"
    assert target.dispatch_deadline_seconds == 300
    assert target.service_name == "worker-dev"
    # Both ends of the token check, read separately: the outputs the enqueuer uses, the env the worker gets.
    assert target.audience == target.worker_audience == "https://worker-dev.example.test"
    assert target.worker_invoker_email == "worker-dev-invoker@demo-proj.iam.gserviceaccount.com"
    # The stores and the queue's retry limit, from the service's env (the reference resolved).
    assert (target.dead_letter_bucket, target.task_name_bucket) == ("worker-dev-dead-letters-q1",
                                                                    "shared-task-names-xyz")
    assert target.store_env() == {"WORKER_DEAD_LETTER_BUCKET": "worker-dev-dead-letters-q1",
                                  "WORKER_TASK_NAME_BUCKET": "shared-task-names-xyz",
                                  "WORKER_QUEUE_MAX_ATTEMPTS": "4"}
    # No job pattern in this stack: the demo's job run uses a local one.
    assert (target.job.name, target.job.declared, target.job.task_count) == ("demo-job", False, 2)
    assert target.job.queue_path == "projects/demo-proj/locations/europe-west1/queues/demo-job"


def test_read_stack_reads_the_job_its_job_outputs_name(tmp_path):
    doc = json.loads(json.dumps(STACK))
    doc["output"].update({
        "job_name": {"value": "${google_cloud_run_v2_job.j_1.name}"},
        "job_queue_path": {"value": "${google_cloud_tasks_queue.jq_2.id}"},
        "job_invoker_email": {"value": "${google_service_account.ji_3.email}"},
    })
    doc["resource"]["google_cloud_tasks_queue"]["jq_2"] = {"name": "${random_id.s.hex}",
                                                          "location": "europe-west1"}
    doc["resource"]["random_id"] = {"s": {"prefix": "reindex-", "byte_length": 3}}
    doc["resource"]["google_service_account"]["ji_3"] = {"account_id": "reindex-job-invoker"}
    doc["resource"]["google_cloud_run_v2_job"] = {"j_1": {"name": "reindex", "template": {
        "task_count": 3, "template": {"timeout": "7200s"}}}}
    target = demo.read_stack(write_stack(tmp_path, doc))
    assert target.queue_path.endswith("/queues/jobs-dev")  # the worker's queue is still its own
    assert target.job == demo.JobTarget(
        name="reindex", queue_path="projects/demo-proj/locations/europe-west1/queues/reindex-000000",
        invoker_email="reindex-job-invoker@demo-proj.iam.gserviceaccount.com", task_count=3,
        timeout_seconds=7200)


def test_read_stack_fallbacks_and_errors(tmp_path, monkeypatch):
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT", raising=False)
    doc = {"resource": {"google_cloud_tasks_queue": {"q": {"name": "q1", "location": "us-central1"}}}}
    target = demo.read_stack(write_stack(tmp_path / "a", doc))
    assert target.queue_path == "projects/demo-project/locations/us-central1/queues/q1"
    assert target.dispatch_deadline_seconds == 600 and target.invoker_email.startswith("demo-invoker@")

    two = {"resource": {"google_cloud_tasks_queue": {"a": {}, "b": {}}}}
    with pytest.raises(demo.DemoError, match=r"no google_cloud_tasks_queue that the queue_path output names \(queues: a, b\)"):
        demo.read_stack(write_stack(tmp_path / "b", two))
    token = {"resource": {"google_cloud_tasks_queue": {"a": {"name": "${var.q}", "location": "x"}}}}
    with pytest.raises(demo.DemoError, match=r"must be literal strings"):
        demo.read_stack(write_stack(tmp_path / "c", token))
    with pytest.raises(demo.DemoError, match=r"synthesized stack not found: .*--synth"):
        demo.read_stack(tmp_path / "missing.json")


def _without_stores(doc=STACK):
    doc = json.loads(json.dumps(doc))
    env = doc["resource"]["google_cloud_run_v2_service"]["svc_9"]["template"]["containers"][0]["env"]
    env[:] = [e for e in env if e["name"] not in ("WORKER_DEAD_LETTER_BUCKET", "WORKER_TASK_NAME_BUCKET")]
    return doc


@pytest.mark.parametrize("name, value, message", [
    ("WORKER_DEAD_LETTER_BUCKET", "${google_storage_bucket.nope.name}",
     r"WORKER_DEAD_LETTER_BUCKET in the service's env is '\$\{google_storage_bucket.nope.name\}', which the "
     r"demo cannot resolve"),
    ("WORKER_TASK_NAME_BUCKET", "${var.bucket}", r"WORKER_TASK_NAME_BUCKET .* cannot resolve"),
    ("WORKER_QUEUE_MAX_ATTEMPTS", "five", r"WORKER_QUEUE_MAX_ATTEMPTS in the service's env must be an integer, "
                                          r"but 'five' was given"),
])
def test_read_stack_refuses_store_settings_it_cannot_resolve(tmp_path, name, value, message):
    doc = json.loads(json.dumps(STACK))
    env = doc["resource"]["google_cloud_run_v2_service"]["svc_9"]["template"]["containers"][0]["env"]
    next(e for e in env if e["name"] == name)["value"] = value
    with pytest.raises(demo.DemoError, match=message):
        demo.read_stack(write_stack(tmp_path, doc))


def test_read_stack_without_stores_keeps_dead_letters_in_the_log(tmp_path):
    target = demo.read_stack(write_stack(tmp_path, _without_stores()))
    assert target.buckets == [] and target.store_env() == {"WORKER_QUEUE_MAX_ATTEMPTS": "4"}


def test_read_stack_an_audience_that_is_the_service_uri_is_the_local_worker_url(tmp_path):
    doc = json.loads(json.dumps(STACK))
    doc["output"]["audience"]["value"] = "${google_cloud_run_v2_service.svc_9.uri}"
    doc["resource"]["google_cloud_run_v2_service"]["svc_9"]["template"]["containers"][0]["env"][0]["value"] = (
        "${google_cloud_run_v2_service.svc_9.uri}")
    target = demo.read_stack(write_stack(tmp_path, doc))
    assert target.audience == target.worker_audience == demo.SERVICE_URI


def test_demo_refuses_a_stack_that_does_not_wire_the_token_check(tmp_path, capsys):
    doc = json.loads(json.dumps(STACK))
    del doc["output"]["audience"]
    doc["resource"]["google_cloud_run_v2_service"]["svc_9"]["template"]["containers"][0]["env"].pop(1)
    write_stack(tmp_path / "cdktf.out", doc)
    code = demo.main(["--count", "1", "--no-job", "--cdktf-out", str(tmp_path / "cdktf.out"),
                      "--work-dir", str(tmp_path / "work")])
    err = capsys.readouterr().err
    assert code == 2
    assert "the stack does not wire the worker's token check: it needs an `audience` output" in err
    assert "WORKER_INVOKER_EMAIL in the service's env" in err
    assert "WORKER_AUDIENCE in the service's env" not in err  # that one is wired


@pytest.mark.parametrize("record, outcome", [
    ({"message": "task done", "task": "ab-1", "status": "done", "http_status": 200}, demo.HANDLED),
    ({"task": "ab-1", "status": "duplicate", "http_status": 200}, demo.DUPLICATE),
    ({"task": "ab-1", "status": "dead_letter", "dead_letter": True, "http_status": 200}, demo.DEAD_LETTER),
    ({"task_name": "q/tasks/ab-1", "duplicate": True, "http_status": 200}, demo.DUPLICATE),
    ({"task": "ab-1", "status": "retry", "http_status": 503}, demo.RETRIED),
    ({"message": "email accepted for delivery", "task": "ab-1"}, None),  # a handler's own log line
    ({"message": "worker ready"}, None),
    ({"message": "request rejected: token is for another audience", "task": "ab-1",
      "auth_reason": "wrong_audience", "http_status": 403}, demo.REJECTED),
    ({"message": "request refused, failing closed: no keys", "task": "ab-1", "http_status": 503}, demo.REJECTED),
])
def test_classify_worker_log_records(record, outcome):
    assert demo.classify(record) == outcome


def test_summary_flags_a_task_run_twice_or_never():
    bulk = SimpleNamespace(results=[1, 2, 3], created=3, duplicates=0, failed=0)
    expected = {"a": demo.HANDLED, "b": demo.HANDLED, "c": demo.DEAD_LETTER}
    ids = {"a": "h-a", "b": "h-b", "c": "h-c"}
    seen = [demo.Delivery("h-a", demo.HANDLED, {}), demo.Delivery("h-a", demo.HANDLED, {}),
            demo.Delivery("h-c", demo.HANDLED, {})]
    s = demo.summarise(bulk, expected, ids, seen)
    assert not s.ok
    assert s.problems == ["task a: executed 2 times (want exactly 1)", "task b: executed 0 times (want exactly 1)",
                          "task c: handled (want dead_letter)"]


def _dead_letter_run(objects, kept=("4",), replay=None):
    return demo.DeadLetterSummary(bucket="dl", task_name_bucket="tn", storage_emulator="http://127.0.0.1:1",
                                  max_attempts=4, stack="dev", logged=1, objects=list(objects),
                                  kept_max_attempts=list(kept), replay=replay)


def test_summary_flags_dead_letters_the_bucket_does_not_hold_as_logged():
    bulk = SimpleNamespace(results=[1], created=1, duplicates=0, failed=0)
    logged = [demo.Delivery("h-c", demo.DEAD_LETTER, {"dead_letter_object": "gs://dl/dead-letters/x-h-c"})]
    args = (bulk, {"c": demo.DEAD_LETTER}, {"c": "h-c"}, logged)
    assert demo.summarise(*args, dead_letters=_dead_letter_run(["gs://dl/dead-letters/x-h-c"])).ok
    missing = demo.summarise(*args, dead_letters=_dead_letter_run([], kept=()))
    assert missing.problems == ["dead letters: the worker logged 1 (['gs://dl/dead-letters/x-h-c']) but gs://dl "
                                "holds 0 ([])"]
    other_limit = demo.summarise(*args, dead_letters=_dead_letter_run(["gs://dl/dead-letters/x-h-c"], kept=("5",)))
    assert other_limit.problems == ["dead letters: kept with max-attempts ['5'], but the stack's "
                                    "WORKER_QUEUE_MAX_ATTEMPTS is 4"]
    replay = demo.ReplayRunSummary(command="...", replayed=1, marked=1, tasks=["r-1"],
                                   outcomes={"r-1": [demo.HANDLED, demo.DEAD_LETTER]}, objects=["gs://dl/r"])
    twice = demo.summarise(*args, dead_letters=_dead_letter_run(["gs://dl/dead-letters/x-h-c"], replay=replay))
    assert twice.problems == ["replayed task r-1: outcomes ['handled', 'dead_letter'] (want exactly one "
                              "dead_letter: nothing was fixed)"]


_children = live_children


def test_demo_end_to_end_every_task_handled_exactly_once(tmp_path, capsys):
    write_stack(tmp_path / "cdktf.out")
    before = _children()
    code = demo.main(["--count", "4", "--cdktf-out", str(tmp_path / "cdktf.out"), "--work-dir",
                      str(tmp_path / "work"), "--wait", "20", "--json"])
    out, err = capsys.readouterr()
    summary = json.loads(out)
    assert code == 0, (summary, err)
    assert summary["ok"] and summary["problems"] == []
    assert (summary["sent"], summary["unique_tasks"], summary["created"]) == (6, 5, 6)
    assert (summary["handled"], summary["duplicates"], summary["dead_lettered"]) == (4, 1, 1)
    assert summary["rejected"] == 0  # every token the emulator signed passed the worker's check
    # The unknown kind, kept whole in the stack's dead-letter bucket on the storage emulator,
    # with the stack's max_attempts; read back, it is the one the worker logged.
    dead = summary["dead_letters"]
    assert (dead["bucket"], dead["task_name_bucket"]) == ("worker-dev-dead-letters-q1", "shared-task-names-xyz")
    assert dead["storage_emulator"].startswith("http://127.0.0.1:")
    assert dead["logged"] == dead["stored"] == summary["dead_lettered"] == 1
    (kept,) = dead["objects"]
    assert kept.startswith("gs://worker-dev-dead-letters-q1/dead-letters/") and kept.endswith("-unknown")
    assert dead["kept_max_attempts"] == ["4"]
    # Replayed once through the enqueuer: marked, delivered (token accepted), dead-lettered again anew.
    replay = dead["replay"]
    assert (replay["replayed"], replay["marked"], len(replay["tasks"])) == (1, 1, 1)
    assert replay["outcomes"] == {replay["tasks"][0]: ["dead_letter"]}
    (again,) = replay["objects"]
    assert again != kept and again.startswith("gs://worker-dev-dead-letters-q1/dead-letters/")
    assert dead["replay_command"] == "python -m app.enqueue replay --outputs outputs.json --stack dev"
    job = summary["job"]
    assert (job["job"], job["declared_by_stack"], job["enqueue_status"]) == ("demo-job", False, "created")
    assert (job["exit_codes"], job["items"], job["processed"]) == ([0, 0], 6, 6)
    assert _children() == before  # emulator, storage emulator, worker, stand-in and job tasks stopped
    outputs = json.loads((tmp_path / "work" / "outputs.json").read_text())
    assert outputs["dev"]["dead_letter_bucket"] == "worker-dev-dead-letters-q1"  # what the replay reads
    assert outputs["dev"]["queue_path"] == "projects/demo-proj/locations/europe-west1/queues/jobs-dev"
    assert outputs["dev"]["service_url"].startswith("http://127.0.0.1:")
    assert outputs["dev"]["task_url"] == outputs["dev"]["service_url"] + "/tasks"
    assert outputs["dev"]["job_run_url"].startswith("http://127.0.0.1:")
    assert outputs["dev"]["job_run_url"].endswith(
        "/v2/projects/demo-proj/locations/europe-west1/jobs/demo-job:run")


def test_demo_without_the_job_run_or_the_stores(tmp_path, capsys):
    """A stack that opts out of both stores: no storage emulator, dead letters are log lines only."""
    write_stack(tmp_path / "cdktf.out", _without_stores())
    before = _children()
    code = demo.main(["--count", "1", "--no-job", "--cdktf-out", str(tmp_path / "cdktf.out"),
                      "--work-dir", str(tmp_path / "work"), "--wait", "20", "--json"])
    out, err = capsys.readouterr()
    summary = json.loads(out)
    assert code == 0, (summary, err)
    assert summary["job"] is None and summary["handled"] == 1
    dead = summary["dead_letters"]
    assert (dead["bucket"], dead["storage_emulator"], dead["stored"], dead["replay"]) == (None, None, None, None)
    assert dead["logged"] == summary["dead_lettered"] == 1
    assert "storage emulator" not in err
    assert _children() == before
    assert "job_run_url" not in json.loads((tmp_path / "work" / "outputs.json").read_text())["dev"]


@pytest.mark.parametrize("wire, value, reason", [
    ("audience", "https://somewhere-else.example.test", "403 wrong_audience"),
    ("invoker_email", "${google_service_account.runtime_1.email}", "403 wrong_account"),
])
def test_demo_fails_on_a_wrong_wire_with_a_clear_message(tmp_path, capsys, wire, value, reason):
    """The enqueuer's side (outputs) disagrees with the worker's (service env): tokens refused."""
    doc = json.loads(json.dumps(STACK))
    doc["output"][wire]["value"] = value
    write_stack(tmp_path / "cdktf.out", doc)
    before = _children()
    code = demo.main(["--count", "1", "--no-job", "--cdktf-out", str(tmp_path / "cdktf.out"),
                      "--work-dir", str(tmp_path / "work"), "--wait", "20", "--json"])
    out, err = capsys.readouterr()
    summary = json.loads(out)
    assert code == 1, (summary, err)
    assert not summary["ok"] and summary["rejected"] >= 1 and summary["handled"] == 0
    (problem,) = [p for p in summary["problems"] if "refused by the worker's token check" in p]
    assert reason in problem
    assert ("'https://worker-dev.example.test' and 'worker-dev-invoker@demo-proj.iam.gserviceaccount.com' "
            "(WORKER_AUDIENCE and WORKER_INVOKER_EMAIL in the service's env)") in problem
    shown = value if wire == "audience" else "worker-dev-run@demo-proj.iam.gserviceaccount.com"
    assert repr(shown) in problem
    assert _children() == before


def test_demo_on_the_real_synthesized_dev_stack(tmp_path, capsys, monkeypatch):
    """`make demo` path: --synth runs main.py, and the demo reads the real dev stack."""
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "acme-demo-1")
    before = _children()
    code = demo.main(["--synth", "--count", "3", "--cdktf-out", str(tmp_path / "cdktf.out"),
                      "--work-dir", str(tmp_path / "work"), "--wait", "20", "--json"])
    out, err = capsys.readouterr()
    summary = json.loads(out)
    assert code == 0, (summary, err)
    assert (summary["handled"], summary["duplicates"], summary["dead_lettered"]) == (3, 1, 1)
    assert summary["rejected"] == 0  # tokens for the stack's audience and invoker, checked by the worker
    # dev's stores: the dead letter kept in its bucket (with dev's max_attempts), replayed once.
    dead = summary["dead_letters"]
    assert dead["bucket"].startswith("tasks-worker-dev-") and dead["bucket"].endswith("-dead-letters")
    assert dead["task_name_bucket"].endswith("-task-names")
    assert dead["max_attempts"] == 5  # [dev] max_attempts in stacks/environments.toml
    assert dead["logged"] == dead["stored"] == 1 and dead["kept_max_attempts"] == ["5"]
    assert dead["replay"]["replayed"] == dead["replay"]["marked"] == len(dead["replay"]["objects"]) == 1
    # dev declares a job ([dev.job]): the demo runs it once, with its own task count.
    job = summary["job"]
    assert (job["job"], job["declared_by_stack"], job["exit_codes"]) == ("tasks-job-dev", True, [0, 0])
    assert job["processed"] == job["items"]
    assert _children() == before
    outputs = json.loads((tmp_path / "work" / "outputs.json").read_text())
    # dev's queue_name_suffix: locally the random suffix is all zeros
    assert outputs["dev"]["queue_path"] == (
        "projects/acme-demo-1/locations/us-central1/queues/tasks-dev-000000")
    # the dev stack's custom audience and invoker account, as synthesized
    assert outputs["dev"]["audience"] == "https://tasks-worker-dev.us-central1.acme-demo-1.tasks.invalid"
    assert outputs["dev"]["invoker_email"] == "tasks-worker-dev-invoker@acme-demo-1.iam.gserviceaccount.com"
    assert outputs["dev"]["dead_letter_bucket"] == dead["bucket"]
    assert outputs["dev"]["job_queue_path"] == (
        "projects/acme-demo-1/locations/us-central1/queues/tasks-job-dev-000000")
