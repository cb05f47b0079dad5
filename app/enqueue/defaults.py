"""Every tunable default of the enqueuer, in one place.

Limits come from the Cloud Tasks API docs (see docs/enqueuer.md); tuning values were chosen
on the emulator benchmark (bench/enqueue.py).
"""

from __future__ import annotations

import re

#: Path appended to ``service_url`` when an outputs file has no ``task_url`` (files written
#: before stacks output ``task_url``): the sample worker's ``POST /tasks``.
TASKS_PATH = "/tasks"

#: Default location of the file written by ``npx cdktf deploy <stack> --outputs-file``.
OUTPUTS_PATH = "outputs.json"

#: Outputs every stack must provide (static ids set by the stacks).
REQUIRED_OUTPUTS = (
    "service_url",
    "audience",
    "queue_path",
    "invoker_email",
    "dispatch_deadline_seconds",
)

#: Outputs read when present; ``task_url`` is absent from files written before it existed.
OPTIONAL_OUTPUTS = ("task_url",)

#: Store outputs a stack writes when its pattern declares the stores (issue 9); the replay
#: command reads ``dead_letter_bucket``. Optional: the enqueuer itself needs neither.
STORE_OUTPUTS = ("dead_letter_bucket", "task_name_bucket")

#: Prefix of the dead-letter objects the worker writes (app/worker/dead_letters.py).
DEAD_LETTER_PREFIX = "dead-letters/"

#: Every output name the enqueuer reads, unprefixed or as ``<pattern>_<name>``.
OUTPUT_NAMES = REQUIRED_OUTPUTS + OPTIONAL_OUTPUTS

#: Name of a pattern in a stack with several: its outputs are ``<pattern>_<name>``.
PATTERN_RE = re.compile(r"^[a-z][a-z0-9_]*$")

#: Environment variable that switches the client to the emulator (same as ``--emulator``).
EMULATOR_ENV = "CLOUD_TASKS_EMULATOR_HOST"

# --- create_task RPC: explicit retry and timeout (the client has no default retry) ---
#: Per-attempt deadline of one CreateTask call, seconds.
CREATE_TIMEOUT_S = 10.0
#: Exponential backoff between attempts: first delay, cap, multiplier (jittered by api_core).
RETRY_INITIAL_S = 0.1
RETRY_MAXIMUM_S = 5.0
RETRY_MULTIPLIER = 2.0
#: Total time budget for all attempts of one task, seconds.
RETRY_TOTAL_S = 30.0

# --- Task limits (Cloud Tasks API) ---
#: Maximum size of a task (the whole Task message), bytes: 1 MiB.
MAX_TASK_BYTES = 1024 * 1024
#: Tasks can be scheduled at most 30 days ahead.
MAX_DELAY_S = 30 * 24 * 3600
#: Allowed dispatch deadline for HTTP targets, seconds.
MIN_DISPATCH_DEADLINE_S = 15
MAX_DISPATCH_DEADLINE_S = 1800
#: Task id: letters, digits, hyphens, underscores; at most 500 characters.
TASK_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,500}$")
#: Hex characters of sha256(task_id) prepended to named tasks, so ids are not sequential.
HASH_PREFIX_LEN = 8
#: queue_path shape: projects/P/locations/L/queues/Q.
QUEUE_PATH_RE = re.compile(
    r"^projects/(?P<project>[^/\s]+)/locations/(?P<location>[^/\s]+)/queues/(?P<queue>[A-Za-z0-9-]{1,100})$"
)

# --- Bulk mode ---
#: Worker threads creating tasks concurrently over the one client.
CONCURRENCY = 8
#: Upper bound accepted for ``concurrency``.
MAX_CONCURRENCY = 256

#: Hosts to which plain http (no TLS) service URLs are allowed: the OIDC token must never
#: travel in clear text to anything but this machine.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

# --- Job tasks: Cloud Tasks -> Cloud Run Admin API v2 jobs.run (docs/job.md) ---
#: Outputs of a job pattern, unprefixed or as ``<pattern>_<name>``; none needs the service's.
JOB_OUTPUT_NAMES = ("job_name", "job_run_url", "job_queue_path", "job_invoker_email")
#: OAuth scope of the invoker's access token (jobs.run's documented scope).
OAUTH_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
#: https hosts an OAuth access token may be sent to: Google APIs only.
GOOGLE_API_DOMAIN = ".googleapis.com"
#: Path of jobs.run: ``POST /v2/projects/P/locations/L/jobs/J:run``.
JOB_RUN_PATH_RE = re.compile(
    r"^/v2/projects/(?P<project>[^/\s:]+)/locations/(?P<location>[^/\s:]+)"
    r"/jobs/(?P<job>[^/\s:]+):run$"
)
#: Cloud Run job name: a DNS label of at most 49 characters.
JOB_NAME_RE = re.compile(r"^[a-z](?:[-a-z0-9]{0,47}[a-z0-9])?$")
#: Container name in a container override: a DNS label.
CONTAINER_NAME_RE = re.compile(r"^[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$")
#: Environment variable of the override that carries the ``{"kind", "data"}`` payload.
PAYLOAD_ENV = "TASK_PAYLOAD"
#: An env var's value is at most 32768 bytes (google.cloud.run.v2.EnvVar): the payload's limit.
MAX_ENV_VALUE_BYTES = 32768
#: Tasks per execution, 1 to 10000 (Cloud Run jobs).
JOB_MAX_TASKS = 10000
#: Task timeout, 1 s to 168 hours (Cloud Run jobs; above 24 h in preview).
JOB_MAX_TIMEOUT_S = 168 * 3600
