"""Which attempt of a task is its last: the queue's retry settings against the attempt headers.

Cloud Tasks attempts a task ``max_attempts`` times ("if the first attempt fails, then there will
be max_attempts - 1 retries"; -1 = unlimited) and ``X-CloudTasks-TaskRetryCount`` is the number of
earlier attempts ("for the first attempt, this value is 0"; it includes attempts that failed
with 5xx). So an attempt is the last one allowed by the count when
``retry_count + 1 >= max_attempts``. Sources: google/cloud/tasks/v2/queue.proto (RetryConfig)
and cloud.google.com/tasks/docs/creating-http-target-tasks (request headers).

What the worker cannot know: Cloud Tasks stops only when *both* limits are reached, the
attempts and ``max_retry_duration`` "measured from when the task was first attempted", and the
worker never sees the first attempt's time. With a positive duration the worker still
dead-letters at ``max_attempts``: the task ends, kept, possibly before Cloud Tasks would have
given up (never lost). With ``max_attempts = -1`` and a positive duration the worker cannot tell
the last attempt at all, and says so at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.worker.headers import CloudTasksHeaders


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryLimits:
    """The queue's retry limits as the pattern hands them over (None = not told)."""

    max_attempts: int | None = None
    max_retry_duration_seconds: int | None = None

    def is_last_attempt(self, headers: CloudTasksHeaders) -> bool:
        """True when Cloud Tasks will not retry this attempt if it fails (as far as the worker
        knows)."""
        if self.max_attempts is None or self.max_attempts < 1 or headers.retry_count is None:
            return False
        return headers.retry_count + 1 >= self.max_attempts

    def describe(self) -> str:
        """One sentence for the start-up log."""
        duration = self.max_retry_duration_seconds
        if self.max_attempts is None:
            return ("queue max_attempts unknown (WORKER_QUEUE_MAX_ATTEMPTS unset): the last "
                    "attempt of a "
                    "transient failure cannot be recognised, so Cloud Tasks may drop it without a "
                    "dead letter")
        if self.max_attempts == -1:
            if duration:
                return (
                    f"queue retries without an attempt limit for {duration} s after the first "
                    f"attempt, which "
                    "the worker cannot see: a task Cloud Tasks gives up on is not dead-lettered"
                )
            return "queue retries without limit: transient failures are never dead-lettered"
        text = (f"attempt {self.max_attempts} of a transient failure is dead-lettered (the "
                f"queue's max_attempts)")
        if duration:
            text += (
                f"; the queue also retries for {duration} s after the first attempt, which "
                f"the worker "
                "cannot see, so such a task ends (kept) possibly before Cloud Tasks would stop"
            )
        return text
