"""``python -m reliability`` (``make reliability``): run every reliability and security
check, long runs included, and write docs/RELIABILITY.md with one table of figures.

Exit status 0 only if every row holds: nothing lost, nothing accepted that should be
rejected, nothing rejected that is valid. ``--quick`` shortens the long runs (for trying
the command; the committed report comes from a full run).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from reliability.report import Row, render

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "docs" / "RELIABILITY.md"


def infra_rows() -> list[Row]:
    from support.cases import infra_inputs, policy_cases

    inputs = infra_inputs.run_all()
    cases, refused, failures = policy_cases.run_all()
    return [
        Row("Bad input, infrastructure: invalid configurations refused at construction "
            "(ConfigurationError naming the parameter; nothing declared, so a synth after the "
            "error writes none of it)",
            f"{inputs.rejected} / {inputs.invalid}", inputs.rejected == inputs.invalid
            and inputs.invalid >= 40, ".venv/bin/python -m pytest tests/infra/test_validation.py",
            [f for f in inputs.failures if f.startswith("invalid")]),
        Row("Bad input, infrastructure: boundary values accepted and synthesized",
            f"{inputs.accepted} / {inputs.valid}", inputs.accepted == inputs.valid,
            ".venv/bin/python -m pytest tests/infra/test_validation.py",
            [f for f in inputs.failures if f.startswith("valid")]),
        Row("Policy: escape hatches that fail the synth readably, writing no stack file",
            f"{refused} / {cases}", refused == cases, ".venv/bin/python -m pytest tests/infra/test_policy.py", failures),
    ]


def checkov_rows(workdir: Path) -> list[Row]:
    from reliability.checkov_scan import scan
    from reliability.stack_files import EXAMPLE_ENQUEUERS, synthesize_bad, synthesize_shipped

    shipped = scan(synthesize_shipped(workdir / "shipped"))
    with_enqueuers = scan(synthesize_shipped(workdir / "enqueuers", environ=EXAMPLE_ENQUEUERS))
    bad_path, expected = synthesize_bad(workdir / "bad")
    (bad,) = scan([bad_path])
    parse_errors = sum(r.parsing_errors for r in shipped)
    failures = sum(len(r.failed) for r in shipped)
    custom_ran = all(r.custom_results > 0 for r in shipped)
    caught = sorted(set(bad.failed_check_ids) & set(expected))
    return [
        Row("checkov (custom CKV_TASKS_* policies) over every shipped stack: parsing errors "
            "/ failed checks",
            f"{parse_errors} / {failures} over {len(shipped)} stacks "
            f"({sum(len(r.passed) for r in shipped)} passed)",
            parse_errors == 0 and failures == 0 and custom_ran and len(shipped) >= 2,
            "make synth && .venv/bin/python -m reliability.checkov_scan "
            "cdktf.out/stacks/*/cdk.tf.json", [p for r in shipped for p in r.problems]),
        Row("checkov on the shipped stacks with two enqueuers (TASK_ENQUEUERS), so the queue "
            "and actAs checks have resources: parsing errors / failed checks",
            f"{sum(r.parsing_errors for r in with_enqueuers)} / "
            f"{sum(len(r.failed) for r in with_enqueuers)} "
            f"({sum(len(r.passed) for r in with_enqueuers)} passed, checks run: "
            f"{', '.join(sorted({c for r in with_enqueuers for c in r.custom_check_ids}))})",
            all(r.ok for r in with_enqueuers)
            and all({"CKV_TASKS_2", "CKV_TASKS_3"} <= set(r.custom_check_ids)
                    for r in with_enqueuers),
            ".venv/bin/python -m pytest tests/reliability/test_checkov.py",
            [p for r in with_enqueuers for p in r.problems]),
        Row("checkov on a deliberately bad stack: custom checks that fail it",
            f"{len(caught)} / {len(expected)} ({len(bad.failed)} failures)",
            caught == sorted(expected), ".venv/bin/python -m pytest tests/reliability/test_checkov.py",
            [f"not caught: {c}" for c in sorted(set(expected) - set(caught))]),
    ]


def worker_rows() -> list[Row]:
    from reliability.worker_matrix import run_matrix

    matrix = run_matrix()
    runs_expected = sum(1 for r in matrix.results if r.case.runs > 0)
    return [Row(
        "Bad input, worker: hostile or malformed requests answered as documented; of them "
        f"{matrix.cases - runs_expected} refused with no handler run, and {runs_expected} valid "
        "tasks run once (absurd X-CloudTasks-* values are informational and ignored; one deeply "
        "nested but valid payload); "
        f"{matrix.handler_runs} runs beyond that, {matrix.server_errors} 5xx, still serving "
        f"after {matrix.still_serving}",
        f"{matrix.rejected_as_documented} / {matrix.cases}", matrix.ok and matrix.cases >= 30,
        ".venv/bin/python -m reliability.worker_matrix", matrix.failures)]


def token_fuzz_rows(quick: bool) -> list[Row]:
    from reliability.token_fuzz import DEFAULT_EXAMPLES, QUICK_EXAMPLES, run_fuzz

    result = run_fuzz(QUICK_EXAMPLES if quick else DEFAULT_EXAMPLES)
    tally = result.tally
    return [Row(
        "Token fuzz, worker against google-auth: generated tokens (raw JSON text, odd encodings, "
        "sizes around the 8,192-character limit) to a worker with its token cache and one "
        "without, each verdict against `jwt.decode` + the documented checks; every difference "
        "must fall under the written list (docs/worker.md); no 5xx, cached == uncached",
        f"{tally.tokens} tokens (seed {result.seed}): {tally.both_accept} accepted and "
        f"{tally.both_refuse} refused by both; {tally.differences_text()}; "
        f"{tally.tokens_with_problems} with a problem, {tally.server_errors} 5xx, "
        f"{result.tracebacks} tracebacks",
        result.ok, ".venv/bin/python -m reliability.token_fuzz", tally.problems)]


def fault_rows(quick: bool) -> list[Row]:
    from reliability.faults import run_enqueue_faults, run_task_faults

    tasks = run_task_faults(n_tasks=200 if quick else 1000, log=lambda *_: None)
    enqueue = run_enqueue_faults(n_tasks=200 if quick else 1000, log=lambda *_: None)
    return [
        Row("Faults end to end: tasks through emulator and worker, handler failing 30 % of "
            "attempts (sent / handled / retried / duplicates suppressed / lost / duplicated)",
            f"{tasks.sent} / {tasks.handled} / {tasks.retried} / "
            f"{tasks.duplicates_suppressed} / {tasks.lost} / {tasks.duplicated}",
            tasks.ok,  # its problems cover lost, duplicated and handled != tasks
            ".venv/bin/python -m reliability.faults", tasks.problems),
        Row("Faults, enqueuer: named tasks under injected UNAVAILABLE / DEADLINE_EXCEEDED "
            "on 30 % of calls (sent / on the queue / faults injected / lost / duplicated)",
            f"{enqueue.sent} / {enqueue.on_queue} / {enqueue.injected} / {enqueue.lost} / "
            f"{enqueue.duplicated}",
            enqueue.ok,  # its problems cover lost, duplicated and on_queue != sent
            ".venv/bin/python -m reliability.faults", enqueue.problems),
    ]


def instances_rows(quick: bool) -> list[Row]:
    from reliability.instances import run_instances

    n = 200 if quick else 1000
    shared = run_instances(n, store="gcs")
    memory = run_instances(n, store="memory", replay=False)
    return [
        Row("Several instances: 3 worker processes behind one address (round-robin proxy injecting "
            "duplicate deliveries), shared task-name store and dead letters on Cloud Storage "
            "(fake-gcs-server), queue max_attempts 3; then the fix deployed and the dead letters "
            "replayed", shared.figure(), shared.ok, ".venv/bin/python -m reliability.instances --store gcs",
            shared.problems),
        Row("Several instances, the same run with each process's in-memory task-name store: the "
            "duplicates it lets through (must be > 0, nothing lost)", memory.figure(),
            memory.double_effects > 0 and memory.lost == 0,
            ".venv/bin/python -m reliability.instances --store memory",
            [] if memory.double_effects > 0 else ["no duplicate got through: the run proves nothing"]),
    ]


def load_rows(quick: bool) -> list[Row]:
    from reliability.load import run_load

    result = run_load(rate=500, duration=10 if quick else 60)
    return [Row(
        f"Load: worker held at 500 tasks/s for {result.duration:.0f} s, verification on, "
        f"every request RSA-verified: {result.every_request_verified} (ok / errors; p50, p99)",
        f"{result.ok} / {result.errors}; p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms",
        result.kept_up and result.errors == 0, ".venv/bin/python -m reliability.load",
        [result.summary()] if not result.kept_up else [])]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reliability", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="shorter long runs (200 tasks, 10 s of load, 2,000 tokens)")
    parser.add_argument("--output", type=Path, default=REPORT)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, part in (
            ("infrastructure input and policy", infra_rows),
            ("checkov", lambda: checkov_rows(Path(tmp))),
            ("worker matrix", worker_rows),
            ("token fuzz", lambda: token_fuzz_rows(args.quick)),
            ("faults", lambda: fault_rows(args.quick)),
            ("several instances", lambda: instances_rows(args.quick)),
            ("load", lambda: load_rows(args.quick)),
        ):
            print(f"reliability: {name} ...", file=sys.stderr, flush=True)
            try:
                part_rows = part()
            except Exception as error:  # noqa: BLE001 - a part that cannot run is a failed row
                part_rows = [Row(f"{name}: could not run", f"{type(error).__name__}", False,
                                 "python -m reliability", [str(error)])]
            for row in part_rows:
                print(f"  {'ok  ' if row.ok else 'FAIL'} {row.what}: {row.figure}",
                      file=sys.stderr, flush=True)
            rows.extend(part_rows)
    elapsed = time.perf_counter() - started
    context = (f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
               f"Python {platform.python_version()}, {elapsed:.0f} s"
               + (", --quick (shortened runs)" if args.quick else ""))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(render(rows, context, quick=args.quick), encoding="utf-8")
    print(f"reliability: wrote {args.output} ({sum(r.ok for r in rows)} / {len(rows)} rows hold)",
          file=sys.stderr)
    return 0 if all(r.ok for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
