"""Run checkov over synthesized stacks, with the project's custom CKV_TASKS_* policies.

    python -m reliability.checkov_scan cdktf.out/stacks/*/cdk.tf.json

checkov's built-in set has no check for Cloud Run v2, its IAM members or Cloud Tasks
queues, so the policies in ``reliability/checkov_policies`` cover them (public invoker,
public enqueuer, public actAs, project-level run.invoker, default compute account,
disabled invoker IAM check). checkov lives in its own virtualenv (``.venv-checkov``,
installed by ``bash reliability/checkov_setup.sh``): this module only needs the standard
library and runs it as a subprocess, once for all the files given.

A stack passes when checkov parsed it, no check failed, and at least one custom check
produced a result on it: a policy directory that silently failed to load (checkov logs
the error and goes on) must not read as a clean scan. checkov runs offline: no API key
(any ``BC_*``/``PRISMA_*``/``CKV_*`` setting in the environment is dropped),
``--skip-download``, no update check.

Waivers: a few built-in checks do not fit the buckets the library declares for its own
stores; :data:`WAIVERS` names each (check, resource type, the ``purpose`` label of the
store) with the reason. A finding it covers is reported as waived, never hidden; the same
check still fails on any other resource (a user's own bucket, say).

Exit status of the CLI: 0 all stacks pass, 1 a stack fails (failed check, parsing error,
no custom check result, policy load error), 2 checkov is not installed or cannot run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CHECKOV_VENV = ROOT / ".venv-checkov"
CHECKOV = CHECKOV_VENV / "bin" / "checkov"
POLICIES_DIR = Path(__file__).resolve().parent / "checkov_policies"
CUSTOM_CHECK_PREFIX = "CKV_TASKS_"
SETUP_COMMAND = "bash reliability/checkov_setup.sh"
FRAMEWORK = "terraform_json"
DEFAULT_TIMEOUT_SECONDS = 300.0

# Environment given to checkov: no platform, no update check, no stray configuration.
_DROPPED_ENV_PREFIXES = ("BC_", "PRISMA_", "CKV_", "CHECKOV_")
_OFFLINE_ENV = {
    "CKV_SKIP_PACKAGE_UPDATE_CHECK": "True",
    "BC_SKIP_MAPPING": "True",
    "LOG_LEVEL": "WARNING",
    "PYTHONDONTWRITEBYTECODE": "1",
}
# checkov logs (and skips) a custom check file it cannot import.
_LOAD_ERROR = re.compile(r"Cannot load external check.*")


@dataclass(frozen=True)
class Waiver:
    """A built-in check that does not apply to one kind of resource the library declares."""

    check_id: str
    resource_type: str
    purposes: frozenset[str]  # the resource's ``labels.purpose`` values it covers
    reason: str


# The stores' buckets (constructs_lib/buckets.py; docs/stores.md says why each is so).
WAIVERS = (
    Waiver(
        "CKV_GCP_62", "google_storage_bucket", frozenset({"dead-letters", "task-names"}),
        "no usage-log bucket: Cloud Storage usage logs are the legacy mechanism; object "
        "access is recorded by Cloud Audit Logs (Data Access logs), which Google recommends",
    ),
    Waiver(
        "CKV_GCP_78", "google_storage_bucket", frozenset({"dead-letters", "task-names"}),
        "versioning off: dead letters are written once (create-only) and soft delete keeps a "
        "deleted one 7 days; task-name markers are rewritten on every state change, so "
        "versioning would keep a noncurrent copy per change and nothing needs them",
    ),
)


class CheckovError(RuntimeError):
    """checkov is missing, crashed, timed out or wrote no report."""


class CheckovNotInstalled(CheckovError):
    def __init__(self, checkov: Path) -> None:
        super().__init__(
            f"checkov is not installed at {checkov}: run `{SETUP_COMMAND}` (or `make setup`) "
            "from the repository root; it installs requirements-checkov.txt into .venv-checkov"
        )


@dataclass(frozen=True)
class Finding:
    """One check result on one resource."""

    check_id: str
    check_name: str
    resource: str  # "<type>.<name>" (checkov's terraform_json reports "resource.<name>")
    result: str  # PASSED / FAILED / SKIPPED
    details: tuple[str, ...] = ()

    @property
    def custom(self) -> bool:
        return self.check_id.startswith(CUSTOM_CHECK_PREFIX)

    def __str__(self) -> str:
        why = f": {'; '.join(self.details)}" if self.details else ""
        return f"{self.check_id} {self.resource} ({self.check_name}){why}"


@dataclass
class ScanResult:
    """checkov's verdict on one stack file."""

    path: str
    stack: str
    parsing_errors: int = 0
    passed: list[Finding] = field(default_factory=list)
    failed: list[Finding] = field(default_factory=list)
    skipped: list[Finding] = field(default_factory=list)
    waived: list[tuple[Finding, str]] = field(default_factory=list)  # (finding, reason)
    load_errors: list[str] = field(default_factory=list)  # policy files checkov skipped

    @property
    def custom_results(self) -> int:
        """How many results the CKV_TASKS_* checks produced (0: they did not run)."""
        return sum(f.custom for f in (*self.passed, *self.failed, *self.skipped))

    @property
    def custom_check_ids(self) -> list[str]:
        ids = {f.check_id for f in (*self.passed, *self.failed, *self.skipped) if f.custom}
        return sorted(ids, key=_check_id_key)

    @property
    def failed_check_ids(self) -> list[str]:
        return sorted({f.check_id for f in self.failed}, key=_check_id_key)

    @property
    def problems(self) -> list[str]:
        problems = []
        if self.parsing_errors:
            problems.append(f"parsing error: checkov could not parse {self.path}")
        problems += [f"failed {finding}" for finding in self.failed]
        problems += [f"policy load error: {error}" for error in self.load_errors]
        if not self.parsing_errors and self.custom_results == 0:
            problems.append(
                f"no {CUSTOM_CHECK_PREFIX}* check produced a result: the custom policies did "
                "not load or the file holds no resource they cover"
            )
        return problems

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "path": self.path,
            "ok": self.ok,
            "passed": len(self.passed),
            "failed": len(self.failed),
            "skipped": len(self.skipped),
            "waived": [f"{finding}: {reason}" for finding, reason in self.waived],
            "parsing_errors": self.parsing_errors,
            "custom_results": self.custom_results,
            "custom_check_ids": self.custom_check_ids,
            "failed_check_ids": self.failed_check_ids,
            "failures": [str(f) for f in self.failed],
            "load_errors": self.load_errors,
        }


def scan(
    paths: Iterable[str | os.PathLike[str]],
    *,
    checkov: str | os.PathLike[str] = CHECKOV,
    policies_dir: str | os.PathLike[str] = POLICIES_DIR,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> list[ScanResult]:
    """Scan each ``cdk.tf.json`` in ``paths`` (one checkov run for all); one result each,
    in the order given."""
    files = [Path(p).resolve() for p in paths]
    if not files:
        raise ValueError("scan: no file given")
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise FileNotFoundError(f"scan: no such file: {', '.join(missing)}")
    report, stderr = _run_checkov(files, Path(checkov), Path(policies_dir), timeout)
    load_errors = sorted(set(_LOAD_ERROR.findall(stderr)))
    results = {
        f: ScanResult(path=str(f), stack=_stack_name(f), load_errors=list(load_errors))
        for f in files
    }
    declared = {f: _resources(f) for f in files}
    names = {f: _resource_types_by_name(declared[f]) for f in files}
    for one in _reports(report):
        body = one.get("results") or {}
        for error_path in body.get("parsing_errors") or []:
            target = _match(Path(error_path), files)
            if target is not None:
                results[target].parsing_errors += 1
        for key, attribute in (
            ("passed_checks", "passed"),
            ("failed_checks", "failed"),
            ("skipped_checks", "skipped"),
        ):
            for record in body.get(key) or []:
                target = _match(Path(record.get("file_abs_path") or ""), files)
                if target is None:
                    continue
                finding = _finding(record, names[target])
                getattr(results[target], attribute).append(finding)
    for f in files:
        _apply_waivers(results[f], _resource_purposes(declared[f]))
    return [results[f] for f in files]


def _apply_waivers(result: ScanResult, purposes: Mapping[str, str]) -> None:
    """Move each failed finding a :data:`WAIVERS` entry covers to ``result.waived``."""
    kept = []
    for finding in result.failed:
        purpose = purposes.get(finding.resource)
        waiver = next(
            (w for w in WAIVERS if w.check_id == finding.check_id and purpose in w.purposes
             and finding.resource.startswith(w.resource_type + ".")),
            None,
        )
        if waiver is None:
            kept.append(finding)
        else:
            result.waived.append((finding, waiver.reason))
    result.failed = kept


def _resources(path: Path) -> Mapping[str, Any]:
    """The stack's ``resource`` block, read once per scan (empty if unreadable)."""
    try:
        resources = json.loads(path.read_text(encoding="utf-8")).get("resource") or {}
    except (ValueError, AttributeError, OSError):
        return {}
    return resources if isinstance(resources, Mapping) else {}


def _resource_purposes(resources: Mapping[str, Any]) -> dict[str, str]:
    """``"<type>.<name>"`` -> its ``labels.purpose`` (resources that have one)."""
    purposes = {}
    for resource_type, instances in resources.items():
        if not isinstance(instances, Mapping):
            continue
        for name, body in instances.items():
            labels = body.get("labels") if isinstance(body, Mapping) else None
            if isinstance(labels, Mapping) and isinstance(labels.get("purpose"), str):
                purposes[f"{resource_type}.{name}"] = labels["purpose"]
    return purposes


def _run_checkov(
    files: Sequence[Path], checkov: Path, policies_dir: Path, timeout: float
) -> tuple[Any, str]:
    if not os.access(checkov, os.X_OK):
        raise CheckovNotInstalled(checkov)
    if not (policies_dir / "__init__.py").is_file():
        raise CheckovError(f"{policies_dir} is not a checkov policy directory (no __init__.py)")
    env = {k: v for k, v in os.environ.items() if not k.startswith(_DROPPED_ENV_PREFIXES)}
    env.update(_OFFLINE_ENV)
    with tempfile.TemporaryDirectory(prefix="checkov-scan-") as work:
        command = [str(checkov)]
        for f in files:
            command += ["-f", str(f)]
        command += [
            "--framework", FRAMEWORK,
            "--skip-download",
            "--external-checks-dir", str(policies_dir.resolve()),
            "-o", "json",
            "--output-file-path", work,
        ]
        try:
            # cwd: an empty directory, so no .checkov.yaml of the caller's is picked up.
            done = subprocess.run(
                command, cwd=work, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                text=True, timeout=timeout, check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise CheckovError(f"checkov did not finish within {timeout:g} s") from exc
        report_file = Path(work) / "results_json.json"
        if not report_file.is_file():
            raise CheckovError(
                f"checkov wrote no report (exit {done.returncode}): {done.stderr.strip()[-2000:]}"
            )
        try:
            report = json.loads(report_file.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise CheckovError(f"checkov's report is not JSON: {exc}") from exc
    return report, done.stderr


def _reports(report: Any) -> list[Mapping[str, Any]]:
    """checkov writes one report object, a list of them (several frameworks), or only a
    summary when there was nothing to report."""
    reports = report if isinstance(report, list) else [report]
    return [r for r in reports if isinstance(r, Mapping)]


def _match(path: Path, files: Sequence[Path]) -> Path | None:
    """The scanned file a report path names (checkov is given absolute paths)."""
    if not path.is_absolute():
        return None
    resolved = path.resolve()
    return next((f for f in files if f == resolved), None)


def _resource_types_by_name(resources: Mapping[str, Any]) -> dict[str, list[str]]:
    names: dict[str, list[str]] = {}
    for resource_type, instances in resources.items():
        if isinstance(instances, Mapping):
            for name in instances:
                names.setdefault(name, []).append(resource_type)
    return names


def _finding(record: Mapping[str, Any], types_by_name: Mapping[str, list[str]]) -> Finding:
    resource = str(record.get("resource") or "")
    block, _, name = resource.partition(".")
    types = types_by_name.get(name, [])
    if block == "resource" and len(types) == 1:
        resource = f"{types[0]}.{name}"
    result = (record.get("check_result") or {}).get("result") or ""
    return Finding(
        check_id=str(record.get("check_id") or ""),
        check_name=str(record.get("check_name") or ""),
        resource=resource,
        result=str(result),
        details=tuple(str(d) for d in record.get("details") or ()),
    )


def _stack_name(path: Path) -> str:
    return path.parent.name if path.name == "cdk.tf.json" else path.stem


def _check_id_key(check_id: str) -> tuple[str, int]:
    prefix, _, number = check_id.rpartition("_")
    return (prefix, int(number)) if number.isdigit() else (check_id, 0)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m reliability.checkov_scan",
        description="checkov (with the CKV_TASKS_* policies) over synthesized stacks",
    )
    parser.add_argument(
        "paths", nargs="+", help="cdk.tf.json files, e.g. cdktf.out/stacks/*/cdk.tf.json"
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument(
        "--checkov", default=str(CHECKOV), help=f"checkov binary (default {CHECKOV})"
    )
    args = parser.parse_args(argv)
    try:
        results = scan(args.paths, checkov=args.checkov)
    except (CheckovError, FileNotFoundError, ValueError) as exc:
        print(f"checkov_scan: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps([r.summary() for r in results], indent=2))
    else:
        for r in results:
            print(
                f"{'ok  ' if r.ok else 'FAIL'} {r.stack}: passed {len(r.passed)}, "
                f"failed {len(r.failed)}, skipped {len(r.skipped)}, waived {len(r.waived)}, "
                f"parsing errors "
                f"{r.parsing_errors}, custom results {r.custom_results} "
                f"({', '.join(r.custom_check_ids) or 'none'})  [{r.path}]"
            )
            for problem in r.problems:
                print(f"    {problem}")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
