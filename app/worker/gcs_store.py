"""A task-name store shared by every instance: one Cloud Storage object per task name.

Same contract as :class:`~app.worker.idempotency.IdempotencyStore` (begin / complete / release),
built only on generation preconditions, which Cloud Storage checks atomically per object:

* **claim** (``begin``): create ``task-names/<sha256(key)>`` with ``ifGenerationMatch=0``; the
  state lives in the object's metadata (``state``, ``until``, ``owner``, ``key``), its data is
  empty. On 412 the object is read: ``done`` (and younger than the TTL) -> DUPLICATE;
  ``started`` with a live lease -> IN_PROGRESS; otherwise (``released``, a lease that ran out, a
  ``done`` older than the TTL) the claim is taken over by rewriting it with
  ``ifGenerationMatch=<the generation read>`` (412 -> another attempt won: IN_PROGRESS).
* **complete**: rewrite as ``done`` (``until`` = now + TTL) with ``ifGenerationMatch=<ours>``.
  A 412 means our lease ran out and another attempt took the name over: raised as
  :class:`LeaseLostError` (the worker logs that the handler may have run twice).
* **release**: rewrite as ``released`` with ``ifGenerationMatch=<ours>``, not a delete. A
  conditional delete is what the brief of this store suggests, but fake-gcs-server 1.54 (the
  local emulator) ignores ``ifGenerationMatch`` on delete, so a stale release there would delete
  a claim another attempt holds or has completed; a conditional rewrite it does check
  (tests/app/test_storage_emulator.py proves both), so the behaviour tested locally is the one
  that runs on Cloud Storage. The cost: the next claim of a released name takes three requests
  instead of one (create 412, read, rewrite).

Every write carries its own ``owner`` token, so a write the client retried after it had in fact
succeeded (412 on the retry) is recognised as ours by reading it back. Wall-clock time
(``time.time``) decides leases and TTLs across instances: keep the lease far above the clock
skew between them (Cloud Run instances are NTP-synced; the default lease is 30 minutes).

The bucket's lifecycle rule must keep objects at least the TTL (the queue's retry window plus
Cloud Tasks' 24 h named-task window); the runtime account needs create, get and overwrite
(``roles/storage.objectUser`` on that bucket).
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable
from typing import Any

from app.worker.gcs import StorageRunner
from app.worker.idempotency import BeginResult

PREFIX = "task-names/"
STARTED, DONE, RELEASED = "started", "done", "released"
_CLAIM_TRIES = 3


class LeaseLostError(RuntimeError):
    """Our claim was taken over by another attempt (our lease had run out)."""


def object_name(key: str) -> str:
    """``task-names/<sha256 of the queue-qualified task name>`` (any key, fixed length)."""
    return PREFIX + hashlib.sha256(key.encode("utf-8")).hexdigest()


class GcsIdempotencyStore:
    """:class:`~app.worker.idempotency.IdempotencyStore` on a Cloud Storage bucket (module
    docstring)."""

    def __init__(
        self,
        runner: StorageRunner,
        bucket: str,
        *,
        lease_seconds: float = 1_800,
        ttl_seconds: float = 86_400,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.runner = runner
        self.bucket_name = bucket
        self._bucket = runner.bucket(bucket)
        self._lease = lease_seconds
        self._ttl = ttl_seconds
        self._clock = clock
        self._held: dict[str, tuple[int, str]] = {}
        """key -> (generation, owner token) of the claims this process holds (touched on the
        loop only)."""
        self.description = f"task names are shared in gs://{bucket}/{PREFIX}"

    async def begin(self, key: str) -> BeginResult:
        result, claim = await self.runner.run(self._begin, key)
        if claim is not None:
            self._held[key] = claim
        return result

    async def complete(self, key: str) -> None:
        claim = self._held.pop(key, None)
        await self.runner.run(self._finish, key, claim, DONE)

    async def release(self, key: str) -> None:
        claim = self._held.pop(key, None)
        if claim is not None:
            await self.runner.run(self._finish, key, claim, RELEASED)

    # --- blocking side (pool threads) ---

    def _begin(self, key: str) -> tuple[BeginResult, tuple[int, str] | None]:
        from google.api_core.exceptions import PreconditionFailed

        name = object_name(key)
        token = uuid.uuid4().hex
        for _ in range(_CLAIM_TRIES):
            now = self._clock()
            try:
                return BeginResult.STARTED, (
                    self._write(name, key, STARTED, now + self._lease, token, 0),
                    token,
                )
            except PreconditionFailed:
                pass
            current = self._read(name)
            if current is None:
                continue  # expired by the lifecycle rule between our create and read: create again
            meta = current.metadata or {}
            if meta.get("owner") == token:  # a retried create of ours that had succeeded
                return BeginResult.STARTED, (current.generation, token)
            state, until = meta.get("state"), _float(meta.get("until"))
            if state == DONE and until > now:
                return BeginResult.DUPLICATE, None
            if state == STARTED and until > now:
                return BeginResult.IN_PROGRESS, None
            try:
                generation = self._write(
                    name, key, STARTED, now + self._lease, token, current.generation
                )
                return BeginResult.STARTED, (generation, token)
            except PreconditionFailed:
                current = self._read(name)
                if current is not None and (current.metadata or {}).get("owner") == token:
                    return BeginResult.STARTED, (current.generation, token)
                return BeginResult.IN_PROGRESS, None  # another attempt took it over first
        return BeginResult.IN_PROGRESS, None

    def _finish(self, key: str, claim: tuple[int, str] | None, state: str) -> None:
        from google.api_core.exceptions import PreconditionFailed

        name = object_name(key)
        now = self._clock()
        until = now + self._ttl if state == DONE else now
        if claim is None:
            # complete() without a claim of ours (not how the worker calls it): record it done
            # only if nobody holds the name.
            try:
                self._write(name, key, state, until, uuid.uuid4().hex, 0)
            except PreconditionFailed:
                pass
            return
        generation, token = claim
        try:
            self._write(name, key, state, until, token, generation)
        except PreconditionFailed:
            current = self._read(name)
            meta = (current.metadata or {}) if current is not None else {}
            if meta.get("owner") == token and meta.get("state") == state:
                return  # a retried write of ours that had succeeded
            if state == DONE:
                raise LeaseLostError(
                    f"task name {key!r} was taken over by another attempt after this attempt's "
                    f"lease "
                    f"({self._lease:.0f} s) ran out: the handler may have run twice"
                ) from None
            # release: another attempt holds the name now; nothing of ours to release.

    def _write(
        self, name: str, key: str, state: str, until: float, token: str, if_generation_match: int
    ) -> int:
        blob = self._bucket.blob(name)
        blob.metadata = {"state": state, "until": f"{until:.3f}", "owner": token, "key": key[:1024]}
        blob.upload_from_string(
            b"", content_type="application/octet-stream", if_generation_match=if_generation_match,
            timeout=self.runner.timeout, retry=self.runner.retry,
        )
        return int(blob.generation)

    def _read(self, name: str) -> Any:
        return self._bucket.get_blob(name, timeout=self.runner.timeout, retry=self.runner.retry)


def _float(value: str | None) -> float:
    try:
        return float(value) if value is not None else 0.0
    except ValueError:
        return 0.0
