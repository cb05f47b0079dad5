"""Tasks through the emulator to the worker while the handler fails transiently on a seeded 30%
of attempts: every side effect exactly once, none lost, duplicates suppressed.

Fast version of ``run_task_faults`` (200 tasks); ``python -m reliability`` runs 1,000.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from app.worker.handlers import registry as default_registry
from reliability.faults import run_task_faults
from reliability.flaky_worker import EFFECT, FAULT, FlakyConfig, should_fail
from support.processes import live_children


def headers(name: str, attempt: int) -> dict[str, str]:
    return {"X-CloudTasks-QueueName": "projects/p/locations/l/queues/q", "X-CloudTasks-TaskName": name,
            "X-CloudTasks-TaskRetryCount": str(attempt), "X-CloudTasks-TaskExecutionCount": str(attempt)}


def test_fault_coin_is_seeded_and_close_to_the_rate():
    coins = [should_fail(3, f"task-{i}", k, 0.3) for i in range(4000) for k in range(3)]
    assert coins == [should_fail(3, f"task-{i}", k, 0.3) for i in range(4000) for k in range(3)]
    assert 0.28 < sum(coins) / len(coins) < 0.32
    assert not any(should_fail(3, f"task-{i}", 0, 0.0) for i in range(1000))


def test_flaky_worker_fails_by_attempt_records_effects_and_keeps_the_shipped_kinds(flaky_client):
    client, ledger = flaky_client(seed=5, failure_rate=0.3)
    name = next(f"t-{i}" for i in range(1000) if should_fail(5, f"t-{i}", 0, 0.3) and not should_fail(5, f"t-{i}", 1, 0.3))

    first = client.post("/tasks", json={"kind": "flaky", "data": {"i": 1}}, headers=headers(name, 0))
    assert first.status_code == 503 and first.json()["status"] == "retry"
    second = client.post("/tasks", json={"kind": "flaky", "data": {"i": 1}}, headers=headers(name, 1))
    assert second.status_code == 200 and second.json()["status"] == "done"
    again = client.post("/tasks", json={"kind": "flaky", "data": {"i": 1}}, headers=headers(name, 2))
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert ledger.read() == [(FAULT, name, 0), (EFFECT, name, 1)]  # the duplicate did not run

    echo = client.post("/tasks", json={"kind": "echo", "data": {"x": 1}}, headers=headers("e-1", 0))
    assert echo.status_code == 200 and echo.json()["result"] == {"x": 1}
    assert "flaky" not in default_registry  # the shipped registry is untouched


def test_flaky_app_needs_a_ledger():
    with pytest.raises(RuntimeError, match="FLAKY_LEDGER"):
        FlakyConfig.from_env({})
    assert FlakyConfig.from_env({"FLAKY_LEDGER": "/tmp/x", "FLAKY_SEED": "4", "FLAKY_FAILURE_RATE": "0.5"}) == \
        FlakyConfig(Path("/tmp/x"), 4, 0.5)
    with pytest.raises(ValueError, match="failure_rate"):
        FlakyConfig(Path("/tmp/x"), 0, 1.0)


def test_run_task_faults_every_side_effect_exactly_once(tmp_path):
    before = live_children()
    r = run_task_faults(n_tasks=200, failure_rate=0.3, seed=11, work_dir=tmp_path)
    assert r.ok, r.render()
    assert (r.sent, r.unique_tasks, r.created, r.duplicates_sent) == (220, 200, 220, 20)
    assert (r.handled, r.lost, r.duplicated, r.dead_lettered) == (200, 0, 0, 0)
    assert r.duplicates_suppressed == 20  # every extra copy acknowledged without running
    assert r.retried == r.injected_faults > 30  # about 30% of attempts failed and were redelivered
    assert r.deliveries == r.created + r.retried
    assert live_children() == before  # emulator and worker stopped
    assert list(tmp_path.iterdir()) == []  # the ledger's temporary directory is gone


def test_run_task_faults_catches_a_task_run_twice(tmp_path):
    """The check can fail: with an idempotency store of one entry, redeliveries run again."""
    r = run_task_faults(n_tasks=40, failure_rate=0.3, seed=11, duplicate_every=2, work_dir=tmp_path,
                        worker_env={"WORKER_IDEMPOTENCY_MAX_ENTRIES": "1"})
    assert not r.ok
    assert r.duplicated > 0 and r.handled > r.unique_tasks
    assert any("more than once" in p for p in r.problems)


def test_run_task_faults_catches_a_lost_task(tmp_path):
    """The check can fail: an emulator that never retries drops the tasks whose attempt failed."""
    r = run_task_faults(n_tasks=40, failure_rate=0.3, seed=11, duplicate_every=0, work_dir=tmp_path,
                        emulator_max_retries=0, wait_s=3)
    assert not r.ok
    assert r.lost == r.injected_faults > 0 and r.duplicated == 0
    assert any("lost" in p for p in r.problems)
