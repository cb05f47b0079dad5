"""Replay dead letters: ``python -m app.enqueue replay`` or ``replay_dead_letters(...)``.

Lists the worker's dead letters (``dead-letters/`` objects in the stack's ``dead_letter_bucket``,
layout in app/worker/dead_letters.py) that carry no ``replayed-at`` mark, re-enqueues each
through the normal :class:`TaskEnqueuer` with its body exactly as kept, then marks the object.

* **New task id, derived from the dead letter**: ``replay-<sha256(object name)[:20]>-<original
  task id>`` (cut to fit). Cloud Tasks' named-task dedup would swallow the original id (and the
  worker's task-name store would answer "duplicate"), so the id must be new; it is derived, not
  random, so a replay that created the task but stopped before marking the object creates
  nothing new when run again (ALREADY_EXISTS counts as on the queue) and then marks it.
* **Mark**: custom metadata ``replayed-at`` (UTC), ``replayed-as`` (the new task name),
  ``replays`` (count), written with ``ifMetagenerationMatch=<the metageneration listed>`` so
  two replays running at once cannot both mark one letter (412: counted as ``raced``).
* Runs as a person or CI identity (not the worker's runtime account): it needs object read and
  metadata update on the bucket (the DeadLetterStore construct's grant) and enqueue + actAs on
  the queue's invoker (the pattern's ``enqueuers``).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from google.api_core import exceptions as gexc

from app.enqueue import defaults
from app.enqueue.enqueuer import CREATED, DUPLICATE, TaskEnqueuer
from app.enqueue.tasks import BodyTaskSpec

REPLAYED_AT, REPLAYED_AS, REPLAYS = "replayed-at", "replayed-as", "replays"
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_MAX_ID = 400  # the enqueuer prefixes a 9-character hash; Cloud Tasks allows 500


def replay_task_id(object_name: str, original_task: str | None) -> str:
    """The derived task id of one dead letter's replay (same input, same id)."""
    digest = hashlib.sha256(object_name.encode("utf-8")).hexdigest()[:20]
    readable = _UNSAFE.sub("_", original_task or "")
    return f"replay-{digest}-{readable}"[:_MAX_ID].rstrip("-")


@dataclass(frozen=True)
class ReplayItem:
    """What happened to one dead letter."""

    object_name: str
    task_id: str
    status: str
    """``replayed``, ``already_on_queue`` (ALREADY_EXISTS, then marked), ``would_replay`` (dry
    run), ``raced`` (marked by another replay first) or ``failed``."""
    error: str | None = None


@dataclass
class ReplayResult:
    """Counts of one replay run (``summary()`` is what the command prints)."""

    bucket: str
    dry_run: bool = False
    found: int = 0
    """dead-letter objects listed"""
    already_replayed: int = 0
    """skipped: marked by an earlier replay"""
    items: list[ReplayItem] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for item in self.items if item.status == status)

    @property
    def ok(self) -> bool:
        return self.count("failed") == 0

    def summary(self) -> dict[str, Any]:
        return {
            "bucket": self.bucket, "dry_run": self.dry_run, "found": self.found,
            "already_replayed": self.already_replayed, "pending": len(self.items),
            "replayed": self.count("replayed"), "already_on_queue": self.count("already_on_queue"),
            "would_replay": self.count("would_replay"), "raced": self.count("raced"),
            "failed": self.count("failed"),
        }


def replay_dead_letters(
    enqueuer: TaskEnqueuer,
    bucket: str,
    *,
    storage_client: Any = None,
    dry_run: bool = False,
    limit: int | None = None,
) -> ReplayResult:
    """Replay every dead letter of ``bucket`` not yet replayed (at most ``limit``); see the module
    docstring. ``storage_client``: a google-cloud-storage client (default: one with ADC, or the
    emulator named by ``STORAGE_EMULATOR_HOST``)."""
    import google.cloud.storage as storage

    client = storage_client if storage_client is not None else storage.Client(project=None)
    result = ReplayResult(bucket=bucket, dry_run=dry_run)
    for blob in client.list_blobs(bucket, prefix=defaults.DEAD_LETTER_PREFIX):
        result.found += 1
        meta = dict(blob.metadata or {})
        if REPLAYED_AT in meta:
            result.already_replayed += 1
            continue
        if limit is not None and len(result.items) >= limit:
            continue
        task_id = replay_task_id(blob.name, meta.get("task"))
        if dry_run:
            result.items.append(ReplayItem(blob.name, task_id, "would_replay"))
            continue
        result.items.append(_replay_one(enqueuer, blob, meta, task_id))
    return result


def _replay_one(
    enqueuer: TaskEnqueuer, blob: Any, meta: dict[str, str], task_id: str
) -> ReplayItem:
    try:
        body = blob.download_as_bytes(if_generation_match=blob.generation)
        created = enqueuer.enqueue_spec(
            BodyTaskSpec(body, task_id=task_id, kind=meta.get("kind") or "replay")
        )
    except (gexc.GoogleAPIError, ValueError) as exc:
        return ReplayItem(blob.name, task_id, "failed", f"{type(exc).__name__}: {exc}")
    status = {CREATED: "replayed", DUPLICATE: "already_on_queue"}[created.status]
    meta.update({
        REPLAYED_AT: datetime.now(UTC).isoformat(timespec="milliseconds"),
        REPLAYED_AS: created.name or task_id,
        REPLAYS: str(int(meta.get(REPLAYS, "0") or 0) + 1),
    })
    blob.metadata = meta
    try:
        blob.patch(if_metageneration_match=blob.metageneration)
    except gexc.PreconditionFailed:
        return ReplayItem(blob.name, task_id, "raced")
    except gexc.GoogleAPIError as exc:
        return ReplayItem(blob.name, task_id, "failed", f"enqueued as {created.name} but not "
                                                        f"marked: {exc}")
    return ReplayItem(blob.name, task_id, status)
