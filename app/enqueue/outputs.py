"""Read (and, for the local demo, write) the stack outputs file.

``npx cdktf deploy <stack> --outputs-file outputs.json`` writes one top-level key per deployed
stack, each holding that stack's outputs::

    {"dev": {"service_url": "https://w.run.app", "task_url": "https://w.run.app/tasks",
             "audience": "https://...",
             "queue_path": "projects/P/locations/L/queues/Q",
             "invoker_email": "...@P.iam.gserviceaccount.com",
             "dispatch_deadline_seconds": 600}}

A stack with several patterns writes each pattern's outputs under its name and an underscore
(``orders_task_url``, ``invoices_task_url``, ...); ``pattern`` (``--pattern NAME``) picks one.
A job pattern's outputs (``job_name``, ``job_run_url``, ``job_queue_path``,
``job_invoker_email``) are read by ``load_job_outputs`` into ``JobOutputs``; a stack may hold
both kinds, and neither reader needs the other's outputs.
Everything is validated here so a bad file fails before any client or RPC exists.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from app.enqueue import defaults
from app.enqueue.errors import OutputsError

PathLike = str | os.PathLike[str]

_STRING_OUTPUTS = ("service_url", "audience", "queue_path", "invoker_email")


def legacy_task_url(service_url: str) -> str:
    """``task_url`` of an outputs file written before stacks output it: service URL + ``/tasks``."""
    return service_url.rstrip("/") + defaults.TASKS_PATH


@dataclass(frozen=True)
class StackOutputs:
    """The values the enqueuer needs from one deployed stack (one pattern of it).

    ``task_url`` is where tasks are POSTed; its path is the one the worker listens on. Left
    empty (an outputs file written before stacks output ``task_url``, or outputs built by hand)
    it becomes ``service_url`` + ``/tasks``, the sample worker's default path. A ``task_url``
    that is given is always used as it is. ``pattern`` is the pattern's name in a stack with
    several (its outputs are ``<pattern>_<name>``), empty for a stack's unprefixed outputs.
    """

    service_url: str
    audience: str
    queue_path: str
    invoker_email: str
    dispatch_deadline_seconds: int
    stack: str = ""
    task_url: str = ""
    pattern: str = ""
    dead_letter_bucket: str = ""
    """The worker's dead-letter bucket (the replay command reads it); empty when not declared."""
    task_name_bucket: str = ""
    """The bucket of the shared task-name store; empty when not declared."""

    def __post_init__(self) -> None:
        if not self.task_url:
            object.__setattr__(self, "task_url", legacy_task_url(self.service_url))

    def to_json(self) -> dict[str, Any]:
        """The outputs as written in an outputs file (without the stack name).

        Keys are prefixed with ``<pattern>_`` when ``pattern`` is set.
        """
        data = asdict(self)
        data.pop("stack")
        data.pop("pattern")
        for name in defaults.STORE_OUTPUTS:  # written only when the stack declares the store
            if not data[name]:
                data.pop(name)
        prefix = f"{self.pattern}_" if self.pattern else ""
        return {prefix + key: value for key, value in data.items()}


@dataclass(frozen=True)
class JobOutputs:
    """What the enqueuer needs to start a stack's Cloud Run job through its queue.

    Validated when built (from a file or by hand): the tasks carry an OAuth access token of
    ``job_invoker_email`` to ``job_run_url``, so it must be an https Google API URL (plain http
    only to loopback, for the local stand-in) of ``jobs.run`` for ``job_name``.
    """

    job_name: str
    job_run_url: str
    job_queue_path: str
    job_invoker_email: str
    stack: str = ""
    pattern: str = ""

    def __post_init__(self) -> None:
        _check_job_outputs(self)

    @property
    def queue_path(self) -> str:
        """The job's queue (``projects/P/locations/L/queues/Q``), where tasks are created."""
        return self.job_queue_path

    def to_json(self) -> dict[str, Any]:
        """The outputs as written in an outputs file (``<pattern>_`` prefixed if set)."""
        prefix = f"{self.pattern}_" if self.pattern else ""
        return {prefix + name: getattr(self, name) for name in defaults.JOB_OUTPUT_NAMES}


def load_outputs(
    path: PathLike = defaults.OUTPUTS_PATH,
    stack: str | None = None,
    pattern: str | None = None,
) -> StackOutputs:
    """Read ``path`` and return the outputs of ``stack`` (or of the only stack in the file).

    ``pattern`` picks one pattern of a stack with several (its ``<pattern>_*`` outputs); see
    ``parse_outputs``.
    """
    document, source = _read_document(path)
    return parse_outputs(document, stack=stack, source=source, pattern=pattern)


def load_job_outputs(
    path: PathLike = defaults.OUTPUTS_PATH,
    stack: str | None = None,
    pattern: str | None = None,
) -> JobOutputs:
    """Read ``path`` and return the job outputs of ``stack`` (or of the only stack in the file).

    ``pattern``: the job pattern whose ``<pattern>_job_*`` outputs to read; see
    ``parse_job_outputs``.
    """
    document, source = _read_document(path)
    return parse_job_outputs(document, stack=stack, source=source, pattern=pattern)


def _read_document(path: PathLike) -> tuple[Any, str]:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise OutputsError(
            f"outputs file not found: {p} (write it with "
            "`npx cdktf deploy <stack> --outputs-file outputs.json`, or pass --outputs PATH)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise OutputsError(f"cannot read outputs file {p}: {exc}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise OutputsError(
            f"outputs file {p} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    return document, str(p)


def parse_outputs(
    document: Any,
    stack: str | None = None,
    source: str = "outputs",
    pattern: str | None = None,
) -> StackOutputs:
    """Validate a decoded outputs document and pick one stack's outputs.

    Without ``pattern``: the stack's unprefixed outputs (``service_url``, ...); if it has none
    but outputs of exactly one pattern (``orders_service_url``, ...), that pattern's; with
    several patterns an ``OutputsError`` names them. With ``pattern``: that pattern's outputs.
    """
    stack, values = _stack_values(document, stack, source)
    chosen = _choose_pattern(values, pattern, f"stack {stack!r} in {source}")
    return _stack_outputs(values, stack=stack, source=source, pattern=chosen)


def parse_job_outputs(
    document: Any,
    stack: str | None = None,
    source: str = "outputs",
    pattern: str | None = None,
) -> JobOutputs:
    """Validate a decoded outputs document and pick one stack's job outputs.

    Without ``pattern``: the unprefixed ``job_*`` outputs; if there are none but exactly one
    pattern has ``<pattern>_job_run_url``, that pattern's; with several an ``OutputsError``
    names them. With ``pattern``: that pattern's ``<pattern>_job_*`` outputs. The service
    outputs (``service_url``, ...) are neither needed nor read.
    """
    stack, values = _stack_values(document, stack, source)
    where = f"stack {stack!r} in {source}"
    chosen = _choose_job_pattern(values, pattern, where)
    if chosen:
        where = f"pattern {chosen!r} of {where}"
    prefix = f"{chosen}_" if chosen else ""
    keys = [prefix + name for name in defaults.JOB_OUTPUT_NAMES]
    missing = [key for key in keys if key not in values]
    if missing:
        raise OutputsError(
            f"{where} lacks job output(s) {', '.join(missing)}; present: "
            f"{', '.join(sorted(values)) or 'none'} (a job pattern writes {', '.join(keys)})"
        )
    strings: dict[str, str] = {}
    for name, key in zip(defaults.JOB_OUTPUT_NAMES, keys, strict=True):
        value = values[key]
        if not isinstance(value, str) or not value.strip():
            raise OutputsError(f"{where}: output {key} must be a non-empty string, got {value!r}")
        strings[name] = value.strip()
    try:
        return JobOutputs(stack=stack, pattern=chosen, **strings)
    except OutputsError as exc:
        raise OutputsError(f"{where}: {exc}") from None


def _stack_values(document: Any, stack: str | None, source: str) -> tuple[str, dict[str, Any]]:
    """The chosen stack's name and outputs (the only stack when ``stack`` is None)."""
    if not isinstance(document, dict) or not all(isinstance(v, dict) for v in document.values()):
        raise OutputsError(
            f"{source} must be a JSON object of stacks, like "
            '{"dev": {"service_url": ..., "queue_path": ...}}; got '
            f"{_describe(document)}"
        )
    stacks = sorted(document)
    if not stacks:
        raise OutputsError(f"{source} holds no stacks; deploy one with --outputs-file first")
    if stack is None:
        if len(stacks) > 1:
            raise OutputsError(
                f"{source} holds several stacks ({', '.join(stacks)}); choose one with --stack"
            )
        stack = stacks[0]
    elif stack not in document:
        raise OutputsError(
            f"stack {stack!r} not found in {source}; stacks present: {', '.join(stacks)}"
        )
    return stack, document[stack]


AnyOutputs = StackOutputs | JobOutputs


def write_outputs(
    path: PathLike, outputs: Mapping[str, AnyOutputs | Iterable[AnyOutputs]]
) -> Path:
    """Write an outputs file (same schema as cdktf's) for the given stacks; used by the demo.

    Each stack maps to its outputs, or to the outputs of several patterns (distinct
    ``pattern`` names, written as ``<pattern>_<name>`` keys), service or job ones.
    """
    body: dict[str, dict[str, Any]] = {}
    for name, sets in outputs.items():
        values: dict[str, Any] = {}
        for out in [sets] if isinstance(sets, (StackOutputs, JobOutputs)) else sets:
            data = out.to_json()
            twice = sorted(set(data) & set(values))
            if twice:
                raise OutputsError(
                    f"stack {name!r}: output(s) {', '.join(twice)} given twice; "
                    "give each pattern its own name"
                )
            values.update(data)
        body[name] = values
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(body, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return p


def _patterns(values: Mapping[str, Any]) -> list[str]:
    """Names of the patterns with at least one ``<pattern>_<output>`` key, sorted."""
    found = set()
    for key in values:
        if not isinstance(key, str) or _is_job_output(key):
            continue
        for name in defaults.OUTPUT_NAMES:
            prefix = key[: -len(name) - 1]
            if key.endswith("_" + name) and defaults.PATTERN_RE.match(prefix):
                found.add(prefix)
    return sorted(found)


def _is_job_output(key: str) -> bool:
    """``job_queue_path`` is a job output, not the ``queue_path`` of a pattern named ``job``."""
    return any(key == name or key.endswith("_" + name) for name in defaults.JOB_OUTPUT_NAMES)


def _check_pattern_name(pattern: object) -> None:
    """Refuse a ``--pattern`` value that cannot be a pattern name."""
    if not isinstance(pattern, str) or not defaults.PATTERN_RE.match(pattern):
        raise OutputsError(
            f"pattern {pattern!r} is not a pattern name: a lower-case letter, then lower-case "
            "letters, digits or '_'"
        )


def _job_patterns(values: Mapping[str, Any]) -> list[str]:
    """Names of the job patterns (with a ``<pattern>_job_run_url`` output), sorted."""
    suffix = "_job_run_url"
    return sorted(key[: -len(suffix)] for key in values
                  if isinstance(key, str) and key.endswith(suffix)
                  and defaults.PATTERN_RE.match(key[: -len(suffix)]))


def _choose_job_pattern(values: Mapping[str, Any], pattern: str | None, where: str) -> str:
    """The job pattern whose outputs to read; ``""`` for the unprefixed ``job_*`` ones."""
    patterns = _job_patterns(values)
    if pattern is not None:
        _check_pattern_name(pattern)
        if pattern in patterns:
            return pattern
        raise OutputsError(
            f"job pattern {pattern!r} not found in {where}; job patterns present: "
            f"{', '.join(patterns) or 'none'}"
            + (" (the unprefixed job_* outputs: leave out --pattern)"
               if "job_run_url" in values else "")
        )
    if "job_run_url" in values or any(name in values for name in defaults.JOB_OUTPUT_NAMES):
        return ""
    if len(patterns) == 1:
        return patterns[0]
    if patterns:
        raise OutputsError(
            f"{where} holds several job patterns ({', '.join(patterns)}); "
            "choose one with --pattern NAME"
        )
    raise OutputsError(
        f"{where} has no job outputs ({', '.join(defaults.JOB_OUTPUT_NAMES)}): deploy a stack "
        "with a job pattern (CloudTasksToCloudRunJob), or send worker tasks without --job"
    )


def _check_job_outputs(out: JobOutputs) -> None:
    prefix = f"{out.pattern}_" if out.pattern else ""
    for name in defaults.JOB_OUTPUT_NAMES:
        value = getattr(out, name)
        if not isinstance(value, str) or not value.strip():
            raise OutputsError(f"output {prefix}{name} must be a non-empty string, got {value!r}")
    if not defaults.JOB_NAME_RE.match(out.job_name):
        raise OutputsError(
            f"output {prefix}job_name {out.job_name!r} is not a Cloud Run job name "
            "(a lower-case letter, then letters, digits or '-', at most 49)"
        )
    what = f"output {prefix}job_run_url"
    parts = urlsplit(out.job_run_url)
    host = parts.hostname or ""
    if parts.scheme == "https":
        if not host.endswith(defaults.GOOGLE_API_DOMAIN):
            raise OutputsError(
                f"{what} {out.job_run_url!r}: the tasks carry an OAuth access token, sent only "
                f"to Google APIs (https://*{defaults.GOOGLE_API_DOMAIN}, e.g. "
                "https://run.googleapis.com/v2/projects/P/locations/L/jobs/J:run)"
            )
    elif parts.scheme == "http":
        if host not in defaults.LOOPBACK_HOSTS:
            raise OutputsError(
                f"{what} {out.job_run_url!r} uses plain http; only https is allowed (http only "
                f"for {', '.join(sorted(defaults.LOOPBACK_HOSTS))}: the local jobs.run stand-in)"
            )
    else:
        raise OutputsError(f"{what} {out.job_run_url!r} must be an absolute https URL")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise OutputsError(f"{what} {out.job_run_url!r} must not carry a query, fragment or user")
    match = defaults.JOB_RUN_PATH_RE.match(parts.path)
    if not match:
        raise OutputsError(
            f"{what} {out.job_run_url!r} is not jobs.run: its path must be "
            "/v2/projects/P/locations/L/jobs/J:run"
        )
    if match["job"] != out.job_name:
        raise OutputsError(
            f"{what} {out.job_run_url!r} runs job {match['job']!r}, but {prefix}job_name is "
            f"{out.job_name!r}"
        )
    if not defaults.QUEUE_PATH_RE.match(out.job_queue_path):
        raise OutputsError(
            f"output {prefix}job_queue_path {out.job_queue_path!r} is not of the form "
            "projects/PROJECT/locations/LOCATION/queues/QUEUE (queue id: letters, digits, '-')"
        )
    if "@" not in out.job_invoker_email:
        raise OutputsError(
            f"output {prefix}job_invoker_email {out.job_invoker_email!r} is not a service "
            "account email"
        )


def _choose_pattern(values: Mapping[str, Any], pattern: str | None, where: str) -> str:
    """The pattern whose outputs to read; ``""`` for the unprefixed ones."""
    patterns = _patterns(values)
    if pattern is not None:
        _check_pattern_name(pattern)
        if pattern in patterns:
            return pattern
        if patterns:
            raise OutputsError(
                f"pattern {pattern!r} not found in {where}; patterns present: "
                f"{', '.join(patterns)} (choose one with --pattern NAME)"
            )
        raise OutputsError(
            f"pattern {pattern!r} not found in {where}: it holds no <pattern>_service_url, "
            "<pattern>_task_url, ... outputs, only the unprefixed ones of a single pattern; "
            "leave out --pattern"
        )
    if patterns and not any(name in values for name in defaults.OUTPUT_NAMES):
        if len(patterns) == 1:
            return patterns[0]
        raise OutputsError(
            f"{where} holds the outputs of several patterns ({', '.join(patterns)}); "
            "choose one with --pattern NAME"
        )
    return ""


def _stack_outputs(
    values: Mapping[str, Any], *, stack: str, source: str, pattern: str = ""
) -> StackOutputs:
    where = f"stack {stack!r} in {source}"
    if pattern:
        where = f"pattern {pattern!r} of {where}"
    prefix = f"{pattern}_" if pattern else ""
    required = [prefix + name for name in defaults.REQUIRED_OUTPUTS]
    missing = [key for key in required if key not in values]
    if missing:
        hint = ""
        if any(isinstance(key, str) and _is_job_output(key) for key in values):
            hint = "; it has job outputs: to start its job, add --job (JobEnqueuer)"
        raise OutputsError(
            f"{where} lacks output(s) {', '.join(missing)}; present: "
            f"{', '.join(sorted(values)) or 'none'} (required: {', '.join(required)}){hint}"
        )
    names = _STRING_OUTPUTS + tuple(name for name in ("task_url",) + defaults.STORE_OUTPUTS
                                    if prefix + name in values)
    strings = {}
    for name in names:
        value = values[prefix + name]
        if not isinstance(value, str) or not value.strip():
            raise OutputsError(
                f"{where}: output {prefix}{name} must be a non-empty string, got {value!r}"
            )
        strings[name] = value.strip()

    _check_url(strings["service_url"], f"{where}: output {prefix}service_url")
    if "task_url" in strings:
        task_url = strings["task_url"]
        _check_url(task_url, f"{where}: output {prefix}task_url")
        if not urlsplit(task_url).path:
            raise OutputsError(
                f"{where}: output {prefix}task_url {task_url!r} has no path; it is the URL the "
                f"worker takes tasks on, e.g. {legacy_task_url(strings['service_url'])}"
            )
    if not defaults.QUEUE_PATH_RE.match(strings["queue_path"]):
        raise OutputsError(
            f"{where}: output {prefix}queue_path {strings['queue_path']!r} is not of the form "
            "projects/PROJECT/locations/LOCATION/queues/QUEUE (queue id: letters, digits, '-')"
        )
    if "@" not in strings["invoker_email"]:
        raise OutputsError(
            f"{where}: output {prefix}invoker_email {strings['invoker_email']!r} is not a "
            "service account email"
        )
    return StackOutputs(
        dispatch_deadline_seconds=_deadline(
            values[prefix + "dispatch_deadline_seconds"], where, prefix
        ),
        stack=stack,
        pattern=pattern,
        **strings,
    )


def _check_url(url: str, what: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OutputsError(f"{what} {url!r} must be an absolute http(s) URL")
    if parts.scheme == "http" and parts.hostname not in defaults.LOOPBACK_HOSTS:
        raise OutputsError(
            f"{what} {url!r} uses plain http; only https is allowed "
            f"(http only for {', '.join(sorted(defaults.LOOPBACK_HOSTS))}, as in the local demo)"
        )
    if parts.query or parts.fragment:
        raise OutputsError(f"{what} {url!r} must not carry a query or fragment")


def _deadline(value: Any, where: str, prefix: str = "") -> int:
    lo, hi = defaults.MIN_DISPATCH_DEADLINE_S, defaults.MAX_DISPATCH_DEADLINE_S
    number: float | None = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None or not math.isfinite(number) or number != int(number):
        raise OutputsError(
            f"{where}: output {prefix}dispatch_deadline_seconds must be a whole number of seconds, "
            f"got {value!r}"
        )
    if not lo <= number <= hi:
        raise OutputsError(
            f"{where}: output {prefix}dispatch_deadline_seconds is {value!r}; allowed {lo} to {hi}"
        )
    return int(number)


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        bad = sorted(k for k, v in value.items() if not isinstance(v, dict))
        return f"non-object value(s) under key(s) {', '.join(bad)}"
    return f"a JSON {type(value).__name__}"
