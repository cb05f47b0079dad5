"""The enqueuer under injected gRPC faults (UNAVAILABLE, DEADLINE_EXCEEDED, before or after the
request reached the emulator): every named task created exactly once, none lost.

Fast version of ``run_enqueue_faults`` (100 tasks); ``python -m reliability`` runs 1,000.
"""

from __future__ import annotations

import uuid
from collections import Counter

import grpc
import pytest
from google.api_core import exceptions as gexc
from google.cloud import tasks_v2

from app.enqueue import TaskEnqueuer, TaskSpec
from reliability.faults import FAULT_KINDS, FaultInjector, run_enqueue_faults
from support.processes import live_children
from tests.reliability.queues import client_for, outputs_for

UNAVAILABLE_BEFORE = (grpc.StatusCode.UNAVAILABLE, "before")
DEADLINE_AFTER = (grpc.StatusCode.DEADLINE_EXCEEDED, "after")


class Scripted(FaultInjector):
    """Faults from a script: attempt number -> fault (every task name alike)."""

    def __init__(self, script: dict[int, tuple[grpc.StatusCode, str]]) -> None:
        super().__init__(seed=0, rate=0)
        self.script = script

    def decide(self, name, attempt):
        return self.script.get(attempt)


def enqueue_one(emulator, queue, injector, task_id="order-1"):
    client, channel = client_for(emulator.address, injector)
    try:
        with TaskEnqueuer(outputs_for(queue), client=client) as enq:
            return enq.enqueue("echo", {"n": 1}, task_id=task_id)
    finally:
        channel.close()


def names_on(admin, queue) -> Counter:
    return Counter(t.name for t in admin.list_tasks(parent=queue))


def test_fault_choice_is_seeded_and_close_to_the_rate():
    a, b = FaultInjector(7, 0.3), FaultInjector(7, 0.3)
    decisions = [a.decide(f"t-{i}", k) for i in range(2000) for k in range(5)]
    assert decisions == [b.decide(f"t-{i}", k) for i in range(2000) for k in range(5)]
    faults = [d for d in decisions if d is not None]
    assert 0.28 < len(faults) / len(decisions) < 0.32
    assert set(faults) == set(FAULT_KINDS)  # both codes, before and after sending
    assert decisions != [FaultInjector(8, 0.3).decide(f"t-{i}", k) for i in range(2000) for k in range(5)]


@pytest.mark.parametrize("code, error", [(grpc.StatusCode.UNAVAILABLE, gexc.ServiceUnavailable),
                                         (grpc.StatusCode.DEADLINE_EXCEEDED, gexc.DeadlineExceeded)])
def test_injected_faults_surface_as_the_api_core_exceptions_the_retry_policy_knows(
        dedup_emulator, paused_queue, code, error):
    queue, admin = paused_queue(dedup_emulator)
    client, channel = client_for(dedup_emulator.address, Scripted({0: (code, "before")}))
    try:
        enq = TaskEnqueuer(outputs_for(queue), client=client)
        with pytest.raises(error):
            client.create_task(parent=queue, task=enq.build(TaskSpec("echo", {}, task_id="x")), retry=None, timeout=5)
    finally:
        channel.close()
    assert names_on(admin, queue) == Counter()  # "before": never reached the emulator


def test_unavailable_before_sending_is_retried_and_the_task_created_once(dedup_emulator, paused_queue):
    queue, admin = paused_queue(dedup_emulator)
    injector = Scripted({0: UNAVAILABLE_BEFORE, 1: UNAVAILABLE_BEFORE})
    res = enqueue_one(dedup_emulator, queue, injector)
    assert res.status == "created"
    assert sum(injector.attempts.values()) == 3
    assert names_on(admin, queue) == Counter({res.name: 1})


def test_deadline_after_the_emulator_created_the_task_comes_back_already_exists(dedup_emulator, paused_queue):
    """The nasty case: the task exists, the client was told DEADLINE_EXCEEDED, the retry gets
    ALREADY_EXISTS, which the enqueuer reports as a duplicate (success)."""
    queue, admin = paused_queue(dedup_emulator)
    injector = Scripted({0: DEADLINE_AFTER})
    res = enqueue_one(dedup_emulator, queue, injector)
    assert (res.status, res.ok) == ("duplicate", True)
    assert injector.masked_creates == {res.name}
    assert injector.reached == Counter({"OK": 1, "ALREADY_EXISTS": 1})
    assert names_on(admin, queue) == Counter({res.name: 1})


def test_without_name_dedup_the_same_fault_creates_the_task_twice(stock_emulator, paused_queue):
    """Why named tasks and Cloud Tasks' dedup matter: the stock emulator has none, so the retry
    after a masked create makes a second task (the worker's idempotency then has to absorb it)."""
    queue, admin = paused_queue(stock_emulator)
    res = enqueue_one(stock_emulator, queue, Scripted({0: DEADLINE_AFTER}))
    assert res.status == "created"
    assert names_on(admin, queue) == Counter({res.name: 2})


def test_run_enqueue_faults_every_task_created_exactly_once():
    before = live_children()
    r = run_enqueue_faults(n_tasks=100, fault_rate=0.3, seed=11)
    assert r.ok, r.render()
    assert (r.sent, r.failed, r.lost, r.duplicated, r.on_queue) == (100, 0, 0, 0, 100)
    assert r.created + r.duplicates == 100
    assert set(r.faults) == {"UNAVAILABLE", "DEADLINE_EXCEEDED"}
    assert r.faults_by_phase.get("DEADLINE_EXCEEDED after", 0) > 0
    assert r.duplicates == r.masked_creates > 0  # each masked create came back ALREADY_EXISTS once
    assert r.retries == r.injected == r.attempts - 100  # every fault retried, nothing else
    assert r.server_answers["OK"] == 100
    assert live_children() == before  # the emulator was stopped


def test_run_enqueue_faults_reports_duplicates_when_the_queue_does_not_dedup():
    """The check can fail: against the stock emulator the masked creates become duplicates."""
    r = run_enqueue_faults(n_tasks=100, fault_rate=0.3, seed=11, dedup_task_names=False)
    assert not r.ok
    assert r.duplicates == 0 and r.lost == 0
    assert r.duplicated == r.masked_creates > 0
    assert r.on_queue == r.server_answers["OK"] > 100  # every create that reached it made a task
    assert any("more than once" in p for p in r.problems)


def test_a_create_that_failed_does_not_burn_the_task_name(dedup_emulator):
    """Emulator fix: the name dedup used to record a name before the create succeeded, so after
    a failed create (here: the queue did not exist yet) the retry got ALREADY_EXISTS, the enqueuer
    reported success, and no task existed: a lost task."""
    admin, channel = client_for(dedup_emulator.address)
    parent = "projects/fault-tests/locations/us-central1"
    queue = f"{parent}/queues/late-{uuid.uuid4().hex[:8]}"
    try:
        with TaskEnqueuer(outputs_for(queue), client=admin) as enq:
            with pytest.raises(gexc.FailedPrecondition):
                enq.enqueue("echo", {}, task_id="early")
            admin.create_queue(parent=parent, queue=tasks_v2.Queue(name=queue))
            admin.pause_queue(name=queue)
            res = enq.enqueue("echo", {}, task_id="early")
            assert res.status == "created"
            assert names_on(admin, queue) == Counter({res.name: 1})
            assert enq.enqueue("echo", {}, task_id="early").status == "duplicate"  # dedup still works
        admin.delete_queue(name=queue)
    finally:
        channel.close()


def test_run_enqueue_faults_is_reproducible_from_its_seed():
    first, second = (run_enqueue_faults(n_tasks=60, fault_rate=0.3, seed=5) for _ in range(2))
    strip = lambda r: {k: v for k, v in r.as_dict().items() if k != "elapsed_s"}  # noqa: E731
    assert first.ok and strip(first) == strip(second)
