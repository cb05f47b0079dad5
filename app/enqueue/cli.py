"""Command line: ``python -m app.enqueue`` (see docs/enqueuer.md for every flag).

``--job`` creates job tasks instead (each starts one execution of the stack's Cloud Run job
through jobs.run, with the payload in the container override; docs/job.md).

``python -m app.enqueue replay`` re-enqueues the worker's dead letters (app/enqueue/replay.py,
docs/enqueuer.md): from the outputs' ``dead_letter_bucket`` (or ``--bucket``), ``--dry-run`` to
list them only.

Exit status: 0 all tasks exist on the queue (created or duplicate), 1 some task failed after
retries, 2 bad input (outputs file, JSON, task id, size...) with nothing sent.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import tasks_v2

from app.enqueue import defaults
from app.enqueue.client import default_retry, emulator_target
from app.enqueue.enqueuer import BaseEnqueuer, BulkResult, TaskEnqueuer
from app.enqueue.errors import EnqueueError, TaskSpecError
from app.enqueue.jobs import JobEnqueuer, JobSpec
from app.enqueue.outputs import load_job_outputs, load_outputs
from app.enqueue.tasks import TaskSpec, load_jsonl

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m app.enqueue",
        description="Create HTTP tasks for the worker on the Cloud Tasks queue of a deployed stack "
                    "(with --job: tasks that start the stack's Cloud Run job).",
    )
    p.add_argument("--outputs", default=defaults.OUTPUTS_PATH, metavar="PATH",
                   help="outputs file from `cdktf deploy --outputs-file` (default: %(default)s)")
    p.add_argument("--stack", metavar="NAME", help="stack in the outputs file (default: the only "
                                                   "one)")
    p.add_argument("--pattern", metavar="NAME",
                   help="pattern of a stack with several, whose outputs are NAME_task_url, ... "
                        "(default: the stack's unprefixed outputs, or its only pattern)")
    p.add_argument("--emulator", metavar="HOST:PORT",
                   help=f"use a Cloud Tasks emulator over insecure gRPC (env "
                        f"{defaults.EMULATOR_ENV})")
    what = p.add_argument_group("what to send (one of --kind or --jsonl)")
    src = what.add_mutually_exclusive_group(required=True)
    src.add_argument("--kind", help="task kind, e.g. echo")
    src.add_argument("--jsonl", metavar="PATH",
                     help="bulk: one JSON task per line, keys kind, data, task_id, delay_seconds "
                          "('-' = stdin)")
    what.add_argument("--data", default="{}", metavar="JSON", help="task data, a JSON object "
                                                                   "(default: {})")
    what.add_argument("--task-id", metavar="ID",
                      help="name the task (deduplicated by Cloud Tasks); letters, digits, '-', '_'")
    what.add_argument("--delay", type=float, default=0.0, metavar="SECONDS",
                      help="schedule the task this many seconds ahead (max 30 days)")
    what.add_argument("--count", type=int, default=1, metavar="N",
                      help="bulk: send the --kind/--data task N times (ids ID-0..ID-N-1 with "
                           "--task-id)")
    job = p.add_argument_group("job runs (--job: each task starts one execution of the stack's "
                               "Cloud Run job through jobs.run)")
    job.add_argument("--job", action="store_true",
                     help="create job tasks: read job_run_url, job_queue_path, job_invoker_email "
                          "from the outputs file; the payload goes in the TASK_PAYLOAD override")
    job.add_argument("--task-count", type=int, metavar="N",
                     help=f"override the job's task count (1 to {defaults.JOB_MAX_TASKS}; "
                          "default: the job's)")
    job.add_argument("--task-timeout", type=int, metavar="SECONDS",
                     help="override the job's task timeout, whole seconds "
                          f"(1 to {defaults.JOB_MAX_TIMEOUT_S}; default: the job's)")
    job.add_argument("--container", metavar="NAME",
                     help="container the override applies to (jobs with several containers)")
    tune = p.add_argument_group("tuning")
    tune.add_argument("--concurrency", type=int, default=defaults.CONCURRENCY, metavar="N",
                      help="bulk: concurrent create calls over the one client (default: "
                           "%(default)s)")
    tune.add_argument("--timeout", type=float, default=defaults.CREATE_TIMEOUT_S, metavar="SECONDS",
                      help="deadline of each create attempt (default: %(default)s)")
    tune.add_argument(
        "--retry-deadline",
        type=float,
        default=defaults.RETRY_TOTAL_S,
        metavar="SECONDS",
        help="total time for retries of one task on transient errors (default: %(default)s)",
    )
    tune.add_argument("--no-hash-prefix", action="store_true",
                      help="send --task-id as is instead of prefixing a hash of it (sequential ids "
                           "are slower)")
    tune.add_argument("--no-progress", action="store_true",
                      help="no progress bar (it is shown on stderr only when stderr is a terminal)")
    tune.add_argument("--dry-run", action="store_true",
                      help="validate and print the tasks as JSON; create no client, send nothing")
    return p


def build_replay_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m app.enqueue replay",
        description="Re-enqueue the worker's dead letters not yet replayed (new task ids derived "
                    "from "
                    "the originals), then mark each replayed. Prints the counts as JSON.",
    )
    p.add_argument("--outputs", default=defaults.OUTPUTS_PATH, metavar="PATH",
                   help="outputs file from `cdktf deploy --outputs-file` (default: %(default)s)")
    p.add_argument("--stack", metavar="NAME", help="stack in the outputs file (default: the only "
                                                   "one)")
    p.add_argument("--pattern", metavar="NAME", help="pattern of a stack with several")
    p.add_argument("--bucket", metavar="NAME",
                   help="dead-letter bucket (default: the outputs' dead_letter_bucket)")
    p.add_argument("--emulator", metavar="HOST:PORT",
                   help=f"use a Cloud Tasks emulator over insecure gRPC (env "
                        f"{defaults.EMULATOR_ENV}); "
                        "Cloud Storage follows STORAGE_EMULATOR_HOST")
    p.add_argument("--limit", type=int, metavar="N", help="replay at most N dead letters")
    p.add_argument("--dry-run", action="store_true",
                   help="list what would be replayed; create no task, mark nothing")
    p.add_argument("--timeout", type=float, default=defaults.CREATE_TIMEOUT_S, metavar="SECONDS",
                   help="deadline of each create attempt (default: %(default)s)")
    return p


def replay_main(
    argv: Sequence[str] | None = None,
    *,
    client: tasks_v2.CloudTasksClient | None = None,
    storage_client: Any = None,
) -> int:
    """``python -m app.enqueue replay``; ``client`` / ``storage_client`` let tests inject
    clients."""
    from app.enqueue.replay import replay_dead_letters

    args = build_replay_parser().parse_args(argv)
    try:
        outputs = load_outputs(args.outputs, args.stack, args.pattern)
        bucket = args.bucket or outputs.dead_letter_bucket
        if not bucket:
            raise EnqueueError(f"no dead-letter bucket: the outputs of stack {outputs.stack!r} "
                               f"have no "
                               "dead_letter_bucket (a stack without the store); pass --bucket NAME")
        if args.limit is not None and args.limit < 1:
            raise EnqueueError(f"--limit must be >= 1, got {args.limit}")
        enq = TaskEnqueuer(
            outputs, client=client, emulator=emulator_target(args.emulator), timeout=args.timeout
        )
    except EnqueueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    with enq:
        result = replay_dead_letters(
            enq, bucket, storage_client=storage_client, dry_run=args.dry_run, limit=args.limit
        )
    for item in result.items:
        if item.status == "failed":
            print(f"failed: {item.object_name} {item.error}", file=sys.stderr)
        elif args.dry_run:
            print(json.dumps({"would_replay": item.object_name, "task_id": item.task_id}))
    print(json.dumps(result.summary()))
    return EXIT_OK if result.ok else EXIT_FAILED


def main(
    argv: Sequence[str] | None = None, *, client: tasks_v2.CloudTasksClient | None = None
) -> int:
    """Run the CLI; ``client`` lets tests inject a client (it is never created on bad input)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["replay"]:
        return replay_main(argv[1:], client=client)
    args = build_parser().parse_args(argv)
    try:
        specs, bulk = _specs(args)
        emulator = emulator_target(args.emulator)
        if args.retry_deadline <= 0:
            raise EnqueueError(f"--retry-deadline must be > 0 seconds, got {args.retry_deadline}")
        if not 1 <= args.concurrency <= defaults.MAX_CONCURRENCY:
            raise EnqueueError(f"--concurrency must be 1 to {defaults.MAX_CONCURRENCY}, got "
                               f"{args.concurrency}")
        options: dict[str, Any] = dict(client=client, emulator=emulator, timeout=args.timeout,
                                       retry=default_retry(args.retry_deadline),
                                       hash_task_ids=not args.no_hash_prefix)
        enq: BaseEnqueuer
        if args.job:
            enq = JobEnqueuer(load_job_outputs(args.outputs, args.stack, args.pattern), **options)
        else:
            enq = TaskEnqueuer(load_outputs(args.outputs, args.stack, args.pattern), **options)
        if args.dry_run:
            for task in [enq.build(s) for s in specs]:
                print(json.dumps(_task_json(task), sort_keys=True))
            return EXIT_OK
    except EnqueueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE

    # Every task is built (validated) before the first RPC, and the client only then created.
    with enq:
        try:
            if not bulk:
                return _single(enq, specs[0])
            progress = not args.no_progress and sys.stderr.isatty()
            result = enq.enqueue_many(specs, concurrency=args.concurrency, progress=progress)
        except EnqueueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
    return _report(result)


_JOB_FLAGS = ("task_count", "task_timeout", "container")


def _specs(args: argparse.Namespace) -> tuple[list[Any], bool]:
    if not args.job:
        for flag in _JOB_FLAGS:
            if getattr(args, flag) is not None:
                raise EnqueueError(f"--{flag.replace('_', '-')} applies to job tasks: add --job")
    if args.jsonl is not None:
        flags = (("data", "{}"), ("task_id", None), ("delay", 0.0), ("count", 1))
        for flag, default in flags + tuple((name, None) for name in _JOB_FLAGS):
            if getattr(args, flag) != default:
                raise EnqueueError(f"--{flag.replace('_', '-')} applies to --kind, not --jsonl "
                                   "(put it on each JSONL line instead)")
        return _read_jsonl(args.jsonl, JobSpec if args.job else TaskSpec), True
    try:
        data = json.loads(args.data)
    except json.JSONDecodeError as exc:
        raise TaskSpecError(f"--data is not valid JSON: {exc.msg} at column {exc.colno}") from None
    if not isinstance(data, dict):
        raise TaskSpecError(f"--data must be a JSON object, got {type(data).__name__}")
    if args.count < 1:
        raise EnqueueError(f"--count must be >= 1, got {args.count}")
    if args.count == 1:
        return [_spec(args, data, args.task_id)], False
    return list(_repeat(args, data, args.count)), True


def _spec(args: argparse.Namespace, data: dict[str, Any], task_id: str | None) -> Any:
    if args.job:
        return JobSpec(args.kind, data, task_count=args.task_count,
                       timeout_seconds=args.task_timeout, task_id=task_id,
                       delay_seconds=args.delay, container=args.container)
    return TaskSpec(args.kind, data, task_id, args.delay)


def _repeat(args: argparse.Namespace, data: dict[str, Any], n: int) -> Iterator[Any]:
    for i in range(n):
        yield _spec(args, data, f"{args.task_id}-{i}" if args.task_id else None)


def _read_jsonl(path: str, spec: Any) -> list[Any]:
    if path == "-":
        return load_jsonl(sys.stdin, "stdin", spec)
    try:
        with open(path, encoding="utf-8") as stream:
            return load_jsonl(stream, path, spec)
    except FileNotFoundError:
        raise EnqueueError(f"JSONL file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise EnqueueError(f"cannot read JSONL file {path}: {exc}") from None


def _single(enq: BaseEnqueuer, spec: Any) -> int:
    try:
        res = enq.enqueue_spec(spec)
    except gexc.GoogleAPIError as exc:
        print(f"error: creating the task failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(json.dumps({"status": res.status, "name": res.name}))
    return EXIT_OK


def _report(result: BulkResult) -> int:
    for res in result.results:
        if res.status == "failed":
            print(f"failed: task #{res.index} {res.name or ''} {res.error}", file=sys.stderr)
    print(json.dumps(result.summary()))
    return EXIT_OK if result.ok else EXIT_FAILED


def _task_json(task: tasks_v2.Task) -> dict[str, Any]:
    data = tasks_v2.Task.to_dict(task, use_integers_for_enums=False)
    body = task.http_request.body
    data["http_request"]["body"] = body.decode("utf-8")
    return data
