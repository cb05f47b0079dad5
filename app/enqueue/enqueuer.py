"""``TaskEnqueuer``: create worker tasks on the queue named in a stack's outputs.

``BaseEnqueuer`` holds what it shares with ``JobEnqueuer`` (app/enqueue/jobs.py): one
long-lived ``CloudTasksClient`` (created on first use, shared by all threads), an explicit retry
and timeout on every ``create_task``, and a bulk mode with bounded concurrency.
"""

from __future__ import annotations

import concurrent.futures as cf
import sys
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from google.api_core import exceptions as gexc
from google.api_core import retry as gretry
from google.api_core import timeout as gtimeout
from google.cloud import tasks_v2
from tqdm import tqdm

from app.enqueue import defaults
from app.enqueue.client import default_retry, make_client
from app.enqueue.errors import EnqueueError
from app.enqueue.outputs import PathLike, StackOutputs, load_outputs
from app.enqueue.tasks import BodyTaskSpec, TaskSpec, build_task

CREATED, DUPLICATE, FAILED = "created", "duplicate", "failed"

E = TypeVar("E", bound="BaseEnqueuer")


@dataclass(frozen=True)
class EnqueueResult:
    """What happened to one task: created, duplicate (ALREADY_EXISTS) or failed."""

    status: str
    name: str | None
    index: int = 0
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Created and duplicate both mean the task exists on the queue."""
        return self.status in (CREATED, DUPLICATE)

    @property
    def task_id(self) -> str | None:
        """The short task id (what the worker sees in X-CloudTasks-TaskName)."""
        return self.name.rsplit("/", 1)[-1] if self.name else None


@dataclass
class BulkResult:
    """Results of ``enqueue_many``, in input order, with counts and timing."""

    results: list[EnqueueResult] = field(default_factory=list)
    elapsed_s: float = 0.0

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def created(self) -> int:
        return self.count(CREATED)

    @property
    def duplicates(self) -> int:
        return self.count(DUPLICATE)

    @property
    def failed(self) -> int:
        return self.count(FAILED)

    @property
    def ok(self) -> bool:
        return self.failed == 0

    @property
    def rate(self) -> float:
        """Tasks per second over the whole call."""
        return len(self.results) / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "sent": len(self.results),
            "created": self.created,
            "duplicates": self.duplicates,
            "failed": self.failed,
            "elapsed_s": round(self.elapsed_s, 3),
            "rate_per_s": round(self.rate, 1),
        }


class _QueueOutputs(Protocol):
    @property
    def queue_path(self) -> str: ...


OutputsT = TypeVar("OutputsT", bound=_QueueOutputs)


class BaseEnqueuer(Generic[OutputsT]):
    """What every enqueuer shares: the outputs it sends to (with a ``queue_path``), the one
    client, the retry and timeout of each ``create_task``, ALREADY_EXISTS as a duplicate, and
    the bulk mode. Subclasses add ``build(spec) -> tasks_v2.Task``.
    """

    def __init__(
        self,
        outputs: OutputsT,
        *,
        client: tasks_v2.CloudTasksClient | None = None,
        emulator: str | None = None,
        retry: gretry.Retry | None = None,
        timeout: float = defaults.CREATE_TIMEOUT_S,
        hash_task_ids: bool = True,
    ) -> None:
        if timeout <= 0:
            raise EnqueueError(f"timeout must be > 0 seconds, got {timeout!r}")
        self.outputs = outputs
        self.retry = retry if retry is not None else default_retry()
        self.timeout = timeout
        # A plain number would be a deadline from the first attempt (api_core's
        # TimeToDeadlineTimeout): later attempts would get only what is left. Each attempt
        # gets the full timeout; the retry policy's own timeout bounds the total.
        self._attempt_timeout = gtimeout.ConstantTimeout(timeout)
        self.hash_task_ids = hash_task_ids
        self._emulator = emulator
        self._client = client
        self._owns_client = client is None
        self._lock = threading.Lock()

    @property
    def client(self) -> tasks_v2.CloudTasksClient:
        """The one client, created on first use and reused by every call and thread."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = make_client(self._emulator)
        return self._client

    def build(self, spec: Any) -> tasks_v2.Task:
        """The Task message for ``spec`` (validated; no RPC)."""
        raise NotImplementedError

    def enqueue_spec(self, spec: Any) -> EnqueueResult:
        """Create the task for one spec; ALREADY_EXISTS is a duplicate, other errors raise."""
        return self._create(self.build(spec))

    def enqueue_many(
        self,
        specs: Iterable[Any],
        *,
        concurrency: int = defaults.CONCURRENCY,
        progress: bool = False,
        validate_first: bool = True,
    ) -> BulkResult:
        """Create many tasks over the one client with ``concurrency`` threads.

        With ``validate_first`` (default) every spec is built before the first RPC, so one bad
        spec means nothing is sent; set it False to stream a large generator (specs are then
        built as they are consumed and a bad one stops the run part-way). Per-task RPC
        failures are recorded as ``failed`` results, not raised.
        """
        if not 1 <= concurrency <= defaults.MAX_CONCURRENCY:
            raise EnqueueError(f"concurrency must be 1 to {defaults.MAX_CONCURRENCY}, got "
                               f"{concurrency!r}")
        tasks: Iterable[tasks_v2.Task]
        total: int | None
        if validate_first:
            built = [self.build(s) for s in specs]
            tasks, total = built, len(built)
        else:
            tasks = (self.build(s) for s in specs)
            total = len(specs) if isinstance(specs, Sequence) else None
        _ = self.client  # create the one client before the threads start

        bar = tqdm(total=total, file=sys.stderr, disable=not progress, unit="task", desc="enqueue")
        results: dict[int, EnqueueResult] = {}
        started = time.perf_counter()
        in_flight: set[cf.Future[EnqueueResult]] = set()
        pool = cf.ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="enqueue")

        def collect(done: Iterable[cf.Future[EnqueueResult]]) -> None:
            for fut in done:
                res = fut.result()
                results[res.index] = res
                bar.update(1)

        try:
            for index, task in enumerate(tasks):
                if len(in_flight) >= 2 * concurrency:
                    done, in_flight = cf.wait(in_flight, return_when=cf.FIRST_COMPLETED)
                    collect(done)
                in_flight.add(pool.submit(self._create_quietly, task, index))
            done, _ = cf.wait(in_flight)
            collect(done)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            bar.close()
        elapsed = time.perf_counter() - started
        return BulkResult([results[i] for i in sorted(results)], elapsed)

    def close(self) -> None:
        """Close the client's channel if this enqueuer created it."""
        if self._owns_client and self._client is not None:
            self._client.transport.close()
            self._client = None

    def __enter__(self: E) -> E:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- internals ---

    def _create(self, task: tasks_v2.Task, index: int = 0) -> EnqueueResult:
        request = tasks_v2.CreateTaskRequest(parent=self.outputs.queue_path, task=task)
        try:
            created = self.client.create_task(request=request, retry=self.retry,
                                              timeout=self._attempt_timeout)
        except gexc.AlreadyExists:
            return EnqueueResult(DUPLICATE, task.name, index)
        return EnqueueResult(CREATED, created.name, index)

    def _create_quietly(self, task: tasks_v2.Task, index: int) -> EnqueueResult:
        try:
            return self._create(task, index)
        except gexc.GoogleAPIError as exc:
            return EnqueueResult(FAILED, task.name or None, index, error=_describe_error(exc))



class TaskEnqueuer(BaseEnqueuer[StackOutputs]):
    """Create HTTP POST tasks for the worker described by a stack's outputs (to its ``task_url``).

    ``client`` may be injected (tests, custom transports); otherwise one client is built on
    first use, for ``emulator`` (HOST:PORT, insecure gRPC) or Cloud Tasks with Application
    Default Credentials. Validation errors (``EnqueueError``) are raised before any RPC.
    """

    @classmethod
    def from_outputs_file(
        cls,
        path: PathLike = defaults.OUTPUTS_PATH,
        stack: str | None = None,
        pattern: str | None = None,
        **kwargs: Any,
    ) -> TaskEnqueuer:
        """Read the outputs file and build an enqueuer; tasks go to the outputs' ``task_url``.

        ``stack``: default the only one in the file. ``pattern``: one pattern of a stack with
        several (default: the stack's unprefixed outputs, or its only pattern).
        """
        return cls(load_outputs(path, stack, pattern), **kwargs)

    def build(self, spec: TaskSpec | BodyTaskSpec) -> tasks_v2.Task:
        """The Task message for ``spec`` (validated; no RPC); a ``BodyTaskSpec`` is sent as is."""
        return build_task(spec, self.outputs, hash_prefix=self.hash_task_ids)

    def enqueue(
        self,
        kind: str,
        data: Mapping[str, Any] | None = None,
        *,
        task_id: str | None = None,
        delay_seconds: float = 0.0,
    ) -> EnqueueResult:
        """Create one task; ALREADY_EXISTS is returned as a duplicate, other errors raise."""
        spec = TaskSpec(kind=kind, data=data if data is not None else {}, task_id=task_id,
                        delay_seconds=delay_seconds)
        return self._create(self.build(spec))


def _describe_error(exc: BaseException) -> str:
    if isinstance(exc, gexc.RetryError) and exc.cause is not None:
        return f"gave up after retries: {_describe_error(exc.cause)}"
    code = getattr(exc, "grpc_status_code", None)
    name = code.name if code is not None else type(exc).__name__
    return f"{name}: {getattr(exc, 'message', None) or exc}"
