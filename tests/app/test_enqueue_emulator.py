"""The enqueuer against the Cloud Tasks emulator over real gRPC, delivering to a local receiver."""

from __future__ import annotations

import dataclasses
import json
import time

from app.emulator import Emulator
from app.enqueue import TaskEnqueuer, TaskSpec, cli, write_outputs
from app.enqueue import enqueuer as enqueuer_mod
from app.enqueue.client import make_client
from tests.plugins.emulator import outputs_for, write_outputs_file


def test_task_is_delivered_as_json_post_to_tasks_path(emulator, queue_path, receiver):
    with TaskEnqueuer(outputs_for(receiver.url, queue_path), emulator=emulator.address) as enq:
        res = enq.enqueue("echo", {"msg": "hi", "n": 1}, task_id="order-1")
    assert res.status == "created"
    assert res.name.startswith(queue_path + "/tasks/") and res.name.endswith("-order-1")

    (req,) = receiver.wait_for(1)
    assert req.method == "POST"
    assert req.path == "/tasks"
    assert req.headers["content-type"] == "application/json"
    assert req.json() == {"kind": "echo", "data": {"msg": "hi", "n": 1}}
    assert req.headers["x-cloudtasks-taskname"] == res.task_id
    # Emulator gap: the full queue path, where Cloud Tasks sends the short queue id.
    assert req.headers["x-cloudtasks-queuename"] == queue_path


def test_service_url_with_trailing_slash_still_posts_to_tasks(emulator, queue_path, receiver):
    with TaskEnqueuer(outputs_for(receiver.url + "/", queue_path), emulator=emulator.address) as enq:
        enq.enqueue("echo", {})
    (req,) = receiver.wait_for(1)
    assert req.path == "/tasks"


def test_custom_task_url_path_is_where_the_emulator_delivers(emulator, queue_path, receiver):
    outputs = dataclasses.replace(outputs_for(receiver.url, queue_path),
                                  task_url=receiver.url + "/work/tasks")
    real = make_client(emulator.address)
    created = []

    class Recording:
        """The real emulator client; keeps the tasks the emulator answers with."""

        def create_task(self, **kwargs):
            task = real.create_task(**kwargs)
            created.append(task)
            return task

    try:
        enq = TaskEnqueuer(outputs, client=Recording())
        res = enq.enqueue("echo", {"n": 1}, task_id="custom-path")
    finally:
        real.transport.close()
    assert res.status == "created"
    (task,) = created
    assert task.http_request.url == receiver.url + "/work/tasks"
    (req,) = receiver.wait_for(1)
    assert req.path == "/work/tasks"


def test_cli_pattern_flag_sends_to_that_patterns_task_url(emulator, queue_path, receiver, tmp_path,
                                                          capsys):
    orders = dataclasses.replace(outputs_for(receiver.url, queue_path), pattern="orders",
                                 task_url=receiver.url + "/orders/tasks")
    other = dataclasses.replace(orders, pattern="invoices",
                                task_url=receiver.url + "/invoices/tasks")
    path = write_outputs(tmp_path / "outputs.json", {"dev": [orders, other]})
    code = cli.main(["--outputs", str(path), "--pattern", "invoices",
                     "--emulator", emulator.address, "--kind", "echo"])
    out, err = capsys.readouterr()
    assert code == 0, err
    (req,) = receiver.wait_for(1)
    assert req.path == "/invoices/tasks"
    receiver.assert_quiet(0.3)


def test_same_task_id_twice_is_reported_duplicate_and_delivered_once(emulator, queue_path, receiver):
    with TaskEnqueuer(outputs_for(receiver.url, queue_path), emulator=emulator.address) as enq:
        first = enq.enqueue("echo", {"n": 1}, task_id="same")
        second = enq.enqueue("echo", {"n": 2}, task_id="same")
    assert (first.status, second.status) == ("created", "duplicate")
    assert second.name == first.name and second.ok
    (req,) = receiver.wait_for(1)
    assert req.json()["data"] == {"n": 1}
    receiver.assert_quiet(0.5)


def test_delay_sets_schedule_time_and_the_emulator_honours_it(emulator, queue_path, receiver):
    delay = 1.5
    with TaskEnqueuer(outputs_for(receiver.url, queue_path), emulator=emulator.address) as enq:
        sent_at = time.time()
        enq.enqueue("echo", {"late": True}, delay_seconds=delay)
    (req,) = receiver.wait_for(1, timeout=delay + 5)
    assert req.at - sent_at >= delay - 0.05
    assert abs(float(req.headers["x-cloudtasks-tasketa"]) - (sent_at + delay)) < 0.5


def test_enqueue_many_streams_a_generator_with_one_client(emulator, queue_path, receiver, monkeypatch):
    made = []
    real_make_client = enqueuer_mod.make_client
    monkeypatch.setattr(enqueuer_mod, "make_client", lambda target: made.append(target) or real_make_client(target))
    n = 40
    with TaskEnqueuer(outputs_for(receiver.url, queue_path), emulator=emulator.address) as enq:
        enq.enqueue("echo", {"i": -1})
        bulk = enq.enqueue_many((TaskSpec("echo", {"i": i}) for i in range(n)), concurrency=4,
                                validate_first=False)
    assert made == [emulator.address]  # one client for every call and thread
    assert (bulk.created, bulk.duplicates, bulk.failed) == (n, 0, 0)
    assert [r.index for r in bulk.results] == list(range(n))
    got = receiver.wait_for(n + 1)
    assert sorted(r.json()["data"]["i"] for r in got) == list(range(-1, n))


def test_cli_bulk_jsonl_over_the_emulator(emulator, queue_path, receiver, tmp_path, capsys):
    outputs = write_outputs_file(tmp_path, outputs_for(receiver.url, queue_path))
    lines = [{"kind": "echo", "data": {"i": i}, "task_id": f"job-{i}"} for i in range(10)]
    lines.append({"kind": "echo", "data": {"i": 0}, "task_id": "job-0"})  # duplicate id
    jsonl = tmp_path / "tasks.jsonl"
    jsonl.write_text("\n".join(json.dumps(x) for x in lines) + "\n\n")

    code = cli.main(["--outputs", str(outputs), "--jsonl", str(jsonl), "--emulator", emulator.address,
                     "--concurrency", "1"])
    out, err = capsys.readouterr()
    assert code == 0, err
    summary = json.loads(out)
    assert (summary["sent"], summary["created"], summary["duplicates"], summary["failed"]) == (11, 10, 1, 0)
    assert "enqueue" not in err  # no progress bar when stderr is not a terminal
    assert sorted(r.json()["data"]["i"] for r in receiver.wait_for(10)) == list(range(10))


def test_cli_single_task_via_env_emulator(emulator, queue_path, receiver, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CLOUD_TASKS_EMULATOR_HOST", emulator.address)
    outputs = write_outputs_file(tmp_path, outputs_for(receiver.url, queue_path))
    code = cli.main(["--outputs", str(outputs), "--stack", "dev", "--kind", "echo", "--data", '{"msg":"hi"}'])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(out)["status"] == "created"
    assert receiver.wait_for(1)[0].json() == {"kind": "echo", "data": {"msg": "hi"}}


def test_unknown_queue_fails_without_retrying(emulator, receiver):
    """FAILED_PRECONDITION is final: reported, not retried for the whole retry budget."""
    missing = "projects/test-project/locations/us-central1/queues/does-not-exist"
    with TaskEnqueuer(outputs_for(receiver.url, missing), emulator=emulator.address) as enq:
        started = time.monotonic()
        bulk = enq.enqueue_many([TaskSpec("echo", {})])
    assert bulk.failed == 1 and "FAILED_PRECONDITION" in bulk.results[0].error
    assert time.monotonic() - started < 2


def test_stock_emulator_has_no_task_name_dedup(receiver):
    """Documents an emulator gap: without --dedup-task-names a reused name is created twice."""
    queue = "projects/p/locations/us-central1/queues/stock"
    with Emulator([queue]) as stock:
        with TaskEnqueuer(outputs_for(receiver.url, queue), emulator=stock.address) as enq:
            statuses = [enq.enqueue("echo", {}, task_id="again").status for _ in range(2)]
        assert statuses == ["created", "created"]
        names = {r.headers["x-cloudtasks-taskname"] for r in receiver.wait_for(2)}
    assert len(names) == 1
