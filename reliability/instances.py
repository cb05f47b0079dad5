"""Several instances, measured: every task ends exactly once, as done or as a kept dead letter.

``python -m reliability.instances`` (a row of ``make reliability``; a small run in ``make test``,
tests/reliability/test_instances.py). On loopback, every process stopped at the end:

* the Cloud Tasks emulator (``app.emulator``, task-name dedup on, ``max_retries`` =
  ``max_attempts - 1``: it gives up after ``max_attempts`` attempts, retrying at once with no
  backoff and sending ``X-CloudTasks-TaskRetryCount`` = attempts before this one);
* fake-gcs-server (``app.storage_emulator``) with the dead-letter and task-name buckets;
* ``instances`` worker processes (``reliability.instances_worker:app``, separate memory, as
  Cloud Run instances are) with ``WORKER_QUEUE_MAX_ATTEMPTS`` set, the dead-letter bucket, and
  either the shared task-name bucket (``store="gcs"``) or their own in-memory stores;
* a round-robin proxy in front of them (reliability/proxy.py) that sends a seeded share of the
  requests twice, to two instances (half at once, half after the first answer).

Tasks are ``chaos`` tasks: a share fails permanently (a bug), the others fail transiently on a
seeded 30 % of attempts, so with a low ``max_attempts`` some run out. Ground truth: the shared
append-only ledger of side effects and the dead-letter objects in the bucket; per logical task
exactly one of "one effect" or "one dead letter". Then (``replay=True``) the fix is deployed
(new worker processes, ``CHAOS_FIXED=1``, the outage over: no faults) and ``replay_dead_letters``
re-enqueues every dead letter through the normal TaskEnqueuer: each must then have one effect,
and a second replay must find nothing left.

Tokens are on, as in production: the emulator signs each task's OIDC token (``app.oidc_standin``,
the local stand-in for Google's signer), the proxy passes ``Authorization`` through to the
instance and to any copy, and every worker runs with ``WORKER_AUTH=required`` for the fixed
:data:`AUDIENCE` and :data:`INVOKER` that the enqueuer's outputs name, and ``WORKER_CERTS_URL``
the emulator's certificates. Any answer 401/403 (original or copy, before or after the replay)
is counted in ``rejected`` and fails the run, as in reliability/faults.py.
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from app.demo import WorkerProcess
from app.emulator import Emulator
from app.enqueue import StackOutputs, TaskEnqueuer, TaskSpec, replay_dead_letters
from app.enqueue.client import make_client
from app.storage_emulator import StorageEmulator
from reliability import instances_worker as chaos

PROJECT, LOCATION = "reliability-instances", "us-central1"
INVOKER = f"instances-invoker@{PROJECT}.iam.gserviceaccount.com"
#: What the tasks' tokens are for and what every instance accepts (one service behind the proxy).
AUDIENCE = "https://instances-worker.reliability.invalid"
DEAD_LETTERS, TASK_NAMES = "instances-dead-letters", "instances-task-names"
DEFAULT_SEED = 20260901
QUIET_S = 1.0


class ChaosWorker(WorkerProcess):
    APP = "reliability.instances_worker:app"


@dataclass
class InstancesResult:
    store: str
    tasks: int
    instances: int
    failure_rate: float
    permanent: int
    max_attempts: int
    seed: int
    attempts: int = 0
    """requests the proxy passed on (copies excluded)"""
    copies: int = 0
    """duplicate deliveries injected"""
    faults: int = 0
    done: int = 0
    """tasks with exactly one effect and no dead letter"""
    dead_letters: int = 0
    """tasks kept as exactly one dead letter and no effect"""
    dead_letters_exhausted: int = 0
    lost: int = 0
    double_effects: int = 0
    """tasks whose effect happened more than once"""
    ended_twice: int = 0
    """tasks with an effect and a dead letter, or two dead letters"""
    replayed: int = 0
    completed_after_replay: int = 0
    second_replay_pending: int = -1
    rejected: int = 0
    """attempts and copies an instance answered 401/403 (a refused token): any one fails the run"""
    elapsed_s: float = 0.0
    timed_out: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def figure(self) -> str:
        text = (f"{self.tasks} tasks, {self.instances} instances, {self.failure_rate:.0%} transient faults "
                f"({self.faults}), {self.permanent} permanent, max_attempts {self.max_attempts}, "
                f"{self.copies} duplicate deliveries, tokens checked ({self.rejected} refused): "
                f"lost {self.lost}, double effects {self.double_effects}, "
                f"done {self.done}, dead letters stored {self.dead_letters} "
                f"({self.dead_letters_exhausted} out of attempts)")
        if self.second_replay_pending >= 0:
            text += (f", replayed {self.replayed}, completed after replay {self.completed_after_replay}, "
                     f"left after a second replay {self.second_replay_pending}")
        return text


def _queue() -> str:
    return f"projects/{PROJECT}/locations/{LOCATION}/queues/instances-{secrets.token_hex(4)}"


def _wait_quiet(admin: Any, queue: str, proxy: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.3)
        if proxy.idle_for() >= QUIET_S and not list(admin.list_tasks(parent=queue)):
            return True
    return False


def run_instances(
    n_tasks: int = 1000,
    *,
    instances: int = 3,
    failure_rate: float = 0.3,
    permanent_share: float = 0.05,
    max_attempts: int = 3,
    duplicate_rate: float = 0.1,
    store: str = "gcs",
    replay: bool = True,
    seed: int = DEFAULT_SEED,
    wait_s: float | None = None,
    worker_env: dict[str, str] | None = None,
) -> InstancesResult:
    """One run (module docstring); ``store`` is ``gcs`` (shared) or ``memory`` (per process).

    ``worker_env``: extra settings for every instance (a test gives them another audience to
    show that refused tokens fail the run)."""
    from reliability.proxy import RoundRobinProxy

    if store not in ("gcs", "memory"):
        raise ValueError(f"store must be 'gcs' or 'memory', got {store!r}")
    rng = random.Random(seed)
    permanent = set(rng.sample(range(n_tasks), round(n_tasks * permanent_share)))
    result = InstancesResult(store=store, tasks=n_tasks, instances=instances, failure_rate=failure_rate,
                             permanent=len(permanent), max_attempts=max_attempts, seed=seed)
    wait_s = wait_s if wait_s is not None else 60.0 + 0.15 * n_tasks
    started = time.perf_counter()
    queue = _queue()
    with tempfile.TemporaryDirectory(prefix="instances-") as tmp, \
            StorageEmulator([DEAD_LETTERS, TASK_NAMES]) as gcs, \
            Emulator([queue], max_retries=max_attempts - 1, dedup_task_names=True) as emulator:
        ledger = Path(tmp) / "ledger.txt"

        def env(name: str, *, fixed: bool, rate: float) -> dict[str, str]:
            values = {"WORKER_AUTH": "required", "WORKER_AUDIENCE": AUDIENCE, "WORKER_INVOKER_EMAIL": INVOKER,
                      "WORKER_CERTS_URL": emulator.certs_url, "WORKER_LOG_LEVEL": "WARNING",
                      "WORKER_DEAD_LETTER_BUCKET": DEAD_LETTERS, "WORKER_QUEUE_MAX_ATTEMPTS": str(max_attempts),
                      "WORKER_LAST_ATTEMPT_WAIT_SECONDS": "20", **gcs.env,
                      "CHAOS_LEDGER": str(ledger), "CHAOS_SEED": str(seed), "CHAOS_FAILURE_RATE": repr(rate),
                      "CHAOS_FIXED": "1" if fixed else "", "CHAOS_INSTANCE": name}
            if store == "gcs":
                values["WORKER_TASK_NAME_BUCKET"] = TASK_NAMES
            return {**values, **(worker_env or {})}

        admin = make_client(emulator.address)
        workers = [ChaosWorker(env(f"w{n}", fixed=False, rate=failure_rate)) for n in range(instances)]
        try:
            for worker in workers:
                worker.start()
            with RoundRobinProxy([w.url for w in workers], duplicate_rate=duplicate_rate, seed=seed) as proxy:
                outputs = StackOutputs(service_url=proxy.url, audience=AUDIENCE, queue_path=queue,
                                       invoker_email=INVOKER, dispatch_deadline_seconds=600, stack="instances",
                                       dead_letter_bucket=DEAD_LETTERS)
                specs = [TaskSpec(chaos.KIND, {"i": i, "permanent": i in permanent}, task_id=f"mi-{seed}-{i}")
                         for i in range(n_tasks)]
                with TaskEnqueuer(outputs, emulator=emulator.address) as enq:
                    bulk = enq.enqueue_many(specs, concurrency=8)
                    if bulk.failed:
                        result.problems.append(f"{bulk.failed} create call(s) failed")
                    if not _wait_quiet(admin, queue, proxy, wait_s):
                        result.timed_out = True
                        result.problems.append(f"timed out after {wait_s:.0f} s waiting for the queue to drain")
                    result.attempts, result.copies = proxy.requests, sum(proxy.copies.values())
                    rows = chaos.read_ledger(ledger)
                    letters = _dead_letters(gcs)
                    _judge(result, rows, letters)
                    if replay and store == "gcs" and not result.timed_out:
                        for worker in workers:
                            worker.stop()
                        workers = [ChaosWorker(env(f"r{n}", fixed=True, rate=0.0)) for n in range(instances)]
                        for worker in workers:
                            worker.start()
                        proxy.set_backends([w.url for w in workers])
                        client = gcs.client()
                        first = replay_dead_letters(enq, DEAD_LETTERS, storage_client=client)
                        result.replayed = first.count("replayed")
                        if not first.ok:
                            result.problems.append(f"replay: {first.summary()}")
                        if not _wait_quiet(admin, queue, proxy, wait_s):
                            result.problems.append("timed out waiting for the replayed tasks")
                        second = replay_dead_letters(enq, DEAD_LETTERS, storage_client=client)
                        result.second_replay_pending = len(second.items)
                        client.close()
                        _judge_replay(result, chaos.read_ledger(ledger), letters)
                    result.rejected = proxy.refused
                    if result.rejected:
                        result.problems.append(
                            f"{result.rejected} attempt(s) refused by the workers' token check (401/403: "
                            f"{dict(proxy.statuses)}, copies {dict(proxy.copy_statuses)}): tokens for "
                            f"{AUDIENCE!r} and {INVOKER!r}, the workers' settings "
                            f"{env('-', fixed=False, rate=0.0)['WORKER_AUDIENCE']!r} and "
                            f"{env('-', fixed=False, rate=0.0)['WORKER_INVOKER_EMAIL']!r}")
        finally:
            for worker in workers:
                worker.stop()
            admin.transport.close()
    result.elapsed_s = time.perf_counter() - started
    return result


def _dead_letters(gcs: StorageEmulator) -> list[tuple[int, dict[str, str]]]:
    """``(i, metadata)`` of every dead letter kept (``i`` read from the kept body)."""
    client = gcs.client()
    try:
        found = []
        for blob in client.list_blobs(DEAD_LETTERS, prefix="dead-letters/"):
            body = json.loads(blob.download_as_bytes())
            found.append((int(body["data"]["i"]), dict(blob.metadata or {})))
        return found
    finally:
        client.close()


def _judge(result: InstancesResult, rows: list[tuple[str, int, str, str, int]],
           letters: list[tuple[int, dict[str, str]]]) -> None:
    effects = Counter(i for event, i, *_ in rows if event == chaos.EFFECT)
    kept = Counter(i for i, _ in letters)
    result.faults = sum(1 for event, *_ in rows if event == chaos.FAULT)
    result.dead_letters_exhausted = sum(1 for _, meta in letters if meta.get("cause") == "retries-exhausted")
    for i in range(result.tasks):
        e, d = effects.get(i, 0), kept.get(i, 0)
        result.done += e == 1 and d == 0
        result.dead_letters += e == 0 and d == 1
        result.lost += e == 0 and d == 0
        result.double_effects += e > 1
        result.ended_twice += (e >= 1 and d >= 1) or d > 1
    p = result.problems
    if result.lost:
        p.append(f"{result.lost} task(s) lost: no effect and no dead letter")
    if result.double_effects:
        p.append(f"{result.double_effects} task(s) with more than one effect")
    if result.ended_twice:
        p.append(f"{result.ended_twice} task(s) ended twice (effect and dead letter, or two dead letters)")
    if result.tasks >= 50 and (result.faults == 0 or result.copies == 0 or result.dead_letters_exhausted == 0):
        p.append("the run proves little: no faults, no duplicate deliveries or no task ran out of attempts")


def _judge_replay(result: InstancesResult, rows: list[tuple[str, int, str, str, int]],
                  letters: list[tuple[int, dict[str, str]]]) -> None:
    effects = Counter(i for event, i, *_ in rows if event == chaos.EFFECT)
    dead = {i for i, _ in letters}
    result.completed_after_replay = sum(1 for i in dead if effects.get(i, 0) == 1)
    doubles = sum(1 for n in effects.values() if n > 1)
    p = result.problems
    if result.replayed != len(dead):
        p.append(f"replayed {result.replayed} of {len(dead)} dead letters")
    if result.completed_after_replay != len(dead):
        p.append(f"{len(dead) - result.completed_after_replay} replayed task(s) not completed exactly once")
    if doubles:
        p.append(f"after replay, {doubles} task(s) with more than one effect")
    if result.second_replay_pending != 0:
        p.append(f"a second replay found {result.second_replay_pending} dead letter(s) still pending")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reliability.instances", description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--store", choices=["gcs", "memory", "both"], default="both")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args(argv)
    ok = True
    for store in (["gcs", "memory"] if args.store == "both" else [args.store]):
        result = run_instances(args.tasks, store=store, seed=args.seed)
        print(json.dumps({**asdict(result), "ok": result.ok}, indent=2))
        ok = ok and (result.ok if store == "gcs" else result.double_effects > 0 or not result.copies)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
