"""Read (and, for the local demo, write) the stack outputs file.

``npx cdktf deploy <stack> --outputs-file outputs.json`` writes one top-level key per deployed
stack, each holding that stack's outputs::

    {"dev": {"service_url": "https://...", "audience": "https://...",
             "queue_path": "projects/P/locations/L/queues/Q",
             "invoker_email": "...@P.iam.gserviceaccount.com",
             "dispatch_deadline_seconds": 600}}

Everything is validated here so a bad file fails before any client or RPC exists.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping, Optional, Union
from urllib.parse import urlsplit

from app.enqueue import defaults
from app.enqueue.errors import OutputsError

PathLike = Union[str, "os.PathLike[str]"]


@dataclass(frozen=True)
class StackOutputs:
    """The values the enqueuer needs from one deployed stack."""

    service_url: str
    audience: str
    queue_path: str
    invoker_email: str
    dispatch_deadline_seconds: int
    stack: str = ""

    @property
    def task_url(self) -> str:
        """URL tasks are POSTed to: the service URL plus the worker's tasks path."""
        return self.service_url.rstrip("/") + defaults.TASKS_PATH

    def to_json(self) -> dict[str, Any]:
        """The outputs as written in an outputs file (without the stack name)."""
        data = asdict(self)
        data.pop("stack")
        return data


def load_outputs(path: PathLike = defaults.OUTPUTS_PATH, stack: Optional[str] = None) -> StackOutputs:
    """Read ``path`` and return the outputs of ``stack`` (or of the only stack in the file)."""
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
    return parse_outputs(document, stack=stack, source=str(p))


def parse_outputs(document: Any, stack: Optional[str] = None, source: str = "outputs") -> StackOutputs:
    """Validate a decoded outputs document and pick one stack's outputs."""
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
    return _stack_outputs(document[stack], stack=stack, source=source)


def write_outputs(path: PathLike, outputs: Mapping[str, StackOutputs]) -> Path:
    """Write an outputs file (same schema as cdktf's) for the given stacks; used by the demo."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    body = {name: out.to_json() for name, out in outputs.items()}
    p.write_text(json.dumps(body, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return p


def _stack_outputs(values: Mapping[str, Any], *, stack: str, source: str) -> StackOutputs:
    where = f"stack {stack!r} in {source}"
    missing = [k for k in defaults.REQUIRED_OUTPUTS if k not in values]
    if missing:
        raise OutputsError(
            f"{where} lacks output(s) {', '.join(missing)}; present: "
            f"{', '.join(sorted(values)) or 'none'} (required: {', '.join(defaults.REQUIRED_OUTPUTS)})"
        )
    strings = {}
    for key in ("service_url", "audience", "queue_path", "invoker_email"):
        value = values[key]
        if not isinstance(value, str) or not value.strip():
            raise OutputsError(f"{where}: output {key} must be a non-empty string, got {value!r}")
        strings[key] = value.strip()

    _check_url(strings["service_url"], f"{where}: output service_url")
    if not defaults.QUEUE_PATH_RE.match(strings["queue_path"]):
        raise OutputsError(
            f"{where}: output queue_path {strings['queue_path']!r} is not of the form "
            "projects/PROJECT/locations/LOCATION/queues/QUEUE (queue id: letters, digits, '-')"
        )
    if "@" not in strings["invoker_email"]:
        raise OutputsError(
            f"{where}: output invoker_email {strings['invoker_email']!r} is not a service account email"
        )
    return StackOutputs(
        dispatch_deadline_seconds=_deadline(values["dispatch_deadline_seconds"], where),
        stack=stack,
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


def _deadline(value: Any, where: str) -> int:
    lo, hi = defaults.MIN_DISPATCH_DEADLINE_S, defaults.MAX_DISPATCH_DEADLINE_S
    number: Optional[float] = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None or not math.isfinite(number) or number != int(number):
        raise OutputsError(
            f"{where}: output dispatch_deadline_seconds must be a whole number of seconds, got {value!r}"
        )
    if not lo <= number <= hi:
        raise OutputsError(
            f"{where}: output dispatch_deadline_seconds is {value!r}; allowed {lo} to {hi}"
        )
    return int(number)


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        bad = sorted(k for k, v in value.items() if not isinstance(v, dict))
        return f"non-object value(s) under key(s) {', '.join(bad)}"
    return f"a JSON {type(value).__name__}"
