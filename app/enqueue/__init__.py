"""Enqueue tasks for the worker: ``python -m app.enqueue`` or ``TaskEnqueuer``.

    from app.enqueue import TaskEnqueuer, TaskSpec
    with TaskEnqueuer.from_outputs_file("outputs.json", stack="dev") as enq:
        enq.enqueue("echo", {"msg": "hi"}, task_id="order-42")
        enq.enqueue_many(TaskSpec("echo", {"n": i}) for i in range(100))

A stack with several patterns: ``from_outputs_file("outputs.json", "dev", pattern="orders")``.

Job tasks (start a Cloud Run job execution through jobs.run, docs/job.md)::

    from app.enqueue import JobEnqueuer
    with JobEnqueuer.from_outputs_file("outputs.json", stack="dev") as enq:
        enq.enqueue("resize_images", {"sources": [...], "width": 64, "height": 64}, task_count=4)
"""

from app.enqueue.enqueuer import BaseEnqueuer, BulkResult, EnqueueResult, TaskEnqueuer
from app.enqueue.errors import EnqueueError, OutputsError, TaskSpecError
from app.enqueue.jobs import JobEnqueuer, JobSpec, build_job_task, run_job_request
from app.enqueue.outputs import (
    JobOutputs,
    StackOutputs,
    load_job_outputs,
    load_outputs,
    write_outputs,
)
from app.enqueue.replay import ReplayResult, replay_dead_letters
from app.enqueue.tasks import BodyTaskSpec, TaskSpec

__all__ = [
    "BaseEnqueuer",
    "BodyTaskSpec",
    "BulkResult",
    "EnqueueError",
    "EnqueueResult",
    "JobEnqueuer",
    "JobOutputs",
    "JobSpec",
    "OutputsError",
    "ReplayResult",
    "StackOutputs",
    "TaskEnqueuer",
    "TaskSpec",
    "TaskSpecError",
    "build_job_task",
    "load_job_outputs",
    "load_outputs",
    "replay_dead_letters",
    "run_job_request",
    "write_outputs",
]
