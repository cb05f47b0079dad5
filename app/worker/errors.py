"""Exceptions a task handler raises to choose what Cloud Tasks does next.

Cloud Tasks retries every answer outside 200-299 and has no "do not retry" code, so:

* :class:`TransientError` -> 503 with ``Retry-After``: try again later (dependency down, timeout);
* :class:`RateLimitedError` -> 429 with ``Retry-After``: we are being throttled, back off harder;
* :class:`PermanentError` -> 200 plus a dead-letter log record: retrying cannot help, stop.

Any other exception is a bug: 500, retried per the queue's retry config, logged with its trace.
"""

from __future__ import annotations


class TransientError(Exception):
    """Retry later; ``retry_after`` (seconds) overrides ``WORKER_RETRY_AFTER_SECONDS``."""

    status_code = 503

    def __init__(
        self, message: str = "transient failure", *, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimitedError(TransientError):
    """A downstream quota is exhausted: answered 429 so Cloud Tasks backs off harder."""

    status_code = 429


class PermanentError(Exception):
    """The task can never succeed (bad data, missing resource): acknowledge and dead-letter it."""
