"""Faults end to end: every task's side effect happens exactly once, and none is lost.

Two runs, each on loopback with the Cloud Tasks emulator (``app.emulator``) and stopping every
process it starts (also on errors and Ctrl-C):

:func:`run_task_faults`
    N ``flaky`` tasks go through the emulator to the worker (``reliability.flaky_worker:app``,
    the shipped worker plus the fault-injecting kind) while the handler fails transiently on a
    seeded ``failure_rate`` of attempts and the emulator redelivers. Some task ids are enqueued
    twice (the stock emulator keeps no task-name dedup and delivers both), so the worker's
    idempotency store has duplicates to suppress. Side effects are counted from the worker's
    ledger file, retries and suppressed duplicates from its per-attempt JSON log lines. The
    worker checks tokens (``WORKER_AUTH=required``): the emulator signs each task's OIDC token
    with its local stand-in for Google's signer (``app.oidc_standin``), whose certificate URL is
    the worker's ``WORKER_CERTS_URL``; any attempt the token check refuses fails the run.

:func:`run_enqueue_faults`
    N named tasks are created with the project's ``TaskEnqueuer`` (its default retry policy)
    through a gRPC client interceptor that fails a seeded ``fault_rate`` of CreateTask calls
    with UNAVAILABLE or DEADLINE_EXCEEDED, either before the request is sent or *after* the
    emulator has answered (the task exists, the client is told it failed, and the retry gets
    ALREADY_EXISTS, which must count as success). The emulator runs with
    ``dedup_task_names=True`` (Cloud Tasks' behaviour) and the queue is paused, so its own
    task list is the ground truth: each name must be there exactly once.

Both return a result whose ``problems`` list is empty when the guarantees hold.
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import secrets
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import grpc
from google.auth.credentials import AnonymousCredentials
from google.cloud import tasks_v2
from google.cloud.tasks_v2.services.cloud_tasks.transports import CloudTasksGrpcTransport

from app.demo import DEAD_LETTER, DUPLICATE, FINAL, HANDLED, REJECTED, RETRIED, WorkerProcess
from app.emulator import Emulator
from app.enqueue import StackOutputs, TaskEnqueuer, TaskSpec
from reliability import flaky_worker

REPO_ROOT = Path(__file__).resolve().parent.parent
PROJECT, LOCATION = "reliability-faults", "us-central1"
INVOKER = f"faults-invoker@{PROJECT}.iam.gserviceaccount.com"
#: The fault run has no stack: a custom audience of its own, as the shipped stacks set one.
AUDIENCE = f"https://faults-worker.{LOCATION}.{PROJECT}.tasks.invalid"
DEFAULT_SEED = 20240601
CREATE_TASK = "/google.cloud.tasks.v2.CloudTasks/CreateTask"
#: After the last expected outcome, keep listening this long to catch extra deliveries.
SETTLE_S = 0.5

Log = Callable[[str], None]


def _quiet(_msg: str) -> None:
    pass


def _unit(*parts: object) -> float:
    """A uniform number in [0, 1) from the parts (stable across runs and processes)."""
    digest = hashlib.sha256("\x00".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def _queue_path(prefix: str) -> str:
    return f"projects/{PROJECT}/locations/{LOCATION}/queues/{prefix}-{secrets.token_hex(4)}"


# --- (A) handler faults: emulator -> worker ---

@dataclass
class FaultRunResult:
    """Counts of one :func:`run_task_faults` run."""

    seed: int
    failure_rate: float
    sent: int = 0
    """create calls (unique tasks plus the ids sent twice on purpose)"""
    unique_tasks: int = 0
    created: int = 0
    enqueue_failed: int = 0
    deliveries: int = 0
    """attempts the worker answered (from its per-attempt log lines)"""
    handled: int = 0
    """side effects, counted from the ledger"""
    retried: int = 0
    """attempts answered 409/429/5xx, so redelivered by the emulator"""
    injected_faults: int = 0
    """TransientErrors raised by the flaky handler (from the ledger)"""
    duplicates_sent: int = 0
    """extra copies of a task id created on purpose"""
    duplicates_suppressed: int = 0
    """deliveries the worker acknowledged without running (task name already done)"""
    dead_lettered: int = 0
    rejected: int = 0
    """attempts the worker's token check refused (401/403, or 503 without certificates)"""
    lost: int = 0
    """tasks with no side effect"""
    duplicated: int = 0
    """tasks with more than one side effect"""
    max_attempts: int = 0
    """most attempts one delivery needed"""
    enqueue_s: float = 0.0
    elapsed_s: float = 0.0
    timed_out: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}

    def render(self) -> str:
        lines = [
            f"task faults: {self.unique_tasks} tasks, handler fails {self.failure_rate:.0%} of attempts "
            f"(seed {self.seed}), emulator redelivers, WORKER_AUTH=required (tokens from the emulator's"
            " local OIDC signer)",
            f"  sent                   {self.sent:>6}  create calls ({self.duplicates_sent} ids sent twice on purpose)",
            f"  created                {self.created:>6}  accepted by the emulator (stock: no task-name dedup)",
            f"  deliveries             {self.deliveries:>6}  attempts answered by the worker",
            f"  handled                {self.handled:>6}  side effects in the ledger",
            f"  retried                {self.retried:>6}  attempts answered 503 and redelivered"
            f" ({self.injected_faults} faults injected; most attempts for one delivery: {self.max_attempts})",
            f"  duplicates suppressed  {self.duplicates_suppressed:>6}  deliveries skipped by the worker's task-name dedup",
            f"  rejected               {self.rejected:>6}  attempts refused by the worker's token check",
            f"  lost                   {self.lost:>6}  tasks with no side effect",
            f"  duplicated             {self.duplicated:>6}  tasks with more than one side effect",
            f"  elapsed                {self.elapsed_s:>6.1f}  s (enqueue {self.enqueue_s:.1f} s)",
        ]
        if self.ok:
            lines.append("  result: OK, every task's side effect happened exactly once")
        else:
            lines.append("  result: FAILED")
            lines += [f"    - {p}" for p in self.problems]
        return "\n".join(lines)


class FlakyWorkerProcess(WorkerProcess):
    """``uvicorn reliability.flaky_worker:app`` on a free loopback port (the demo's process
    handling: JSON log lines classified per attempt, stopped on exit)."""

    APP = "reliability.flaky_worker:app"


def task_fault_specs(n_tasks: int, seed: int, duplicate_every: int) -> list[TaskSpec]:
    """``n_tasks`` flaky tasks, every ``duplicate_every``-th id twice, in a seeded shuffled order.

    Ids derive from the seed (each run has its own emulator and worker), and the handler draws
    each fault from (seed, task name, attempt), so the same seed gives every task name the same
    fault sequence. What is exact for a seed: ``sent``, ``created``, ``unique_tasks``,
    ``duplicates_sent``, ``duplicates_suppressed``, ``handled``, ``max_attempts`` (and ``lost``
    and ``duplicated``, 0 when the guarantees hold). What may vary by a few between runs with
    the same seed: ``injected_faults``, ``retried`` and so ``deliveries``. Both copies of a
    duplicated id share its draws, and whether the second copy's attempts run the handler (and
    hit the same faults again) or are answered ``duplicate`` depends on whether the first copy
    has already succeeded, that is on the emulator's delivery order and timing.
    """
    specs = [TaskSpec(flaky_worker.KIND, {"i": i}, task_id=f"flaky-{seed}-{i}") for i in range(n_tasks)]
    if duplicate_every > 0:
        specs += [TaskSpec(flaky_worker.KIND, {"i": i, "copy": 2}, task_id=f"flaky-{seed}-{i}")
                  for i in range(0, n_tasks, duplicate_every)]
    random.Random(seed).shuffle(specs)
    return specs


def run_task_faults(
    n_tasks: int = 1000,
    failure_rate: float = 0.3,
    seed: int = DEFAULT_SEED,
    *,
    duplicate_every: int = 10,
    concurrency: int = 8,
    wait_s: float | None = None,
    work_dir: Path | None = None,
    emulator_max_retries: int = -1,
    worker_env: dict[str, str] | None = None,
    log: Log = _quiet,
) -> FaultRunResult:
    """Run (A): see the module docstring. Stops the emulator and the worker in every case.

    ``emulator_max_retries`` (-1: retry forever, as the queue's default) and ``worker_env``
    (extra ``WORKER_*`` settings) exist so tests can show that the checks catch a lost or a
    twice-executed task.
    """
    if n_tasks < 1:
        raise ValueError(f"n_tasks must be >= 1, got {n_tasks}")
    if not 0 <= failure_rate < 1:
        raise ValueError(f"failure_rate must be in [0, 1), got {failure_rate}")
    wait_s = wait_s if wait_s is not None else 60.0 + 0.1 * n_tasks
    result = FaultRunResult(seed=seed, failure_rate=failure_rate)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="faults-", dir=work_dir) as tmp:
        ledger = flaky_worker.Ledger(Path(tmp) / "ledger.txt")
        queue = _queue_path("flaky")
        with contextlib.ExitStack() as running:
            emulator = running.enter_context(Emulator([queue], max_retries=emulator_max_retries))
            env = {"WORKER_AUTH": "required", "WORKER_AUDIENCE": AUDIENCE, "WORKER_INVOKER_EMAIL": INVOKER,
                   "WORKER_CERTS_URL": emulator.certs_url, "WORKER_LOG_LEVEL": "INFO",
                   flaky_worker.ENV_LEDGER: str(ledger.path), flaky_worker.ENV_SEED: str(seed),
                   flaky_worker.ENV_RATE: repr(failure_rate), **(worker_env or {})}
            worker = running.enter_context(FlakyWorkerProcess(env))
            log(f"emulator {emulator.address} (stock: no dedup, immediate retries; signs OIDC tokens), "
                f"worker {worker.url} (WORKER_AUTH=required, certificates {emulator.certs_url})")
            outputs = StackOutputs(service_url=worker.url, audience=AUDIENCE, queue_path=queue,
                                   invoker_email=INVOKER, dispatch_deadline_seconds=600, stack="faults")
            specs = task_fault_specs(n_tasks, seed, duplicate_every)
            with TaskEnqueuer(outputs, emulator=emulator.address) as enq:
                bulk = enq.enqueue_many(specs, concurrency=concurrency)
            result.enqueue_s = bulk.elapsed_s
            names = {res.task_id for res in bulk.results if res.task_id}
            log(f"enqueued {len(specs)} in {bulk.elapsed_s:.1f} s; waiting (at most {wait_s:.0f} s)")

            def finals(deliveries: list[Any]) -> int:
                return sum(1 for d in deliveries if d.task_id in names and d.outcome in FINAL)

            def refused(deliveries: list[Any]) -> bool:
                return any(d.outcome == REJECTED for d in deliveries if d.task_id in names)

            # A refused token is redelivered for ever and never succeeds: stop at the first.
            if not worker.wait_for(lambda ds: finals(ds) >= bulk.created or refused(ds), wait_s):
                result.timed_out = True
                log(f"timed out after {wait_s:.0f} s")
            time.sleep(SETTLE_S)  # late extra deliveries would show up here
            seen = [d for d in worker.snapshot() if d.task_id in names]
        rows = ledger.read()
    result.elapsed_s = time.perf_counter() - started

    expected_ids = {spec.task_id for spec in specs}
    ids = {spec.task_id: res.task_id for spec, res in zip(specs, bulk.results, strict=True)}
    effects = Counter(name for event, name, _ in rows if event == flaky_worker.EFFECT)
    outcomes = Counter(d.outcome for d in seen)
    result.sent = len(bulk.results)
    result.unique_tasks = len(expected_ids)
    result.created = bulk.created
    result.enqueue_failed = bulk.failed
    result.duplicates_sent = result.sent - result.unique_tasks
    result.deliveries = len(seen)
    result.handled = sum(effects.values())
    result.retried = outcomes[RETRIED]
    result.injected_faults = sum(1 for event, _, _ in rows if event == flaky_worker.FAULT)
    result.duplicates_suppressed = outcomes[DUPLICATE]
    result.dead_lettered = outcomes[DEAD_LETTER]
    result.rejected = outcomes[REJECTED]
    result.max_attempts = max((attempt + 1 for _, _, attempt in rows), default=0)
    per_task = [effects.get(ids.get(task_id) or "", 0) for task_id in sorted(expected_ids)]
    result.lost = sum(1 for n in per_task if n == 0)
    result.duplicated = sum(1 for n in per_task if n > 1)

    p = result.problems
    if result.enqueue_failed:
        p.append(f"{result.enqueue_failed} create call(s) failed")
    if result.rejected:
        reasons = Counter(f"{d.record.get('http_status')} {d.record.get('auth_reason') or 'certificates unavailable'}"
                          for d in seen if d.outcome == REJECTED)
        p.append(f"{result.rejected} attempt(s) refused by the worker's token check "
                 f"({', '.join(f'{n} x {r}' for r, n in sorted(reasons.items()))}): tokens for {AUDIENCE!r} "
                 f"and {INVOKER!r}, the worker's settings {env.get('WORKER_AUDIENCE')!r} and "
                 f"{env.get('WORKER_INVOKER_EMAIL')!r}")
    if result.timed_out:
        p.append(f"timed out after {wait_s:.0f} s waiting for a final outcome of every delivery")
    if result.lost:
        p.append(f"{result.lost} task(s) lost (no side effect)")
    if result.duplicated:
        p.append(f"{result.duplicated} task(s) executed more than once")
    if result.handled != result.unique_tasks:
        p.append(f"{result.handled} side effects for {result.unique_tasks} tasks")
    if result.dead_lettered:
        p.append(f"{result.dead_lettered} delivery(ies) dead-lettered")
    if outcomes[HANDLED] != result.handled:
        p.append(f"worker logged {outcomes[HANDLED]} 'done' but the ledger has {result.handled} side effects")
    if result.retried != result.injected_faults:
        p.append(f"worker logged {result.retried} retries but the handler injected {result.injected_faults} faults")
    if result.duplicates_suppressed != result.created - result.unique_tasks:
        p.append(f"{result.duplicates_suppressed} duplicate deliveries suppressed, expected "
                 f"{result.created - result.unique_tasks}")
    if failure_rate > 0 and n_tasks >= 50 and result.injected_faults == 0:
        p.append("no fault was injected: the run proves nothing")
    return result


# --- (B) enqueuer faults: TaskEnqueuer -> gRPC -> emulator ---

#: (status code, phase): "before" fails the call without sending it; "after" sends it, lets the
#: emulator answer, then reports the failure instead of the answer.
FAULT_KINDS = (
    (grpc.StatusCode.UNAVAILABLE, "before"),
    (grpc.StatusCode.DEADLINE_EXCEEDED, "before"),
    (grpc.StatusCode.DEADLINE_EXCEEDED, "after"),
    (grpc.StatusCode.UNAVAILABLE, "after"),
)


class InjectedRpcError(grpc.RpcError, grpc.Call, grpc.Future):
    """A failed call as grpc reports one (an RpcError that is also its Call and Future)."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(details)
        self._code, self._details = code, details

    # grpc.Call
    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details

    def initial_metadata(self) -> tuple:
        return ()

    def trailing_metadata(self) -> tuple:
        return ()

    # grpc.RpcContext
    def is_active(self) -> bool:
        return False

    def time_remaining(self) -> float | None:
        return None

    def cancel(self) -> bool:
        return False

    def add_callback(self, callback: Callable[[], None]) -> bool:
        return False

    # grpc.Future
    def cancelled(self) -> bool:
        return False

    def running(self) -> bool:
        return False

    def done(self) -> bool:
        return True

    def result(self, timeout: float | None = None) -> Any:
        raise self

    def exception(self, timeout: float | None = None) -> BaseException:
        return self

    def traceback(self, timeout: float | None = None) -> Any:
        return None

    def add_done_callback(self, fn: Callable[[Any], None]) -> None:
        fn(self)


class FaultInjector(grpc.UnaryUnaryClientInterceptor):
    """Fails ``rate`` of CreateTask calls, chosen by (seed, task id, attempt number per task).

    Other methods pass through. Thread-safe; counts everything it did.
    """

    def __init__(self, seed: int, rate: float, kinds: tuple[tuple[grpc.StatusCode, str], ...] = FAULT_KINDS) -> None:
        if not 0 <= rate <= 1:
            raise ValueError(f"fault rate must be in [0, 1], got {rate}")
        self.seed, self.rate, self.kinds = seed, rate, kinds
        self._lock = threading.Lock()
        self.attempts: Counter[str] = Counter()
        """CreateTask calls per task name"""
        self.faults: Counter[tuple[str, str]] = Counter()
        """(code name, phase) -> faults injected"""
        self.reached: Counter[str] = Counter()
        """real answers (code name) from the emulator for calls that were sent"""
        self.masked_creates: set[str] = set()
        """task names whose successful create was reported to the client as a failure"""

    def intercept_unary_unary(self, continuation, client_call_details, request):
        if client_call_details.method != CREATE_TASK:
            return continuation(client_call_details, request)
        name = request.task.name
        with self._lock:
            attempt = self.attempts[name]
            self.attempts[name] += 1
        fault = self.decide(name.rsplit("/", 1)[-1], attempt)  # the task id: queue paths differ per run
        if fault is not None and fault[1] == "before":
            return self._inject(fault, name, attempt)
        outcome = continuation(client_call_details, request)
        code = outcome.code()  # waits for the emulator's answer
        with self._lock:
            self.reached[code.name] += 1
            if fault is not None and code == grpc.StatusCode.OK:
                self.masked_creates.add(name)
        if fault is not None:
            return self._inject(fault, name, attempt)
        return outcome

    def decide(self, name: str, attempt: int) -> tuple[grpc.StatusCode, str] | None:
        """The fault for this attempt, or None: a seeded coin, then a seeded pick of the kind."""
        if _unit(self.seed, "fault", name, attempt) >= self.rate:
            return None
        return self.kinds[int(_unit(self.seed, "kind", name, attempt) * len(self.kinds))]

    def _inject(self, fault: tuple[grpc.StatusCode, str], name: str, attempt: int) -> InjectedRpcError:
        code, phase = fault
        with self._lock:
            self.faults[(code.name, phase)] += 1
        return InjectedRpcError(code, f"injected {code.name} {phase} sending (attempt {attempt} of {name})")


@dataclass
class EnqueueFaultResult:
    """Counts of one :func:`run_enqueue_faults` run."""

    seed: int
    fault_rate: float
    dedup_task_names: bool = True
    sent: int = 0
    """tasks given to the enqueuer (each a distinct name)"""
    created: int = 0
    """reported ``created``"""
    duplicates: int = 0
    """reported ``duplicate`` (ALREADY_EXISTS: the task exists)"""
    failed: int = 0
    """reported ``failed`` after the retry budget"""
    attempts: int = 0
    """CreateTask calls made"""
    retries: int = 0
    """attempts beyond the first, per task, summed"""
    faults: dict[str, int] = field(default_factory=dict)
    """injected faults by code"""
    faults_by_phase: dict[str, int] = field(default_factory=dict)
    """injected faults by "CODE before|after" """
    masked_creates: int = 0
    """tasks created by a call the client was told had failed"""
    server_answers: dict[str, int] = field(default_factory=dict)
    """the emulator's real answers to the calls that reached it"""
    on_queue: int = 0
    """tasks on the (paused) queue afterwards"""
    lost: int = 0
    """names sent but not on the queue"""
    duplicated: int = 0
    """names on the queue more than once"""
    elapsed_s: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def injected(self) -> int:
        return sum(self.faults.values())

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "injected": self.injected, "ok": self.ok}

    def render(self) -> str:
        by_code = ", ".join(f"{k} {v}" for k, v in sorted(self.faults.items())) or "none"
        by_phase = ", ".join(f"{k} {v}" for k, v in sorted(self.faults_by_phase.items())) or "none"
        lines = [
            f"enqueue faults: {self.sent} named tasks, {self.fault_rate:.0%} of CreateTask calls fail "
            f"(seed {self.seed}), emulator name dedup {'on' if self.dedup_task_names else 'OFF'}",
            f"  sent                   {self.sent:>6}  tasks (distinct names)",
            f"  created                {self.created:>6}  answered OK",
            f"  duplicates             {self.duplicates:>6}  answered ALREADY_EXISTS, counted as success "
            f"({self.masked_creates} creates the client was told had failed)",
            f"  failed                 {self.failed:>6}  given up after retries",
            f"  injected faults        {self.injected:>6}  {by_code} ({by_phase})",
            f"  retries                {self.retries:>6}  extra CreateTask calls ({self.attempts} in all)",
            f"  on queue               {self.on_queue:>6}  tasks in the emulator's own list",
            f"  lost                   {self.lost:>6}  names missing from the queue",
            f"  duplicated             {self.duplicated:>6}  names on the queue more than once",
            f"  elapsed                {self.elapsed_s:>6.1f}  s",
        ]
        if self.ok:
            lines.append("  result: OK, every task created exactly once")
        else:
            lines.append("  result: FAILED")
            lines += [f"    - {p}" for p in self.problems]
        return "\n".join(lines)


def run_enqueue_faults(
    n_tasks: int = 1000,
    fault_rate: float = 0.3,
    seed: int = DEFAULT_SEED,
    *,
    concurrency: int = 8,
    dedup_task_names: bool = True,
    log: Log = _quiet,
) -> EnqueueFaultResult:
    """Run (B): see the module docstring. Stops the emulator in every case.

    ``dedup_task_names=False`` runs against the stock emulator (no ALREADY_EXISTS), which shows
    what an "after" fault does without Cloud Tasks' name dedup: the retry creates a second task.
    """
    if n_tasks < 1:
        raise ValueError(f"n_tasks must be >= 1, got {n_tasks}")
    injector = FaultInjector(seed, fault_rate)
    result = EnqueueFaultResult(seed=seed, fault_rate=fault_rate, dedup_task_names=dedup_task_names)
    queue = _queue_path("enqueue-faults")
    # Ids derive from the seed (one emulator per run) and each task's attempts are sequential, so
    # the same seed injects the same faults: every count but the times is the same for a seed
    # (unless a real call fails or times out on top of the injected faults).
    specs = [TaskSpec("echo", {"i": i}, task_id=f"enq-{seed}-{i}") for i in range(n_tasks)]
    started = time.perf_counter()
    with Emulator([queue], dedup_task_names=dedup_task_names) as emulator:
        admin_channel = grpc.insecure_channel(emulator.address)
        faulty_channel = grpc.intercept_channel(grpc.insecure_channel(emulator.address), injector)
        try:
            admin = tasks_v2.CloudTasksClient(transport=CloudTasksGrpcTransport(
                channel=admin_channel, credentials=AnonymousCredentials()))
            admin.pause_queue(name=queue)  # nothing is dispatched: the queue's list is the ground truth
            client = tasks_v2.CloudTasksClient(transport=CloudTasksGrpcTransport(
                channel=faulty_channel, credentials=AnonymousCredentials()))
            # Never dispatched (paused queue); a loopback URL so the outputs validate.
            outputs = StackOutputs(service_url="http://127.0.0.1:9", audience="http://127.0.0.1:9",
                                   queue_path=queue, invoker_email=INVOKER, dispatch_deadline_seconds=600,
                                   stack="faults")
            log(f"emulator {emulator.address} (name dedup {'on' if dedup_task_names else 'off'}, queue paused);"
                f" {n_tasks} tasks, {fault_rate:.0%} of CreateTask calls fail")
            enq = TaskEnqueuer(outputs, client=client)  # the project's default retry and timeout
            bulk = enq.enqueue_many(specs, concurrency=concurrency)
            on_queue = Counter(task.name for task in admin.list_tasks(parent=queue))
        finally:
            faulty_channel.close()
            admin_channel.close()
    result.elapsed_s = time.perf_counter() - started

    names = [enq.build(spec).name for spec in specs]
    result.sent = len(bulk.results)
    result.created, result.duplicates, result.failed = bulk.created, bulk.duplicates, bulk.failed
    result.attempts = sum(injector.attempts.values())
    result.retries = result.attempts - result.sent
    faults: Counter[str] = Counter()
    for (code, phase), count in injector.faults.items():
        faults[code] += count
        result.faults_by_phase[f"{code} {phase}"] = count
    result.faults = dict(faults)
    result.masked_creates = len(injector.masked_creates)
    result.server_answers = dict(injector.reached)
    result.on_queue = sum(on_queue.values())
    result.lost = sum(1 for name in names if on_queue[name] == 0)
    result.duplicated = sum(1 for name in names if on_queue[name] > 1)

    p = result.problems
    if result.failed:
        errors = Counter(r.error for r in bulk.results if r.status == "failed")
        p.append(f"{result.failed} task(s) not created after retries: {dict(errors.most_common(3))}")
    if result.lost:
        p.append(f"{result.lost} task(s) missing from the queue")
    if result.duplicated:
        p.append(f"{result.duplicated} task name(s) on the queue more than once")
    if result.on_queue != len(set(names)):
        p.append(f"{result.on_queue} tasks on the queue for {len(set(names))} names")
    if dedup_task_names and result.duplicates != result.masked_creates:
        p.append(f"{result.duplicates} reported duplicate, but {result.masked_creates} creates were masked by"
                 " an injected fault (each should come back ALREADY_EXISTS exactly once)")
    if fault_rate > 0 and n_tasks >= 50 and not injector.masked_creates:
        p.append("no create was masked by an 'after' fault: the nasty case was not exercised")
    return result


def main(argv: list[str] | None = None) -> int:
    """Both runs, printed as text or JSON (exit 1 if one fails)::

        python -m reliability.faults [--tasks N] [--enqueue-tasks N] [--rate R] [--seed S] [--json]

    ``--tasks`` (1000) tasks for :func:`run_task_faults`, then ``--enqueue-tasks`` (1000) for
    :func:`run_enqueue_faults`; ``--rate`` (0.3) is both runs' fault rate.
    """
    import argparse
    import json

    ap = argparse.ArgumentParser(prog="python -m reliability.faults", description=__doc__.split("\n", 1)[0])
    ap.add_argument("--tasks", type=int, default=1000)
    ap.add_argument("--enqueue-tasks", type=int, default=1000)
    ap.add_argument("--rate", type=float, default=0.3)
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    def say(message: str) -> None:
        print(f"faults: {message}", file=sys.stderr, flush=True)

    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    # SIGTERM unwinds through the context managers too, which stop the emulator and the worker.
    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        a = run_task_faults(args.tasks, args.rate, args.seed, log=say)
        b = run_enqueue_faults(args.enqueue_tasks, args.rate, args.seed, log=say)
    except KeyboardInterrupt:
        print("faults: interrupted; everything started was stopped", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    if args.json:
        print(json.dumps({"task_faults": a.as_dict(), "enqueue_faults": b.as_dict()}, indent=2))
    else:
        print(a.render())
        print(b.render())
    return 0 if a.ok and b.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
