"""Job tasks: Cloud Tasks tasks that start a Cloud Run job execution through ``jobs.run``.

    from app.enqueue import JobEnqueuer
    with JobEnqueuer.from_outputs_file("outputs.json", stack="dev") as enq:
        enq.enqueue("resize_images", {"sources": [...], "width": 640, "height": 480},
                    task_count=4, task_id="batch-2024-06-01")

Each task is an HTTP POST to the stack's ``job_run_url`` (Cloud Run Admin API v2
``projects.locations.jobs.run``) with an OAuth access token of ``job_invoker_email`` (scope
cloud-platform) and a ``RunJobRequest`` body whose container override carries the worker's
``{"kind", "data"}`` payload in ``TASK_PAYLOAD``; ``python -m app.job`` reads it (docs/job.md).
jobs.run answers at once with a long-running operation, so the default dispatch deadline is
kept. Nothing here talks to the network until ``enqueue``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from google.cloud import tasks_v2

from app.enqueue import defaults
from app.enqueue.enqueuer import BaseEnqueuer, EnqueueResult
from app.enqueue.errors import TaskSpecError
from app.enqueue.outputs import JobOutputs, PathLike, load_job_outputs
from app.enqueue.tasks import check_delay, encode_body, finish_task

#: Keys allowed on one JSONL line of job tasks.
JOB_SPEC_KEYS = ("kind", "data", "task_id", "delay_seconds", "task_count", "timeout_seconds",
                 "container")


@dataclass(frozen=True)
class JobSpec:
    """One job run to start: the payload, optional task count / task timeout overrides
    (default: the job's own), optional container name (jobs with several containers), and
    the task id and delay of the Cloud Tasks task that starts it."""

    kind: str
    data: Mapping[str, Any] = field(default_factory=dict)
    task_count: int | None = None
    timeout_seconds: int | None = None
    task_id: str | None = None
    delay_seconds: float = 0.0
    container: str | None = None

    @classmethod
    def from_json(cls, obj: Any, where: str = "job task") -> JobSpec:
        """Build a spec from a decoded JSON object (one JSONL line)."""
        if not isinstance(obj, dict):
            raise TaskSpecError(f"{where}: expected a JSON object with keys {JOB_SPEC_KEYS}, "
                                f"got {type(obj).__name__}")
        unknown = sorted(set(obj) - set(JOB_SPEC_KEYS))
        if unknown:
            raise TaskSpecError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: "
                                f"{', '.join(JOB_SPEC_KEYS)}")
        if "kind" not in obj:
            raise TaskSpecError(f"{where}: missing required key 'kind'")
        return cls(kind=obj["kind"], data=obj.get("data", {}), task_count=obj.get("task_count"),
                   timeout_seconds=obj.get("timeout_seconds"), task_id=obj.get("task_id"),
                   delay_seconds=obj.get("delay_seconds", 0.0), container=obj.get("container"))


def run_job_request(spec: JobSpec) -> dict[str, Any]:
    """The ``RunJobRequest`` JSON body (Cloud Run Admin API v2 names) for ``spec``, validated.

    ``{"overrides": {"containerOverrides": [{"env": [{"name": "TASK_PAYLOAD", "value": ...}]}],
    "taskCount": N, "timeout": "Ns"}}``; ``taskCount``, ``timeout`` and the container's
    ``name`` only when given.
    """
    payload = encode_body(spec.kind, spec.data)
    if len(payload) > defaults.MAX_ENV_VALUE_BYTES:
        raise TaskSpecError(
            f"job payload of kind {spec.kind!r} is {len(payload)} bytes; it travels in the "
            f"{defaults.PAYLOAD_ENV} env var, at most {defaults.MAX_ENV_VALUE_BYTES} bytes: store "
            "large inputs elsewhere and pass a reference"
        )
    container: dict[str, Any] = {}
    name = spec.container
    if name is not None:
        if not isinstance(name, str) or not defaults.CONTAINER_NAME_RE.match(name):
            raise TaskSpecError(f"container {name!r} is not a container name "
                                "(a DNS label: lower-case letters, digits, '-')")
        container["name"] = name
    container["env"] = [{"name": defaults.PAYLOAD_ENV, "value": payload.decode("utf-8")}]
    overrides: dict[str, Any] = {"containerOverrides": [container]}
    if spec.task_count is not None:
        overrides["taskCount"] = _whole(spec.task_count, "task_count", 1, defaults.JOB_MAX_TASKS,
                                        "tasks")
    if spec.timeout_seconds is not None:
        seconds = _whole(spec.timeout_seconds, "timeout_seconds", 1, defaults.JOB_MAX_TIMEOUT_S,
                         "seconds (168 hours)")
        overrides["timeout"] = f"{seconds}s"
    return {"overrides": overrides}


def build_job_task(
    spec: JobSpec,
    outputs: JobOutputs,
    *,
    hash_prefix: bool = True,
    now: dt.datetime | None = None,
) -> tasks_v2.Task:
    """The task that starts one execution of the outputs' job; ``TaskSpecError`` if it cannot
    be sent. No dispatch deadline: jobs.run answers at once, the default (10 min) is ample."""
    body = json.dumps(run_job_request(spec), ensure_ascii=False, separators=(",", ":"))
    delay = check_delay(spec.delay_seconds)
    task = tasks_v2.Task(
        http_request=tasks_v2.HttpRequest(
            http_method=tasks_v2.HttpMethod.POST,
            url=outputs.job_run_url,
            headers={"Content-Type": "application/json"},
            body=body.encode("utf-8"),
            # A Google API takes an OAuth access token (an OIDC token is for Cloud Run services).
            oauth_token=tasks_v2.OAuthToken(
                service_account_email=outputs.job_invoker_email,
                scope=defaults.OAUTH_SCOPE,
            ),
        ),
    )
    return finish_task(task, outputs.job_queue_path, spec.kind, spec.task_id, delay,
                       hash_prefix=hash_prefix, now=now)


class JobEnqueuer(BaseEnqueuer[JobOutputs]):
    """Create job tasks on the job queue of a stack's outputs: each starts one execution.

    Same client, retry, timeout, task-id and bulk behaviour as :class:`TaskEnqueuer`: one
    long-lived client (injected, or built on first use for ``emulator`` or Cloud Tasks with
    Application Default Credentials), an explicit retry and per-attempt timeout, ALREADY_EXISTS
    as ``duplicate`` (a task id starts a given run at most once within Cloud Tasks' dedup
    window), every ``EnqueueError`` raised before any RPC.
    """

    @classmethod
    def from_outputs_file(
        cls,
        path: PathLike = defaults.OUTPUTS_PATH,
        stack: str | None = None,
        pattern: str | None = None,
        **kwargs: Any,
    ) -> JobEnqueuer:
        """Read the stack's job outputs (``job_run_url``, ...) and build an enqueuer."""
        return cls(load_job_outputs(path, stack, pattern), **kwargs)

    def build(self, spec: JobSpec) -> tasks_v2.Task:
        """The Task message for ``spec`` (validated; no RPC)."""
        return build_job_task(spec, self.outputs, hash_prefix=self.hash_task_ids)

    def enqueue(
        self,
        kind: str,
        data: Mapping[str, Any] | None = None,
        *,
        task_count: int | None = None,
        timeout_seconds: int | None = None,
        task_id: str | None = None,
        delay_seconds: float = 0.0,
        container: str | None = None,
    ) -> EnqueueResult:
        """Create one job task; ALREADY_EXISTS is returned as a duplicate, other errors raise."""
        spec = JobSpec(kind=kind, data=data if data is not None else {}, task_count=task_count,
                       timeout_seconds=timeout_seconds, task_id=task_id,
                       delay_seconds=delay_seconds, container=container)
        return self._create(self.build(spec))


def _whole(value: Any, name: str, lo: int, hi: int, unit: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise TaskSpecError(f"{name} must be a whole number from {lo} to {hi} {unit}, "
                            f"got {value!r}")
    return value
