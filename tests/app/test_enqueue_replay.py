"""Replay end to end: the Cloud Tasks emulator delivers to the shipped worker (live process), which
keeps its dead letters in the storage emulator; ``python -m app.enqueue replay`` then re-enqueues
them through TaskEnqueuer to a fixed target, marks them, and a second run replays nothing.

Tokens are on: the worker runs with ``WORKER_AUTH=required`` for the audience and invoker the
enqueuer's outputs name, against the emulator's local signer (``certs_url``); a refused
attempt (401/403) fails the fixture at once."""

from __future__ import annotations

import json
import time

import pytest

from app.demo import DEAD_LETTER, REJECTED, WorkerProcess
from app.enqueue import BodyTaskSpec, StackOutputs, TaskEnqueuer
from app.enqueue.cli import main, replay_main
from app.enqueue.replay import REPLAYED_AS, REPLAYED_AT, replay_dead_letters, replay_task_id
from app.enqueue.tasks import task_name_id
from tests.plugins.emulator import outputs_for

BAD_EMAIL = {"to": ["ada@example.invalid"], "subject": "hi"}


def wait_for_objects(gcs_client, bucket, n, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        blobs = list(gcs_client.list_blobs(bucket, prefix="dead-letters/"))
        if len(blobs) >= n:
            return blobs
        time.sleep(0.1)
    pytest.fail(f"{n} dead letters not stored in {timeout} s")


def write_outputs(tmp_path, outputs: StackOutputs):
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({"dev": outputs.to_json()}))
    return path


def token_env(emulator, outputs: StackOutputs) -> dict[str, str]:
    """The worker's token check, wired to what the enqueuer's outputs name."""
    return {"WORKER_AUTH": "required", "WORKER_AUDIENCE": outputs.audience,
            "WORKER_INVOKER_EMAIL": outputs.invoker_email, "WORKER_CERTS_URL": emulator.certs_url,
            "WORKER_LOG_LEVEL": "INFO"}  # the per-attempt lines, refused ones included


@pytest.fixture
def dead_letters_on_file(emulator, queue_path, storage_emulator, bucket_name, gcs_client):
    """Two tasks the shipped worker dead-letters: a permanent failure and a body that is not JSON."""
    # The audience and invoker do not depend on the worker's URL: wire the worker from them first.
    env = {**token_env(emulator, outputs_for("unused", queue_path)), "WORKER_DEAD_LETTER_BUCKET": bucket_name,
           **storage_emulator.env}
    with WorkerProcess(env) as worker:
        with TaskEnqueuer(outputs_for(worker.url, queue_path), emulator=emulator.address) as enq:
            enq.enqueue("send_email", BAD_EMAIL, task_id="mail-1")
            enq.enqueue_spec(BodyTaskSpec(b"\x00not json", task_id="junk-1"))
        worker.wait_for(lambda ds: sum(d.outcome == DEAD_LETTER for d in ds) >= 2
                        or any(d.outcome == REJECTED for d in ds), 20)
        refused = [d.record for d in worker.snapshot() if d.outcome == REJECTED]
        assert refused == [], f"the worker refused the emulator's tokens: {refused}"
        return wait_for_objects(gcs_client, bucket_name, 2)


def test_replay_re_enqueues_each_dead_letter_once_and_marks_it(
    dead_letters_on_file, emulator, queue_path, receiver, bucket_name, gcs_client, tmp_path, capsys,
    storage_emulator, monkeypatch
):
    outputs = outputs_for(receiver.url, queue_path)  # the fixed worker: the receiver answers 200
    outputs = StackOutputs(**{**outputs.__dict__, "dead_letter_bucket": bucket_name})
    path = write_outputs(tmp_path, outputs)
    argv = ["replay", "--outputs", str(path), "--emulator", emulator.address]

    assert replay_main(argv[1:] + ["--dry-run"], storage_client=gcs_client) == 0
    lines = capsys.readouterr().out.splitlines()
    assert json.loads(lines[-1]) | {"bucket": None} == {
        "bucket": None, "dry_run": True, "found": 2, "already_replayed": 0, "pending": 2, "replayed": 0,
        "already_on_queue": 0, "would_replay": 2, "raced": 0, "failed": 0}
    receiver.assert_quiet(0.5)  # a dry run sends nothing

    assert replay_main(argv[1:], storage_client=gcs_client) == 0
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert (summary["replayed"], summary["failed"]) == (2, 0)
    received = receiver.wait_for(2)
    got = {r.headers["x-cloudtasks-taskname"]: r.body for r in received}
    # Replayed tasks carry the invoker's OIDC token like any other (signed by the emulator).
    assert all(r.headers.get("authorization", "").startswith("Bearer ") for r in received)
    for blob in dead_letters_on_file:
        expected_id = task_name_id(replay_task_id(blob.name, blob.metadata["task"]))
        assert got[expected_id] == blob.download_as_bytes()  # the body exactly as kept
        marked = gcs_client.bucket(bucket_name).get_blob(blob.name).metadata
        assert REPLAYED_AT in marked and marked[REPLAYED_AS].endswith("/tasks/" + expected_id)
        assert marked["task"] == blob.metadata["task"]  # the rest of the record is untouched

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", storage_emulator.url)  # the CLI's own storage client
    assert main(argv) == 0  # through the CLI entry point: nothing left to replay
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert (summary["found"], summary["already_replayed"], summary["replayed"]) == (2, 2, 0)
    receiver.assert_quiet(0.5)


def test_an_interrupted_replay_is_finished_without_a_second_task(
    dead_letters_on_file, emulator, queue_path, receiver, bucket_name, gcs_client
):
    """Created but not marked (the run stopped in between): the next run gets ALREADY_EXISTS for
    the derived id, counts it on the queue, and marks it; the target gets one task per letter."""
    outputs = outputs_for(receiver.url, queue_path)
    blob = dead_letters_on_file[0]
    with TaskEnqueuer(outputs, emulator=emulator.address) as enq:
        enq.enqueue_spec(BodyTaskSpec(blob.download_as_bytes(), task_id=replay_task_id(blob.name, blob.metadata["task"])))
        result = replay_dead_letters(enq, bucket_name, storage_client=gcs_client)
    assert (result.count("already_on_queue"), result.count("replayed")) == (1, 1)
    assert len(receiver.wait_for(2)) == 2
    receiver.assert_quiet(0.5)


def test_replay_without_a_bucket_is_a_usage_error(tmp_path, queue_path, capsys):
    path = write_outputs(tmp_path, outputs_for("https://w.example.test", queue_path))
    assert replay_main(["--outputs", str(path)]) == 2
    assert "no dead_letter_bucket" in capsys.readouterr().err


def test_outputs_carry_the_store_buckets_only_when_declared(queue_path):
    plain = outputs_for("https://w.example.test", queue_path)
    assert "dead_letter_bucket" not in plain.to_json()
    from app.enqueue.outputs import parse_outputs

    doc = {"dev": {**plain.to_json(), "dead_letter_bucket": "p-dl", "task_name_bucket": "p-tn"}}
    parsed = parse_outputs(doc)
    assert (parsed.dead_letter_bucket, parsed.task_name_bucket) == ("p-dl", "p-tn")


def test_derived_ids_are_stable_valid_and_distinct():
    a = replay_task_id("dead-letters/abc-order-1", "order-1")
    assert a == replay_task_id("dead-letters/abc-order-1", "order-1")
    assert a != replay_task_id("dead-letters/abd-order-1", "order-1")
    task_name_id(a)  # a valid Cloud Tasks id (raises otherwise)
    task_name_id(replay_task_id("dead-letters/x", "y" * 600))
