"""Local end to end of a job run: JobEnqueuer -> the Cloud Tasks emulator over gRPC -> the
jobs.run stand-in -> N ``python -m app.job`` processes -> the worker's handler, and back out
through the tasks' structured logs and exit codes."""

from __future__ import annotations

import json

import pytest

from app.enqueue import JobEnqueuer, JobOutputs, JobSpec, cli, write_outputs
from app.job import EXIT_FAILED, EXIT_UNKNOWN_KIND
from app.jobs_standin import JobsStandin
from support.processes import live_children
from tests.plugins.emulator import LOCATION, PROJECT

JOB = "reindex"
SOURCES = [f"gs://photos/{i:02d}.png" for i in range(8)]
WAIT_S = 15


@pytest.fixture
def standin():
    before = live_children()
    with JobsStandin(task_count=1, timeout_seconds=60,
                     jobs=[f"projects/{PROJECT}/locations/{LOCATION}/jobs/{JOB}"]) as running:
        yield running
    assert live_children() == before, "a job task outlived the test"


def job_outputs(standin: JobsStandin, queue_path: str) -> JobOutputs:
    return JobOutputs(job_name=JOB, job_run_url=standin.run_url(PROJECT, LOCATION, JOB),
                      job_queue_path=queue_path,
                      job_invoker_email=f"{JOB}-job-invoker@{PROJECT}.iam.gserviceaccount.com",
                      stack="dev")


def summary(task) -> dict:
    """The one ``app.job`` summary line of a task."""
    (line,) = [r for r in task.records() if r.get("logger") == "app.job"]
    return line


def test_payload_reaches_the_handler_in_every_task_with_its_index(emulator, queue_path, standin):
    data = {"sources": SOURCES, "width": 320, "height": 200, "format": "webp"}
    with JobEnqueuer(job_outputs(standin, queue_path), emulator=emulator.address) as enq:
        res = enq.enqueue("resize_images", data, task_count=3, timeout_seconds=60,
                          task_id="resize-batch-1")
    assert res.status == "created"
    (execution,) = standin.wait_for_executions(1, timeout=WAIT_S)
    assert execution.wait(timeout=WAIT_S), [t.output for t in execution.tasks]
    assert execution.exit_codes == [0, 0, 0]
    # What the emulator delivered is the request the enqueuer built, checked by the stand-in.
    assert execution.request["overrides"]["taskCount"] == 3
    assert json.loads(execution.env["TASK_PAYLOAD"]) == {"kind": "resize_images", "data": data}
    lines = [summary(task) for task in execution.tasks]
    for index, line in enumerate(lines):
        assert (line["status"], line["kind"], line["task_index"], line["task_count"]) == (
            "done", "resize_images", index, 3)
        assert (line["job"], line["execution"]) == (JOB, execution.short_name)
        # The handler saw the payload and this task's index: it resized exactly its share.
        assert line["result"] == {"task_index": index, "task_count": 3, "outputs": [
            f"{s[:-4]}-320x200.webp" for s in SOURCES[index::3]]}
    done = sorted(o for line in lines for o in line["result"]["outputs"])
    assert done == sorted(f"{s[:-4]}-320x200.webp" for s in SOURCES)  # every item once


def test_a_failing_job_task_exits_non_zero(emulator, queue_path, standin):
    with JobEnqueuer(job_outputs(standin, queue_path), emulator=emulator.address) as enq:
        enq.enqueue("send_email", {"to": ["ops@example.invalid"], "subject": "report"},
                    task_count=2)
        enq.enqueue("no-such-kind", {})
    runs = standin.wait_for_executions(2, timeout=WAIT_S)
    assert all(run.wait(timeout=WAIT_S) for run in runs)
    by_kind = {json.loads(run.env["TASK_PAYLOAD"])["kind"]: run for run in runs}
    assert by_kind["send_email"].exit_codes == [EXIT_FAILED, EXIT_FAILED]
    line = summary(by_kind["send_email"].tasks[1])
    assert (line["status"], line["error_type"], line["severity"]) == ("failed", "permanent",
                                                                      "ERROR")
    assert by_kind["no-such-kind"].exit_codes == [EXIT_UNKNOWN_KIND]
    assert not any(run.succeeded for run in runs)


def test_cli_job_through_the_emulator_and_a_duplicate_task_id_starts_one_run(
        emulator, queue_path, standin, tmp_path, capsys):
    path = write_outputs(tmp_path / "outputs.json", {"dev": job_outputs(standin, queue_path)})
    argv = ["--outputs", str(path), "--emulator", emulator.address, "--job", "--kind", "echo",
            "--data", '{"hello": "job"}', "--task-count", "2", "--task-id", "nightly-1"]
    assert cli.main(argv) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "created"
    assert cli.main(argv) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "duplicate"
    (execution,) = standin.wait_for_executions(1, timeout=WAIT_S)
    assert execution.wait(timeout=WAIT_S) and execution.succeeded
    assert [summary(task)["result"] for task in execution.tasks] == [{"hello": "job"}] * 2
    with pytest.raises(TimeoutError):
        standin.wait_for_executions(2, timeout=0.5)  # the duplicate started nothing


def test_bulk_job_runs_over_one_client(emulator, queue_path, standin):
    specs = [JobSpec("echo", {"run": i}) for i in range(3)]
    with JobEnqueuer(job_outputs(standin, queue_path), emulator=emulator.address) as enq:
        bulk = enq.enqueue_many(specs, concurrency=3)
    assert bulk.created == 3
    runs = standin.wait_for_executions(3, timeout=WAIT_S)
    assert all(run.wait(timeout=WAIT_S) and run.succeeded for run in runs)
    assert sorted(summary(run.tasks[0])["result"]["run"] for run in runs) == [0, 1, 2]
