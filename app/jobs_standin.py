"""A local stand-in for Cloud Run's ``jobs.run`` endpoint: NOT Google's API, a loopback HTTP
server for local runs (the demo) and tests.

Cloud Tasks (here: the emulator) POSTs a job task's body to
``http://127.0.0.1:PORT/v2/projects/P/locations/L/jobs/J:run``. The stand-in checks the body
against ``RunJobRequest`` (google/cloud/run/v2/job.proto, Admin API v2 JSON names), answers at
once like the API (200 with a long-running ``Operation`` whose metadata names the new
execution), then starts the execution's tasks: ``task_count`` processes of ``python -m
app.job`` with the job's env, the override's env and ``CLOUD_RUN_JOB``, ``CLOUD_RUN_EXECUTION``,
``CLOUD_RUN_TASK_INDEX``, ``CLOUD_RUN_TASK_COUNT``, ``CLOUD_RUN_TASK_ATTEMPT``. Each task's
output lines and exit code are recorded; ``wait_for_executions`` and ``Execution.wait`` let a
caller follow them, and ``close`` stops every child still running::

    with JobsStandin(task_count=2) as standin:
        run_url = standin.run_url("p", "us-central1", "my-job")   # the job_run_url output
        ...                                                       # enqueue a job task
        (execution,) = standin.wait_for_executions(1, timeout=10)
        execution.wait(timeout=10) and execution.exit_codes       # [0, 0]

Checked, answered like the API (400 INVALID_ARGUMENT, Google's JSON error shape): unknown
fields at any level (``Unknown name "x" at 'overrides': Cannot find field.``; the proto's JSON
names and their snake_case forms are accepted, as proto3 JSON parsers do), wrong JSON types,
``taskCount`` negative or over 10000 (0 is proto3's "unset": the job's count), ``timeout``
not a duration string (``"600s"``, ``"1.5s"``) or outside 1 s to 168 h, env entries without
a name, with both ``value`` and ``valueSource``, a value over 32768 bytes or a reserved
``CLOUD_RUN_*`` name, ``name`` in the body other than the path's, a container override
naming another container, more overrides than the job's one container. A job the stand-in
was not told about (``jobs=``) is 404 NOT_FOUND.

Not modelled: authentication (no OAuth check: the emulator sends no token, and no IAM:
``run.jobs.runWithOverrides`` is not checked), retries of failed tasks (``max_retries``: each
task runs once, ``CLOUD_RUN_TASK_ATTEMPT`` is always 0), quotas and rate limits, ``etag``
conflicts, secrets (``valueSource`` is answered 501), ``validateOnly`` answers (the body is
checked and nothing starts, with the same answer shape), the operation and execution
resources themselves (nothing to poll: use ``Execution``), images and containers (the tasks
are local processes of this checkout, sharing its interpreter), memory and CPU limits,
``delayExecution`` and other fields newer than the proto it follows. The stand-in requires
``Content-Type: application/json`` (the enqueuer sets it; Cloud Tasks sets none of its own).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import secrets
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from app.processes import stop_process

REPO_ROOT = Path(__file__).resolve().parent.parent
RUN_PATH = re.compile(
    r"^/v2/projects/(?P<project>[^/?#]+)/locations/(?P<location>[^/?#]+)"
    r"/jobs/(?P<job>[^/?#:]+):run$"
)
DEFAULT_COMMAND = (sys.executable, "-m", "app.job")
#: Cloud Run jobs' limits (the job's template is held to the same ones).
MAX_TASKS = 10000
MAX_TIMEOUT_S = 168 * 3600
MAX_ENV_NAME_CHARS = 32768
MAX_ENV_VALUE_BYTES = 32768
RESERVED_ENV = frozenset({"CLOUD_RUN_JOB", "CLOUD_RUN_EXECUTION", "CLOUD_RUN_TASK_INDEX",
                          "CLOUD_RUN_TASK_ATTEMPT", "CLOUD_RUN_TASK_COUNT"})
MAX_BODY_BYTES = 2 * 1024 * 1024
_DURATION = re.compile(r"^(-?)(\d{1,12})(?:\.(\d{1,9}))?s$")
_INT32 = (-(2**31), 2**31 - 1)
_OUTPUT_LINES = 2000

# Message fields: JSON name -> (proto name, kind). Kinds: str, bool, int32, duration, msg:<M>,
# list:<kind>. Both the JSON name and the proto name are accepted, as proto3 JSON does.
_MESSAGES: dict[str, dict[str, tuple[str, str]]] = {
    "RunJobRequest": {"name": ("name", "str"), "validateOnly": ("validate_only", "bool"),
                      "etag": ("etag", "str"), "overrides": ("overrides", "msg:Overrides")},
    "Overrides": {"containerOverrides": ("container_overrides", "list:msg:ContainerOverride"),
                  "taskCount": ("task_count", "int32"), "timeout": ("timeout", "duration")},
    "ContainerOverride": {"name": ("name", "str"), "args": ("args", "list:str"),
                          "env": ("env", "list:msg:EnvVar"), "clearArgs": ("clear_args", "bool")},
    "EnvVar": {"name": ("name", "str"), "value": ("value", "str"),
               "valueSource": ("value_source", "msg:EnvVarSource")},
    "EnvVarSource": {"secretKeyRef": ("secret_key_ref", "msg:SecretKeySelector")},
    "SecretKeySelector": {"secret": ("secret", "str"), "version": ("version", "str")},
}


class RequestError(Exception):
    """A request the API would refuse: HTTP status, gRPC status name and message."""

    def __init__(self, code: int, status: str, message: str) -> None:
        super().__init__(message)
        self.code, self.status, self.message = code, status, message

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "status": self.status}}


def _invalid(message: str) -> RequestError:
    return RequestError(400, "INVALID_ARGUMENT", message)


@dataclass(frozen=True)
class RunRequest:
    """A checked ``RunJobRequest``: what the execution overrides (None: the job's own)."""

    job_name: str
    """``projects/P/locations/L/jobs/J``, from the path."""
    env: dict[str, str]
    args: list[str] | None
    task_count: int | None
    timeout_s: float | None
    validate_only: bool
    body: dict[str, Any]


def parse_run_request(job_name: str, raw: bytes, content_type: str | None,
                      container: str | None = None) -> RunRequest:
    """Check a jobs.run body against ``RunJobRequest``; ``RequestError`` as the API would answer.

    ``container``: the job's one container's name (None: not checked against override names).
    """
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media != "application/json":
        raise _invalid(f"the stand-in takes Content-Type: application/json, got {content_type!r}")
    try:
        body = json.loads(raw.decode("utf-8")) if raw.strip() else {}
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _invalid(f"Invalid JSON payload received. {exc}") from None
    if not isinstance(body, dict):
        raise _invalid("Invalid JSON payload received. Root element must be a message.")
    request = _message(body, "RunJobRequest", "")
    if "name" in request and request["name"] not in ("", job_name):
        raise _invalid(f"name {request['name']!r} in the body differs from the path's {job_name!r}")
    overrides = request.get("overrides") or {}
    task_count = overrides.get("task_count")
    if task_count is not None:
        if task_count < 0 or task_count > MAX_TASKS:
            raise _invalid(f"overrides.task_count must be 1 to {MAX_TASKS}, got {task_count}")
        task_count = task_count or None  # proto3: 0 is unset, so the job's own count
    timeout = overrides.get("timeout")
    if timeout is not None and not 1 <= timeout <= MAX_TIMEOUT_S:
        raise _invalid(f"overrides.timeout must be 1s to {MAX_TIMEOUT_S}s, got {timeout}s")
    containers = overrides.get("container_overrides") or []
    if len(containers) > 1:
        raise _invalid(f"overrides.container_overrides has {len(containers)} entries; the job "
                       "has one container")
    env: dict[str, str] = {}
    args: list[str] | None = None
    for i, override in enumerate(containers):
        where = f"overrides.container_overrides[{i}]"
        name = override.get("name")
        if name and container is not None and name != container:
            raise _invalid(f"{where}.name {name!r}: the job has no such container "
                           f"(its container is {container!r})")
        for j, var in enumerate(override.get("env") or []):
            env.update([_env_var(var, f"{where}.env[{j}]")])
        if override.get("args") or override.get("clear_args"):
            args = list(override.get("args") or [])
    return RunRequest(job_name=job_name, env=env, args=args, task_count=task_count,
                      timeout_s=timeout, validate_only=bool(request.get("validate_only")),
                      body=body)


def _env_var(var: dict[str, Any], where: str) -> tuple[str, str]:
    name = var.get("name") or ""
    if not name:
        raise _invalid(f"{where}.name is required")
    if len(name) > MAX_ENV_NAME_CHARS:
        raise _invalid(f"{where}.name is over {MAX_ENV_NAME_CHARS} characters")
    if name in RESERVED_ENV:
        raise _invalid(f"{where}.name {name!r} is reserved by Cloud Run "
                       f"({', '.join(sorted(RESERVED_ENV))})")
    if "value" in var and "value_source" in var:
        raise _invalid(f"{where}: value and value_source are one of: give one")
    if "value_source" in var:
        raise RequestError(501, "UNIMPLEMENTED",
                           f"{where}.value_source: secrets are not modelled by the local stand-in")
    value = var.get("value") or ""
    if len(value.encode("utf-8")) > MAX_ENV_VALUE_BYTES:
        raise _invalid(f"{where}.value is over {MAX_ENV_VALUE_BYTES} bytes")
    return name, value


def _message(obj: Any, message: str, where: str) -> dict[str, Any]:
    """Check one JSON object against ``message``; return it keyed by proto field names."""
    if not isinstance(obj, dict):
        raise _invalid(f"Invalid value at '{where or 'body'}' ({message}), {json.dumps(obj)}: "
                       "Starting an object on a scalar field")
    fields = _MESSAGES[message]
    by_name = {json_name: spec for json_name, spec in fields.items()}
    by_name.update({spec[0]: spec for spec in fields.values()})
    out: dict[str, Any] = {}
    for key, value in obj.items():
        spec = by_name.get(key)
        if spec is None:
            at = f" at '{where}'" if where else ""
            raise _invalid(f'Invalid JSON payload received. Unknown name "{key}"{at}: '
                           "Cannot find field.")
        proto_name, kind = spec
        if proto_name in out:
            raise _invalid(f"Invalid JSON payload received. Field '{proto_name}' given twice "
                           f"(as {key!r} and its other name)")
        path = f"{where}.{proto_name}" if where else proto_name
        if value is None:
            continue  # JSON null: the field's default
        out[proto_name] = _value(value, kind, path)
    return out


def _value(value: Any, kind: str, where: str) -> Any:
    if kind.startswith("msg:"):
        return _message(value, kind[4:], where)
    if kind.startswith("list:"):
        if not isinstance(value, list):
            raise _invalid(f"Invalid value at '{where}', {json.dumps(value)[:80]}: "
                           "expected a list")
        return [_value(item, kind[5:], f"{where}[{i}]") for i, item in enumerate(value)]
    if kind == "str":
        if not isinstance(value, str):
            raise _invalid(f"Invalid value at '{where}' (TYPE_STRING), {json.dumps(value)[:80]}")
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise _invalid(f"Invalid value at '{where}' (TYPE_BOOL), {json.dumps(value)[:80]}")
        return value
    if kind == "int32":
        return _int32(value, where)
    if kind == "duration":
        return _duration(value, where)
    raise AssertionError(kind)


def _int32(value: Any, where: str) -> int:
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and re.fullmatch(r"-?\d{1,10}", value):
        number = int(value)
    if number is None or not _INT32[0] <= number <= _INT32[1]:
        raise _invalid(f"Invalid value at '{where}' (TYPE_INT32), {json.dumps(value)[:80]}")
    return number


def _duration(value: Any, where: str) -> float:
    match = _DURATION.match(value) if isinstance(value, str) else None
    if not match:
        raise _invalid(f"Invalid value at '{where}' (type.googleapis.com/google.protobuf.Duration),"
                       f" {json.dumps(value)[:80]}: a duration is a string of seconds ending "
                       "in 's', e.g. \"600s\" or \"1.5s\"")
    seconds = float(f"{match[2]}.{match[3] or 0}")
    return -seconds if match[1] else seconds


@dataclass
class TaskRun:
    """One task of an execution: its index, output lines (stdout and stderr) and exit code."""

    index: int
    exit_code: int | None = None
    """None until it ends; 143 or -9 when stopped (timeout or close)."""
    timed_out: bool = False
    output: list[str] = field(default_factory=list)

    def records(self) -> list[dict[str, Any]]:
        """The output lines that are JSON objects (the job's structured log)."""
        found = []
        for line in self.output:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                found.append(record)
        return found


@dataclass
class Execution:
    """One execution the stand-in started (or would have: ``validate_only``)."""

    name: str
    """``projects/P/locations/L/jobs/J/executions/E``."""
    job: str
    task_count: int
    timeout_s: float
    env: dict[str, str]
    args: list[str]
    request: dict[str, Any]
    tasks: list[TaskRun] = field(default_factory=list)
    _done: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def short_name(self) -> str:
        """``E``: what the tasks get as ``CLOUD_RUN_EXECUTION``."""
        return self.name.rsplit("/", 1)[-1]

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float) -> bool:
        """Block until every task has ended (True) or ``timeout`` passes (False)."""
        return self._done.wait(timeout)

    @property
    def exit_codes(self) -> list[int | None]:
        """Exit code per task index (None: not ended)."""
        return [task.exit_code for task in self.tasks]

    @property
    def succeeded(self) -> bool:
        return self.done and all(code == 0 for code in self.exit_codes)


@dataclass(frozen=True)
class Answer:
    """One answer the stand-in gave: status, path and the JSON body it sent."""

    status: int
    path: str
    body: dict[str, Any]


class JobsStandin:
    """The loopback ``jobs.run`` stand-in (see the module docstring); a context manager.

    The job's own settings, which an execution uses unless the request overrides them:
    ``task_count``, ``timeout_seconds``, ``env`` (the template's env) and ``args``;
    ``parallelism`` bounds the tasks running at once (None: all). ``command`` is the
    container's entrypoint (default ``python -m app.job`` of this checkout). ``jobs``: the
    ``projects/P/locations/L/jobs/J`` names that exist (None: any). ``container``: the name
    of the job's container, checked against override names.
    """

    def __init__(
        self,
        *,
        task_count: int = 1,
        timeout_seconds: float = 600,
        parallelism: int | None = None,
        env: Mapping[str, str] | None = None,
        args: Sequence[str] = (),
        command: Sequence[str] = DEFAULT_COMMAND,
        jobs: Iterable[str] | None = None,
        container: str | None = None,
        stop_timeout: float = 5.0,
    ) -> None:
        if not 1 <= task_count <= MAX_TASKS:
            raise ValueError(f"task_count must be 1 to {MAX_TASKS}, got {task_count}")
        self.task_count = task_count
        self.timeout_seconds = timeout_seconds
        self.parallelism = parallelism
        self.env = dict(env or {})
        self.args = list(args)
        self.command = list(command)
        self.jobs = None if jobs is None else set(jobs)
        self.container = container
        self.stop_timeout = stop_timeout
        self.executions: list[Execution] = []
        self.answers: list[Answer] = []
        self._cond = threading.Condition()
        self._procs: set[subprocess.Popen[str]] = set()
        self._threads: list[threading.Thread] = []
        self._closed = False
        self._server: ThreadingHTTPServer | None = None
        self._serve: threading.Thread | None = None

    # --- lifecycle ---

    def start(self) -> JobsStandin:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # http.server API
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY_BYTES:
                    too_large = RequestError(413, "INVALID_ARGUMENT", "request body too large")
                    self._send(too_large.code, too_large.body())
                    return
                raw = self.rfile.read(length) if length else b""
                try:
                    status, body = standin._handle(self.path, raw,
                                                   self.headers.get("Content-Type"))
                except Exception as exc:  # noqa: BLE001 - a stand-in bug: answer, never hang up
                    error = RequestError(500, "INTERNAL", f"stand-in error: {exc!r}")
                    status, body = standin._answer(self.path, error.code, error.body())
                self._send(status, body)

            def do_GET(self) -> None:
                self._send(*standin._not_found(self.path))

            do_PUT = do_DELETE = do_PATCH = do_GET

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._serve = threading.Thread(target=self._server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, name="jobs-standin",
                                       daemon=True)
        self._serve.start()
        return self

    def close(self) -> None:
        """Stop serving, stop every task still running (SIGTERM, then SIGKILL), join. Idempotent."""
        with self._cond:
            self._closed = True
            procs = list(self._procs)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        for proc in procs:
            stop_process(proc, self.stop_timeout)
        for thread in list(self._threads):
            thread.join(timeout=self.stop_timeout * 2)
        if self._serve is not None:
            self._serve.join(timeout=self.stop_timeout)
            self._serve = None

    def __enter__(self) -> JobsStandin:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- what callers use ---

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the stand-in first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def run_url(self, project: str, location: str, job: str) -> str:
        """The ``job_run_url`` of a job served here."""
        return f"{self.url}/v2/projects/{project}/locations/{location}/jobs/{job}:run"

    def wait_for_executions(self, count: int, timeout: float) -> list[Execution]:
        """The first ``count`` executions; ``TimeoutError`` (naming refused requests) if fewer
        were started within ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.executions) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    refused = [a for a in self.answers if a.status != 200]
                    raise TimeoutError(f"{len(self.executions)} execution(s) in {timeout} s, "
                                       f"expected {count}; refused: {refused}")
                self._cond.wait(min(left, 0.2))
            return list(self.executions[:count])

    # --- the endpoint ---

    def _not_found(self, path: str) -> tuple[int, dict[str, Any]]:
        error = RequestError(404, "NOT_FOUND", f"the stand-in serves POST /v2/projects/P/"
                                               f"locations/L/jobs/J:run only, not {path[:200]!r}")
        return self._answer(path, error.code, error.body())

    def _answer(self, path: str, status: int, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._cond:
            self.answers.append(Answer(status, path, body))
            self._cond.notify_all()
        return status, body

    def _handle(self, path: str, raw: bytes,
                content_type: str | None) -> tuple[int, dict[str, Any]]:
        match = RUN_PATH.match(path)
        if not match:
            return self._not_found(path)
        job_name = f"projects/{match['project']}/locations/{match['location']}/jobs/{match['job']}"
        if self.jobs is not None and job_name not in self.jobs:
            error = RequestError(404, "NOT_FOUND", f"Resource '{job_name}' was not found")
            return self._answer(path, error.code, error.body())
        try:
            request = parse_run_request(job_name, raw, content_type, self.container)
        except RequestError as exc:
            return self._answer(path, exc.code, exc.body())
        execution = Execution(
            name=f"{job_name}/executions/{match['job']}-{_suffix()}",
            job=match["job"],
            task_count=request.task_count or self.task_count,
            timeout_s=request.timeout_s or self.timeout_seconds,
            env={**self.env, **request.env},
            args=self.args if request.args is None else request.args,
            request=request.body,
        )
        operation = {
            "name": f"projects/{match['project']}/locations/{match['location']}/operations/"
                    f"{uuid.uuid4()}",
            "metadata": {
                "@type": "type.googleapis.com/google.cloud.run.v2.Execution",
                "name": execution.name,
                "uid": str(uuid.uuid4()),
                "job": execution.job,
                "taskCount": execution.task_count,
                "createTime": dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z"),
            },
            "done": False,
        }
        if request.validate_only:
            return self._answer(path, 200, operation)
        with self._cond:
            if self._closed:
                error = RequestError(503, "UNAVAILABLE", "the stand-in is closing")
                return self._answer(path, error.code, error.body())
            execution.tasks = [TaskRun(index) for index in range(execution.task_count)]
            thread = threading.Thread(target=self._run_execution, args=(execution,),
                                      name=f"execution-{execution.short_name}", daemon=True)
            self._threads.append(thread)
            self.executions.append(execution)
            self._cond.notify_all()
        thread.start()
        return self._answer(path, 200, operation)

    # --- the execution: task_count local processes ---

    def _run_execution(self, execution: Execution) -> None:
        limit = self.parallelism or execution.task_count
        gate = threading.Semaphore(limit)
        runners = []
        for task in execution.tasks:
            gate.acquire()
            if self._closed:
                gate.release()
                break
            runner = threading.Thread(target=self._run_task, args=(execution, task, gate),
                                      name=f"task-{execution.short_name}-{task.index}",
                                      daemon=True)
            runner.start()
            runners.append(runner)
        for runner in runners:
            runner.join()
        execution._done.set()
        with self._cond:
            self._cond.notify_all()

    def _run_task(self, execution: Execution, task: TaskRun, gate: threading.Semaphore) -> None:
        try:
            env = {key: value for key, value in os.environ.items()
                   if key not in RESERVED_ENV and key != "TASK_PAYLOAD"}
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT),
                                                              env.get("PYTHONPATH")]))
            env["PYTHONUNBUFFERED"] = "1"
            env.update(execution.env)
            env.update({"CLOUD_RUN_JOB": execution.job,
                        "CLOUD_RUN_EXECUTION": execution.short_name,
                        "CLOUD_RUN_TASK_INDEX": str(task.index),
                        "CLOUD_RUN_TASK_COUNT": str(execution.task_count),
                        "CLOUD_RUN_TASK_ATTEMPT": "0"})
            with self._cond:
                if self._closed:
                    return
                proc = subprocess.Popen([*self.command, *execution.args], env=env,
                                        cwd=REPO_ROOT, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True)
                self._procs.add(proc)
            try:
                out, _ = proc.communicate(timeout=execution.timeout_s)
            except subprocess.TimeoutExpired:
                task.timed_out = True
                stop_process(proc, self.stop_timeout)
                out, _ = proc.communicate()
            finally:
                with self._cond:
                    self._procs.discard(proc)
            task.output = (out or "").splitlines()[-_OUTPUT_LINES:]
            task.exit_code = proc.returncode
        finally:
            gate.release()


def _suffix() -> str:
    """Five lower-case letters or digits, like Cloud Run's execution names."""
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(5))
