"""TaskNameStore: the bucket that holds the worker's task names, shared by every instance.

The worker claims a task name with a create-only write (ifGenerationMatch=0), takes over an
expired lease by generation, and marks it done; redeliveries on any instance then find it.
A name must outlive every redelivery of its task: the queue's retry window plus the 24 h
Cloud Tasks keeps a task name. The lifecycle rule therefore expires names no earlier than
that, computed from the queue's retry config:

* Cloud Tasks stops retrying once ``max_retry_duration`` has passed *and* ``max_attempts``
  attempts were made (googleapis google/cloud/tasks/v2/queue.proto RetryConfig). Bounded
  (``max_attempts`` >= 1): the window is the longer of the retry duration and the sum of
  the backoffs between ``max_attempts`` attempts (min_backoff doubling ``max_doublings``
  times, then growing linearly, capped at max_backoff), plus one dispatch deadline per
  attempt.
* Unlimited (``max_attempts`` = -1): retries stop only when the task itself expires, 31
  days after it was created (cloudtasks.proto CreateQueue): the window is 31 days.

Not bounded by this: Cloud Tasks slowing a whole queue down after 429/503 answers (its
congestion control) can stretch the real window past the computed one; the 24 h margin
absorbs a day of that.

The runtime account gets ``roles/storage.objectUser`` on this bucket only: the smallest
predefined role with storage.objects.create, .get and .delete (objectCreator cannot read
or delete; objectAdmin adds IAM policy permissions).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from constructs import Construct

from . import defaults
from ._framework import ITerraformDependable, StorageBucket, StorageBucketIamMember
from .buckets import DAY_SECONDS, BucketGrants, check_store_arguments, private_bucket
from .options import QueueOptions, TaskNameStoreOptions
from .policy import PolicyCheck
from .validation import ConfigurationError, is_token


def retry_window_seconds(queue: QueueOptions, dispatch_deadline_seconds: float) -> float | None:
    """Longest time from a task's first attempt to its last, as the queue declares it;
    ``None`` when a value is a token (unknown until apply)."""
    values = (queue.max_attempts, queue.min_backoff_seconds, queue.max_backoff_seconds,
              queue.max_doublings, queue.max_retry_duration_seconds, dispatch_deadline_seconds)
    if any(is_token(value) for value in values):
        return None
    if queue.max_attempts == -1:
        return float(defaults.MAX_TASK_LIFETIME_SECONDS)
    backoffs = 0.0
    for retry in range(queue.max_attempts - 1):
        if retry <= queue.max_doublings:
            interval = queue.min_backoff_seconds * 2 ** retry
        else:
            step = queue.min_backoff_seconds * 2 ** queue.max_doublings
            interval = step * (1 + retry - queue.max_doublings)
        backoffs += min(interval, queue.max_backoff_seconds)
        if backoffs > defaults.MAX_TASK_LIFETIME_SECONDS:
            break
    attempts = backoffs + queue.max_attempts * dispatch_deadline_seconds
    window = max(attempts, queue.max_retry_duration_seconds + dispatch_deadline_seconds)
    # no task outlives its 31 days, whatever the retry config says
    return float(min(window, defaults.MAX_TASK_LIFETIME_SECONDS))


def minimum_retention_days(queue: QueueOptions, dispatch_deadline_seconds: float) -> int | None:
    """Whole days a task name must be kept: retry window + the 24 h named-task window."""
    window = retry_window_seconds(queue, dispatch_deadline_seconds)
    if window is None:
        return None
    return math.ceil((window + defaults.NAMED_TASK_WINDOW_SECONDS) / DAY_SECONDS)


def check_retention(options: TaskNameStoreOptions | None, queue: QueueOptions,
                    dispatch_deadline_seconds: float) -> int:
    """The retention to write: the configured one (refused when shorter than the minimum),
    else the minimum; 32 days when the minimum is unknown (a token in the retry config)."""
    minimum = minimum_retention_days(queue, dispatch_deadline_seconds)
    configured = options.retention_days if options is not None else None
    if configured is None:
        return minimum if minimum is not None else math.ceil(
            (defaults.MAX_TASK_LIFETIME_SECONDS + defaults.NAMED_TASK_WINDOW_SECONDS)
            / DAY_SECONDS)
    if minimum is not None and not is_token(configured) and configured < minimum:
        window = retry_window_seconds(queue, dispatch_deadline_seconds)
        raise ConfigurationError(
            "task_names.retention_days",
            f"at least {minimum} days: the queue retries for up to {window:.0f} s "
            f"(max_attempts {queue.max_attempts}, max_retry_duration_seconds "
            f"{queue.max_retry_duration_seconds:g}, backoffs and a {dispatch_deadline_seconds:g}"
            " s deadline per attempt) and Cloud Tasks keeps a task name for 24 h", configured)
    return configured


class TaskNameStore(BucketGrants, Construct):
    """One private ``google_storage_bucket`` for task names (or an existing one by name),
    and :meth:`grant_use` for the runtime account."""

    def __init__(self, scope: Construct, id_: str, *, project: str, service_name: str,
                 queue: QueueOptions | None = None,
                 dispatch_deadline_seconds: int = defaults.DISPATCH_DEADLINE_SECONDS,
                 location: str = defaults.LOCATION,
                 options: TaskNameStoreOptions | None = None,
                 existing_bucket: str | None = None,
                 depends_on: Sequence[ITerraformDependable] = ()) -> None:
        """
        :param project: project of the bucket.
        :param service_name: the worker service's name: the stem of the derived bucket name.
        :param queue: the retry config whose window the names must outlive.
            Default: ``QueueOptions()``.
        :param dispatch_deadline_seconds: the longest one attempt can take. Default: 600.
        :param location: the bucket's region. Default: us-central1.
        :param options: :class:`TaskNameStoreOptions`. Default: ``TaskNameStoreOptions()``.
            Not with ``existing_bucket``.
        :param existing_bucket: use this bucket, created elsewhere, by name (its lifecycle is
            then its owner's to keep long enough): only the grant is declared.
        :param depends_on: resources to create first (the Storage API). Default: none.
        """
        queue = QueueOptions() if queue is None else queue
        name = check_store_arguments(
            scope=scope, project=project, service_name=service_name, location=location,
            options=options, existing_bucket=existing_bucket, kind=TaskNameStoreOptions,
            suffix=defaults.TASK_NAME_BUCKET_SUFFIX)
        retention = None
        if existing_bucket is None:
            options = TaskNameStoreOptions() if options is None else options
            retention = check_retention(options, queue, dispatch_deadline_seconds)
        super().__init__(scope, id_)
        self.project = project
        self.name = name
        self.options = options
        self.retention_days = retention
        """Days the lifecycle rule keeps a task name (None for an existing bucket)."""
        self.resource: StorageBucket | None = None
        if options is not None and retention is not None:
            self.resource = private_bucket(
                self, "bucket", name=name, location=location, project=project,
                retention_days=retention, soft_delete_days=options.soft_delete_retention_days,
                force_destroy=options.force_destroy, labels=options.labels,
                depends_on=depends_on)
        self.bucket_name = self.resource.name if self.resource is not None else name
        self._init_grants()
        PolicyCheck.apply_to(self)

    def grant_use(self, member: str) -> StorageBucketIamMember:
        """Let ``member`` (the runtime account) claim, read, overwrite and delete task
        names: ``roles/storage.objectUser`` on this bucket only."""
        return self._grant("user", defaults.TASK_NAME_USER_ROLE, member)
