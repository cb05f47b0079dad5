"""CLI errors: clear message, non-zero exit, and no client and no RPC at all."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.enqueue import cli
from app.enqueue import enqueuer as enqueuer_mod

GOOD = {
    "service_url": "https://w-abc-uc.a.run.app",
    "audience": "https://w-abc-uc.a.run.app",
    "queue_path": "projects/p/locations/us-central1/queues/q",
    "invoker_email": "inv@p.iam.gserviceaccount.com",
    "dispatch_deadline_seconds": 600,
}


class NoRpcClient:
    """Stands in for CloudTasksClient; any RPC fails the test."""

    calls = 0

    def create_task(self, *args, **kwargs):
        NoRpcClient.calls += 1
        raise AssertionError("an RPC was made")


class RecordingClient:
    """Answers create_task like the service; records what was asked."""

    def __init__(self, fail_on=()):
        self.calls = []
        self.fail_on = set(fail_on)

    def create_task(self, *, request, retry, timeout):
        from google.api_core import exceptions as gexc

        self.calls.append((request, retry, timeout))
        body = json.loads(request.task.http_request.body)
        if body["data"].get("i") in self.fail_on:
            raise gexc.PermissionDenied("caller lacks cloudtasks.tasks.create")
        task = request.task
        if not task.name:
            task.name = f"{request.parent}/tasks/{len(self.calls)}"
        return task


@pytest.fixture
def no_client(monkeypatch):
    """Fail if the CLI would build a real client."""
    NoRpcClient.calls = 0
    monkeypatch.setattr(enqueuer_mod, "make_client", lambda *_: pytest.fail("a client was created"))
    monkeypatch.delenv("CLOUD_TASKS_EMULATOR_HOST", raising=False)
    yield NoRpcClient()
    assert NoRpcClient.calls == 0


@pytest.fixture
def outputs(tmp_path):
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({"dev": GOOD}))
    return path


def run(argv, client, capsys):
    code = cli.main(argv, client=client)
    out, err = capsys.readouterr()
    return code, out, err


def test_missing_outputs_file(no_client, tmp_path, capsys):
    code, out, err = run(["--outputs", str(tmp_path / "none.json"), "--kind", "echo"], no_client, capsys)
    assert code == 2 and out == ""
    assert "error: outputs file not found" in err


def test_malformed_outputs_file(no_client, tmp_path, capsys):
    bad = tmp_path / "outputs.json"
    bad.write_text('{"dev": ')
    code, _, err = run(["--outputs", str(bad), "--kind", "echo"], no_client, capsys)
    assert code == 2 and "is not valid JSON" in err


def test_missing_output(no_client, tmp_path, capsys):
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({"dev": {k: v for k, v in GOOD.items() if k != "queue_path"}}))
    code, _, err = run(["--outputs", str(path), "--kind", "echo"], no_client, capsys)
    assert code == 2 and "lacks output(s) queue_path" in err


def test_ambiguous_stack(no_client, tmp_path, capsys):
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({"dev": GOOD, "prod": GOOD}))
    code, _, err = run(["--outputs", str(path), "--kind", "echo"], no_client, capsys)
    assert code == 2 and "several stacks (dev, prod); choose one with --stack" in err


def patterns_file(tmp_path):
    """A stack with two patterns, outputs prefixed ``orders_`` and ``invoices_``."""
    sets = {"orders": dict(GOOD, task_url="https://o-abc-uc.a.run.app/orders/tasks"),
            "invoices": dict(GOOD, task_url="https://i-abc-uc.a.run.app/tasks",
                             queue_path="projects/p/locations/us-central1/queues/invoices")}
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({"dev": {f"{name}_{k}": v for name, values in sets.items()
                                        for k, v in values.items()}}))
    return path


def test_pattern_flag_picks_the_pattern_and_its_task_url(tmp_path, capsys):
    client = RecordingClient()
    argv = ["--outputs", str(patterns_file(tmp_path)), "--pattern", "invoices", "--kind", "echo"]
    code, out, err = run(argv, client, capsys)
    assert code == 0, err
    ((request, _, _),) = client.calls
    assert request.parent == "projects/p/locations/us-central1/queues/invoices"
    assert request.task.http_request.url == "https://i-abc-uc.a.run.app/tasks"


def test_several_patterns_without_flag(no_client, tmp_path, capsys):
    argv = ["--outputs", str(patterns_file(tmp_path)), "--kind", "echo"]
    code, out, err = run(argv, no_client, capsys)
    assert code == 2 and out == ""
    assert "several patterns (invoices, orders); choose one with --pattern NAME" in err


def test_unknown_pattern_flag(no_client, tmp_path, capsys):
    argv = ["--outputs", str(patterns_file(tmp_path)), "--pattern", "refunds", "--kind", "echo"]
    code, _, err = run(argv, no_client, capsys)
    assert code == 2 and "pattern 'refunds' not found" in err
    assert "patterns present: invoices, orders" in err


def test_task_url_from_the_file_is_what_the_task_is_sent_to(no_client, tmp_path, capsys):
    path = tmp_path / "outputs.json"
    url = "https://w-abc-uc.a.run.app/work/tasks"
    path.write_text(json.dumps({"dev": dict(GOOD, task_url=url)}))
    code, out, _ = run(["--outputs", str(path), "--kind", "echo", "--dry-run"], no_client, capsys)
    assert code == 0 and json.loads(out)["http_request"]["url"] == url


@pytest.mark.parametrize("data, message", [
    ('{"msg": ', "--data is not valid JSON"),
    ("[1, 2]", "--data must be a JSON object, got list"),
    (json.dumps({"blob": "x" * (1024 * 1024)}), "Cloud Tasks allows at most 1048576 bytes"),
])
def test_invalid_data(no_client, outputs, capsys, data, message):
    code, _, err = run(["--outputs", str(outputs), "--kind", "echo", "--data", data], no_client, capsys)
    assert code == 2 and message in err


def test_invalid_jsonl_line_means_nothing_is_sent(no_client, outputs, tmp_path, capsys):
    jsonl = tmp_path / "t.jsonl"
    jsonl.write_text('{"kind": "echo"}\n{"kind": "echo", "data": {"i": 1}}\n{"kind": "echo", "data": }\n')
    code, _, err = run(["--outputs", str(outputs), "--jsonl", str(jsonl)], no_client, capsys)
    assert code == 2 and f"{jsonl} line 3: invalid JSON" in err


def test_oversized_jsonl_task_means_nothing_is_sent(no_client, outputs, tmp_path, capsys):
    jsonl = tmp_path / "t.jsonl"
    jsonl.write_text('{"kind": "echo"}\n' + json.dumps({"kind": "echo", "data": {"b": "x" * 2_000_000}}))
    code, _, err = run(["--outputs", str(outputs), "--jsonl", str(jsonl)], no_client, capsys)
    assert code == 2 and "allows at most 1048576 bytes" in err


@pytest.mark.parametrize("extra, message", [
    (["--task-id", "no spaces"], "task id 'no spaces' is invalid"),
    (["--delay", "-5"], "out of range"),
    (["--count", "0"], "--count must be >= 1"),
    (["--emulator", "localhost"], "must be HOST:PORT"),
    (["--retry-deadline", "0"], "--retry-deadline must be > 0"),
    (["--timeout", "0"], "timeout must be > 0"),
    (["--concurrency", "0"], "--concurrency must be 1 to 256"),
])
def test_other_bad_flags(no_client, outputs, capsys, extra, message):
    code, _, err = run(["--outputs", str(outputs), "--kind", "echo", *extra], no_client, capsys)
    assert code == 2 and message in err


def test_jsonl_rejects_single_task_flags(no_client, outputs, tmp_path, capsys):
    jsonl = tmp_path / "t.jsonl"
    jsonl.write_text('{"kind": "echo"}\n')
    code, _, err = run(["--outputs", str(outputs), "--jsonl", str(jsonl), "--task-id", "x"], no_client, capsys)
    assert code == 2 and "--task-id applies to --kind, not --jsonl" in err


def test_kind_or_jsonl_is_required(no_client, outputs, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--outputs", str(outputs)], client=no_client)
    assert exc.value.code == 2
    assert "one of the arguments --kind --jsonl is required" in capsys.readouterr().err


def test_dry_run_prints_the_task_and_sends_nothing(no_client, outputs, capsys):
    code, out, _ = run(["--outputs", str(outputs), "--kind", "echo", "--data", '{"a": 1}', "--task-id", "t1",
                        "--dry-run"], no_client, capsys)
    task = json.loads(out)
    assert code == 0
    assert task["http_request"]["url"] == "https://w-abc-uc.a.run.app/tasks"
    assert task["http_request"]["http_method"] == "POST"
    assert json.loads(task["http_request"]["body"]) == {"kind": "echo", "data": {"a": 1}}
    assert task["http_request"]["oidc_token"] == {"service_account_email": GOOD["invoker_email"],
                                                  "audience": GOOD["audience"]}
    assert task["dispatch_deadline"] == "600s" and task["name"].endswith("-t1")


def test_create_gets_explicit_retry_and_timeout(outputs, capsys):
    client = RecordingClient()
    code, out, _ = run(["--outputs", str(outputs), "--kind", "echo", "--timeout", "3", "--retry-deadline", "7"],
                       client, capsys)
    assert code == 0 and json.loads(out)["status"] == "created"
    ((request, retry, timeout),) = client.calls
    assert request.parent == GOOD["queue_path"]
    assert retry.timeout == 7
    # every attempt gets the full 3 s (a bare number would shrink towards a shared deadline)
    attempt = timeout(lambda **kwargs: kwargs["timeout"])
    assert attempt() == 3
    time.sleep(0.05)
    assert attempt() == 3


def test_count_with_task_id_numbers_the_ids(outputs, capsys):
    client = RecordingClient()
    code, out, _ = run(["--outputs", str(outputs), "--kind", "echo", "--count", "3", "--task-id", "batch"],
                       client, capsys)
    assert code == 0 and json.loads(out)["created"] == 3
    assert sorted(c[0].task.name.rsplit("-", 1)[-1] for c in client.calls) == ["0", "1", "2"]


def test_bulk_failure_is_reported_and_exit_is_one(outputs, tmp_path, capsys):
    jsonl = tmp_path / "t.jsonl"
    jsonl.write_text("\n".join(json.dumps({"kind": "echo", "data": {"i": i}}) for i in range(5)))
    client = RecordingClient(fail_on={3})
    code, out, err = run(["--outputs", str(outputs), "--jsonl", str(jsonl)], client, capsys)
    assert code == 1
    assert json.loads(out)["failed"] == 1 and json.loads(out)["created"] == 4
    assert "failed: task #3" in err and "PERMISSION_DENIED" in err


def test_single_failure_exit_is_one(outputs, capsys):
    client = RecordingClient(fail_on={None})
    code, out, err = run(["--outputs", str(outputs), "--kind", "echo"], client, capsys)
    assert code == 1 and out == "" and "creating the task failed" in err


def test_module_entry_point(outputs):
    """``python -m app.enqueue`` runs the CLI (dry run: no network)."""
    repo = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if k != "CLOUD_TASKS_EMULATOR_HOST"}
    proc = subprocess.run([sys.executable, "-m", "app.enqueue", "--outputs", str(outputs), "--kind", "echo",
                           "--dry-run"], cwd=repo, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["http_request"]["url"] == "https://w-abc-uc.a.run.app/tasks"
    bad = subprocess.run([sys.executable, "-m", "app.enqueue", "--outputs", "/nonexistent/o.json", "--kind", "echo"],
                         cwd=repo, env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "outputs file not found" in bad.stderr
