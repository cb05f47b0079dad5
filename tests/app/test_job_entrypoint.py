"""``python -m app.job`` alone: payload from TASK_PAYLOAD, shard from CLOUD_RUN_TASK_*, the
worker's registry and log format, and one exit code per outcome (docs/job.md)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pydantic import BaseModel

from app.job.main import (
    EXIT_BAD_ENVIRONMENT,
    EXIT_FAILED,
    EXIT_INVALID_PAYLOAD,
    EXIT_OK,
    EXIT_TERMINATED,
    EXIT_UNKNOWN_KIND,
    configure_job_logging,
    run_job_task,
)
from app.processes import stop_process
from app.worker.errors import PermanentError, TransientError
from app.worker.handlers import HandlerRegistry, JobRun, TaskContext, registry
from app.worker.headers import CloudTasksHeaders
from tests.app.image import pinned_site

REPO = Path(__file__).resolve().parents[2]
SOURCES = [f"gs://bucket/img-{i}.png" for i in range(7)]


class Items(BaseModel):
    items: list[int]


class Empty(BaseModel):
    pass


BATCH = {"kind": "resize_images", "data": {"sources": SOURCES, "width": 64, "height": 32}}


def job_env(payload: object | None = None, **extra: str) -> dict[str, str]:
    env = {} if payload is None else {
        "TASK_PAYLOAD": payload if isinstance(payload, str) else json.dumps(payload)}
    return {**env, **extra}


def lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture
def logs(capsys):
    """Run tasks in this process; returns a reader of the JSON lines they logged."""
    configure_job_logging("INFO")
    return lambda: lines(capsys.readouterr().out)


def run_module(env: dict[str, str], *args: str, timeout: float = 20) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items()
             if k != "TASK_PAYLOAD" and not k.startswith("CLOUD_RUN_")}
    clean["PYTHONPATH"] = str(REPO)
    return subprocess.run([sys.executable, "-m", "app.job", *args], env={**clean, **env}, cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


# --- in process: the registry, the context, the summary line ---

def test_a_kind_runs_as_a_job_task_with_its_index_count_attempt_and_execution(logs):
    seen: list[TaskContext] = []
    reg = HandlerRegistry()

    @reg.handler("sum_share")
    def sum_share(payload: Items, ctx: TaskContext) -> int:
        seen.append(ctx)
        return sum(ctx.shard(payload.items))

    env = job_env({"kind": "sum_share", "data": {"items": list(range(10))}},
                  CLOUD_RUN_TASK_INDEX="2", CLOUD_RUN_TASK_COUNT="3", CLOUD_RUN_TASK_ATTEMPT="1",
                  CLOUD_RUN_EXECUTION="reindex-x7k2p", CLOUD_RUN_JOB="reindex")
    assert run_job_task(env, reg) == EXIT_OK
    (ctx,) = seen
    assert ctx.job == JobRun(task_index=2, task_count=3, attempt=1, execution="reindex-x7k2p",
                             job="reindex")
    assert (ctx.task_index, ctx.task_count, ctx.retry_count) == (2, 3, 1)
    # No request headers are made up for a job: they are empty, and there is no caller.
    assert ctx.headers == CloudTasksHeaders() and ctx.task_name is None and ctx.caller is None
    (line,) = logs()
    assert line["result"] == 2 + 5 + 8  # items 2, 5, 8: i % 3 == 2
    assert {k: line[k] for k in ("severity", "logger", "status", "exit_code", "kind", "job",
                                 "execution", "task_index", "task_count", "attempt")} == {
        "severity": "INFO", "logger": "app.job", "status": "done", "exit_code": 0,
        "kind": "sum_share", "job": "reindex", "execution": "reindex-x7k2p", "task_index": 2,
        "task_count": 3, "attempt": 1}
    assert line["message"] == "job task done" and line["duration_ms"] >= 0 and "time" in line


def test_the_same_handler_as_a_request_takes_every_item():
    """Backward compatible context: a request is task 0 of 1, so shard() keeps everything."""
    ctx = TaskContext(kind="resize_images", headers=CloudTasksHeaders(task_name="t"), caller=None)
    assert (ctx.job, ctx.task_index, ctx.task_count, ctx.shard("abc")) == (None, 0, 1, list("abc"))
    handler = registry.get("resize_images")
    result = asyncio.run(handler.run(handler.parse(BATCH["data"]), ctx))
    assert len(result["outputs"]) == len(SOURCES)


def test_defaults_are_task_zero_of_one(logs):
    assert run_job_task(job_env(BATCH)) == EXIT_OK
    (line,) = logs()
    assert (line["task_index"], line["task_count"], line["attempt"]) == (0, 1, 0)
    assert "job" not in line and "execution" not in line
    assert len(line["result"]["outputs"]) == len(SOURCES)


@pytest.mark.parametrize("payload, reason", [
    (None, "TASK_PAYLOAD is not set"),
    ("{not json", "TASK_PAYLOAD is not JSON"),
    ("[1, 2]", "TASK_PAYLOAD must be a JSON object"),
    ({"data": {}}, "TASK_PAYLOAD has no 'kind' string"),
    ({"kind": "", "data": {}}, "TASK_PAYLOAD has no 'kind' string"),
    ({"kind": "resize_images", "data": {"sources": [], "width": 1, "height": 1}},
     "invalid payload: sources:"),
    ({"kind": "resize_images", "data": "nope"}, "invalid payload:"),
])
def test_invalid_payload_exits_2_with_one_error_line_and_no_traceback(logs, payload, reason):
    assert run_job_task(job_env(payload)) == EXIT_INVALID_PAYLOAD
    (line,) = logs()
    assert line["severity"] == "ERROR" and line["status"] == "invalid_payload"
    assert line["reason"].startswith(reason) and line["retryable"] is False
    assert "Traceback" not in line["message"]


def test_unknown_kind_exits_3_naming_the_registered_kinds(logs):
    assert run_job_task(job_env({"kind": "no-such-kind", "data": {}})) == EXIT_UNKNOWN_KIND
    (line,) = logs()
    assert line["status"] == "unknown_kind" and line["kind"] == "no-such-kind"
    assert "resize_images" in line["reason"] and line["retryable"] is False


@pytest.mark.parametrize("exc, error_type, retryable", [
    (TransientError("backend down"), "transient", None),
    (PermanentError("gone"), "permanent", False),
    (KeyError("bug"), "unexpected", None),
])
def test_failing_handler_exits_1(logs, exc, error_type, retryable):
    reg = HandlerRegistry()

    @reg.handler("boom")
    async def boom(payload: Empty, ctx: TaskContext) -> None:
        raise exc

    assert run_job_task(job_env({"kind": "boom"}), reg) == EXIT_FAILED
    (line,) = logs()
    assert (line["status"], line["error_type"], line.get("retryable")) == ("failed", error_type,
                                                                           retryable)
    # Only a bug carries its traceback (for Error Reporting).
    assert ("Traceback" in line["message"]) == (error_type == "unexpected")


@pytest.mark.parametrize("env, reason", [
    ({"CLOUD_RUN_TASK_INDEX": "x"}, "CLOUD_RUN_TASK_INDEX must be a non-negative integer"),
    ({"CLOUD_RUN_TASK_INDEX": "-1"}, "CLOUD_RUN_TASK_INDEX must be a non-negative integer"),
    ({"CLOUD_RUN_TASK_COUNT": "0"}, "CLOUD_RUN_TASK_COUNT must be >= 1"),
    ({"CLOUD_RUN_TASK_INDEX": "2", "CLOUD_RUN_TASK_COUNT": "2"},
     "CLOUD_RUN_TASK_INDEX (2) must be below"),
    ({"CLOUD_RUN_TASK_ATTEMPT": "9" * 40}, "CLOUD_RUN_TASK_ATTEMPT must be a non-negative integer"),
])
def test_unusable_task_environment_exits_4(logs, env, reason):
    assert run_job_task(job_env(BATCH, **env)) == EXIT_BAD_ENVIRONMENT
    (line,) = logs()
    assert line["status"] == "bad_environment" and line["reason"].startswith(reason)


def test_large_or_unencodable_results_are_not_logged_whole(logs):
    reg = HandlerRegistry()
    reg.register("big", lambda payload, ctx: "x" * 100_000, model=Empty)
    assert run_job_task(job_env({"kind": "big"}), reg) == EXIT_OK
    (line,) = logs()
    assert line["result_truncated"] is True and "result" not in line


# --- the real entrypoint, as Cloud Run starts it ---

def test_module_shards_a_batch_across_tasks():
    outputs = []
    for index in range(3):
        proc = run_module(job_env(BATCH, CLOUD_RUN_TASK_INDEX=str(index), CLOUD_RUN_TASK_COUNT="3"))
        assert proc.returncode == EXIT_OK, proc.stdout + proc.stderr
        assert proc.stderr == ""
        (line,) = lines(proc.stdout)
        assert line["result"]["task_index"] == index
        outputs.append(line["result"]["outputs"])
    assert outputs == [[f"{s[:-4]}-64x32.jpeg" for s in SOURCES[i::3]] for i in range(3)]


@pytest.mark.parametrize("env, args, code, status", [
    (job_env("not json"), (), EXIT_INVALID_PAYLOAD, "invalid_payload"),
    (job_env({"kind": "nope"}), (), EXIT_UNKNOWN_KIND, "unknown_kind"),
    (job_env({"kind": "send_email", "data": {"to": ["a@x.invalid"], "subject": "s"}}), (),
     EXIT_FAILED, "failed"),
    (job_env(BATCH, CLOUD_RUN_TASK_COUNT="zero"), (), EXIT_BAD_ENVIRONMENT, "bad_environment"),
    (job_env(BATCH, JOB_LOG_LEVEL="LOUD"), (), EXIT_BAD_ENVIRONMENT, "bad_environment"),
    (job_env(BATCH), ("--extra",), EXIT_BAD_ENVIRONMENT, "bad_environment"),
])
def test_module_exit_codes_and_json_only_output(env, args, code, status):
    proc = run_module(env, *args)
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert proc.stderr == "" and "Traceback" not in proc.stdout
    (line,) = lines(proc.stdout)  # every line is JSON: nothing else is printed
    assert (line["status"], line["exit_code"]) == (status, code)


def test_module_help():
    proc = run_module({}, "--help")
    assert proc.returncode == 0 and "TASK_PAYLOAD" in proc.stdout and "143" in proc.stdout


def test_sigterm_logs_a_line_and_exits_143(tmp_path):
    """A task timeout: Cloud Run sends SIGTERM; the task says so in its log and exits 143."""
    started = tmp_path / "started"
    code = ("import pathlib, sys, time; from pydantic import BaseModel; "
            "from app.worker.handlers import registry; from app.job.main import main\n"
            "class E(BaseModel): pass\n"
            f"registry.register('slow', lambda p, c: (pathlib.Path({str(started)!r}).touch(), "
            "time.sleep(30)), model=E)\n"
            "sys.exit(main([]))")
    env = {**os.environ, "PYTHONPATH": str(REPO), "TASK_PAYLOAD": '{"kind": "slow"}'}
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 10
        while not started.exists():
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    finally:
        stop_process(proc)
    assert proc.returncode == EXIT_TERMINATED, err
    (line,) = lines(out)
    assert (line["status"], line["kind"], line["severity"]) == ("terminated", "slow", "ERROR")


def test_module_runs_with_only_the_images_pinned_packages(tmp_path):
    """What the image holds (app/worker/, app/job/ and the pins) is enough to run a job task."""
    site = pinned_site(tmp_path)
    image = tmp_path / "srv"
    (image / "app").mkdir(parents=True)
    (image / "app" / "__init__.py").write_text((REPO / "app" / "__init__.py").read_text())
    for package in ("worker", "job"):
        (image / "app" / package).symlink_to(REPO / "app" / package)
    code = ("import runpy, sys; sys.path[:0] = [sys.argv[1], sys.argv[2]]; sys.argv = ['app.job']; "
            "runpy.run_module('app.job', run_name='__main__')")
    env = {"PATH": os.environ.get("PATH", ""), "TASK_PAYLOAD": json.dumps(BATCH),
           "CLOUD_RUN_TASK_INDEX": "1", "CLOUD_RUN_TASK_COUNT": "2"}
    proc = subprocess.run([sys.executable, "-I", "-S", "-c", code, str(site), str(image)],
                          cwd=image, env=env, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (line,) = lines(proc.stdout)
    assert line["result"]["outputs"] == [f"{s[:-4]}-64x32.jpeg" for s in SOURCES[1::2]]
