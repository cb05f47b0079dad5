"""Benchmark: creating N tasks on the Cloud Tasks emulator three ways, in one run.

1. enqueuer   - the project's ``TaskEnqueuer.enqueue_many`` (one client, thread pool, retry policy);
2. seed       - the seed's pattern: a NEW ``CloudTasksClient`` per task, sequential;
3. ceiling    - a bare loop on one long-lived client (what the emulator itself can take).

The queue is PAUSED (the emulator supports PauseQueue) so it dispatches nothing while tasks
are created: only CreateTask is measured. It is purged before every run. Each method runs
``--rounds`` times in rotating order (loopback timings on a shared machine are noisy); the
median rate per method is reported and the ratios are taken between medians.

    .venv/bin/python -m bench.enqueue            # N=2000
    .venv/bin/python -m bench.enqueue --quick    # N=300
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import grpc
from google.cloud import tasks_v2
from google.cloud.tasks_v2.services.cloud_tasks.transports import CloudTasksGrpcTransport

from app.emulator import Emulator
from app.enqueue import StackOutputs, TaskEnqueuer, TaskSpec
from app.enqueue.defaults import CONCURRENCY
from app.enqueue.tasks import build_task

QUEUE = "projects/bench/locations/us-central1/queues/bench"
#: Nothing listens here; the queue is paused anyway.
SERVICE_URL = "http://127.0.0.1:9"
TARGET_VS_CEILING = 0.90
TARGET_VS_SEED = 2.0
WARMUP = 20


def outputs() -> StackOutputs:
    return StackOutputs(service_url=SERVICE_URL, audience="https://bench.example.test", queue_path=QUEUE,
                        invoker_email="invoker@bench.iam.gserviceaccount.com", dispatch_deadline_seconds=600,
                        stack="bench")


def specs(n: int) -> list[TaskSpec]:
    return [TaskSpec("echo", {"i": i, "msg": "benchmark task"}) for i in range(n)]


def new_client(address: str) -> tasks_v2.CloudTasksClient:
    return tasks_v2.CloudTasksClient(transport=CloudTasksGrpcTransport(channel=grpc.insecure_channel(address)))


def run_enqueuer(address: str, items: list[TaskSpec], concurrency: int) -> float:
    with TaskEnqueuer(outputs(), emulator=address) as enq:
        enq.enqueue_many(specs(WARMUP), concurrency=concurrency)
        started = time.perf_counter()
        result = enq.enqueue_many(items, concurrency=concurrency)
        elapsed = time.perf_counter() - started
    if result.created != len(items):
        raise SystemExit(f"enqueuer created {result.created}/{len(items)}: {result.summary()}")
    return elapsed


def run_seed(address: str, items: list[TaskSpec]) -> float:
    """A client per task, as the seed did (here each one is closed; the seed leaked them)."""
    out = outputs()
    started = time.perf_counter()
    for spec in items:
        client = new_client(address)
        client.create_task(parent=QUEUE, task=build_task(spec, out))
        client.transport.close()
    return time.perf_counter() - started


def run_ceiling(address: str, items: list[TaskSpec]) -> float:
    out = outputs()
    client = new_client(address)
    try:
        for spec in specs(WARMUP):
            client.create_task(parent=QUEUE, task=build_task(spec, out))
        started = time.perf_counter()
        for spec in items:
            client.create_task(parent=QUEUE, task=build_task(spec, out))
        return time.perf_counter() - started
    finally:
        client.transport.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("-n", "--tasks", type=int, default=2000, help="tasks per method (default: %(default)s)")
    p.add_argument("--quick", action="store_true", help="300 tasks per method, 5 rounds")
    p.add_argument("--rounds", type=int, help="runs per method, median kept (default: 3, --quick: 5)")
    p.add_argument("--concurrency", type=int, default=CONCURRENCY, help="enqueuer threads (default: %(default)s)")
    p.add_argument("--json", type=Path, metavar="PATH", help="also write the figures as JSON")
    p.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    args = p.parse_args(argv)
    n = 300 if args.quick else args.tasks
    if args.rounds is None:
        args.rounds = 5 if args.quick else 3
    if n < 1 or args.rounds < 1:
        p.error("--tasks and --rounds must be >= 1")
    items = specs(n)

    samples: dict[str, list[float]] = {"ceiling": [], "seed": [], "enqueuer": []}
    with Emulator([QUEUE], log_level="ERROR") as emu:
        admin_channel = grpc.insecure_channel(emu.address)
        try:
            admin = tasks_v2.CloudTasksClient(transport=CloudTasksGrpcTransport(channel=admin_channel))
            admin.pause_queue(name=QUEUE)
            if admin.get_queue(name=QUEUE).state != tasks_v2.Queue.State.PAUSED:
                raise SystemExit("the emulator did not pause the queue; dispatch would distort the figures")
            runs: dict[str, Callable[[], float]] = {
                "ceiling": lambda: run_ceiling(emu.address, items),
                "seed": lambda: run_seed(emu.address, items),
                "enqueuer": lambda: run_enqueuer(emu.address, items, args.concurrency),
            }
            order = list(runs)
            for r in range(args.rounds):
                for name in order[r % 3:] + order[: r % 3]:
                    admin.purge_queue(name=QUEUE)
                    elapsed = runs[name]()
                    samples[name].append(n / elapsed)
                    print(f"round {r + 1}  {name:<9} {n:>6} tasks in {elapsed:6.2f} s  {n / elapsed:7.1f} tasks/s",
                          flush=True)
        finally:
            admin_channel.close()

    rates = {name: statistics.median(values) for name, values in samples.items()}
    print(f"median of {args.rounds} round(s), tasks/s: " + ", ".join(f"{k} {v:.0f}" for k, v in rates.items()))
    vs_ceiling = rates["enqueuer"] / rates["ceiling"]
    vs_seed = rates["enqueuer"] / rates["seed"]
    ok = vs_ceiling >= TARGET_VS_CEILING and vs_seed >= TARGET_VS_SEED
    print(f"enqueuer / ceiling = {vs_ceiling:.2f} (target >= {TARGET_VS_CEILING:.2f})")
    print(f"enqueuer / seed    = {vs_seed:.2f} (target >= {TARGET_VS_SEED:.1f})")
    print("targets met" if ok else "TARGETS MISSED")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "tasks": n, "rounds": args.rounds, "concurrency": args.concurrency, "rates_per_s": rates,
            "samples_per_s": samples,
            "enqueuer_vs_ceiling": vs_ceiling, "enqueuer_vs_seed": vs_seed, "targets_met": ok,
            "python": platform.python_version(), "cpus": os.cpu_count(),
        }, indent=2) + "\n")
    return 1 if args.check and not ok else 0


if __name__ == "__main__":
    raise SystemExit(main())
