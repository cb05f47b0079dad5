"""Enqueue tasks for the worker: ``python -m app.enqueue`` or ``TaskEnqueuer``.

    from app.enqueue import TaskEnqueuer, TaskSpec
    with TaskEnqueuer.from_outputs_file("outputs.json", stack="dev") as enq:
        enq.enqueue("echo", {"msg": "hi"}, task_id="order-42")
        enq.enqueue_many(TaskSpec("echo", {"n": i}) for i in range(100))

A stack with several patterns: ``from_outputs_file("outputs.json", "dev", pattern="orders")``.
"""

from app.enqueue.enqueuer import BulkResult, EnqueueResult, TaskEnqueuer
from app.enqueue.errors import EnqueueError, OutputsError, TaskSpecError
from app.enqueue.outputs import StackOutputs, load_outputs, write_outputs
from app.enqueue.tasks import TaskSpec

__all__ = [
    "BulkResult",
    "EnqueueError",
    "EnqueueResult",
    "OutputsError",
    "StackOutputs",
    "TaskEnqueuer",
    "TaskSpec",
    "TaskSpecError",
    "load_outputs",
    "write_outputs",
]
