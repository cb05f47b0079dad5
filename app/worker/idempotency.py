"""At-least-once delivery made effectively-once: remember task names that already ran.

Cloud Tasks may deliver a task more than once. Before a handler runs, the worker calls
``begin(key)`` with the queue-qualified task name:

* ``STARTED``: first time (or a previous attempt was released or its lease ran out): run it;
* ``DUPLICATE``: it already completed: answer 200 ``duplicate`` without running it again;
* ``IN_PROGRESS``: another attempt holds it right now: answer 409 so Cloud Tasks retries later.

After the handler, ``complete(key)`` (success or permanent failure) or ``release(key)``
(transient failure or crash, so the retry can run). A production store needs the same three
operations atomically across instances: e.g. Redis ``SET key started NX EX <lease>`` then
``SET key done EX <ttl>``, a Firestore document created in a transaction, or a Postgres row
with a unique key; keep completed keys at least as long as the queue's retry window plus
24 h (named-task dedup window). Plug it in with
``app.dependency_overrides[get_store] = lambda: MyStore(...)``.
"""

from __future__ import annotations

import enum
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol, runtime_checkable


class BeginResult(enum.Enum):
    STARTED = "started"
    DUPLICATE = "duplicate"
    IN_PROGRESS = "in_progress"


@runtime_checkable
class IdempotencyStore(Protocol):
    """Where task names are claimed and remembered; methods are async so stores can do I/O."""

    async def begin(self, key: str) -> BeginResult: ...

    async def complete(self, key: str) -> None: ...

    async def release(self, key: str) -> None: ...


_STARTED = 0
_DONE = 1


class InMemoryIdempotencyStore:
    """Per-process store: bounded (oldest evicted first) and expiring. Fine for one instance or
    a demo; with several Cloud Run instances a duplicate can land on another instance, so use a
    shared store in production."""

    def __init__(
        self,
        *,
        ttl_seconds: float = 86_400,
        lease_seconds: float = 1_800,
        max_entries: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl_seconds
        self._lease = lease_seconds
        self._max = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[int, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    async def begin(self, key: str) -> BeginResult:
        now = self._clock()
        entry = self._entries.get(key)
        if entry is not None and entry[1] > now:
            return BeginResult.DUPLICATE if entry[0] == _DONE else BeginResult.IN_PROGRESS
        self._put(key, _STARTED, now + self._lease, now)
        return BeginResult.STARTED

    async def complete(self, key: str) -> None:
        now = self._clock()
        self._put(key, _DONE, now + self._ttl, now)

    async def release(self, key: str) -> None:
        self._entries.pop(key, None)

    def _put(self, key: str, state: int, expires_at: float, now: float) -> None:
        entries = self._entries
        entries[key] = (state, expires_at)
        entries.move_to_end(key)
        # Drop expired entries from the old end, then enforce the bound.
        while entries:
            oldest_key, (_, oldest_expiry) = next(iter(entries.items()))
            if oldest_expiry > now and len(entries) <= self._max:
                break
            del entries[oldest_key]
