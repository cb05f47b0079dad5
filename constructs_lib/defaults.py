"""Every default of the construct library, in one place.

Constructs read their defaults from here and nowhere else, so a reviewer can see the
whole default posture of the pattern on one page (and the README table is built from it).
"""

from __future__ import annotations

# --- location -------------------------------------------------------------------------
LOCATION = "us-central1"

# --- WorkerService (google_cloud_run_v2_service) ---------------------------------------
# Google's public sample container: deploys anywhere, replaced by the worker image.
IMAGE = "us-docker.pkg.dev/cloudrun/container/hello"
# Cloud Run's request timeout. Equal to the default dispatch deadline, so a task attempt
# never outlives Cloud Tasks' wait for it (no overlapping attempts of one task).
TIMEOUT_SECONDS = 600
MIN_INSTANCE_COUNT = 0
MAX_INSTANCE_COUNT = 10
MAX_CONCURRENCY = 80  # Cloud Run's own default for >= 1 CPU
CPU = "1"
MEMORY = "512Mi"
INGRESS = "INGRESS_TRAFFIC_INTERNAL_ONLY"
DELETION_PROTECTION = True  # safe default; dev environments opt out explicitly
CONTAINER_PORT = 8080
# Off: the image is Terraform's. On: a deploy pipeline owns it (ignore_changes).
IMAGE_MANAGED_EXTERNALLY = False
# Startup probe, when one is asked for (ServiceOptions.startup_probe): the sample worker's
# health path, and Cloud Run's own defaults for the rest, written explicitly.
STARTUP_PROBE_PATH = "/healthz"
STARTUP_PROBE_INITIAL_DELAY_SECONDS = 0
STARTUP_PROBE_PERIOD_SECONDS = 10
STARTUP_PROBE_TIMEOUT_SECONDS = 1
STARTUP_PROBE_FAILURE_THRESHOLD = 3
SECRET_ACCESSOR_ROLE = "roles/secretmanager.secretAccessor"
RUNTIME_ACCOUNT_SUFFIX = "-run"

# --- WorkerJob (google_cloud_run_v2_job) -----------------------------------------------
JOB_TASK_COUNT = 1
JOB_TASK_TIMEOUT_SECONDS = 3600  # per attempt of one job task; long work is why jobs exist
JOB_MAX_RETRIES = 3  # the provider's and Cloud Run's own default, written explicitly
JOB_CPU = "1"
JOB_MEMORY = "512Mi"
JOB_RUNTIME_ACCOUNT_SUFFIX = "-job"
# The narrowest predefined role with run.jobs.runWithOverrides (see constructs_lib/limits.py).
JOB_RUNNER_ROLE = "roles/run.jobsExecutorWithOverrides"
# What job tasks carry: an OAuth token (a Google API), not an OIDC token.
OAUTH_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
RUN_API_ENDPOINT = "https://run.googleapis.com"
JOB_PAYLOAD_ENV = "TASK_PAYLOAD"  # the override app.job reads the task's payload from

# --- TaskQueue (google_cloud_tasks_queue) ----------------------------------------------
# Conservative rates protect a fresh worker; raise them per environment.
MAX_DISPATCHES_PER_SECOND = 100.0
MAX_CONCURRENT_DISPATCHES = 50
MAX_ATTEMPTS = 10
MIN_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 300.0
MAX_DOUBLINGS = 5
MAX_RETRY_DURATION_SECONDS = 0.0  # 0: bounded by max_attempts only
LOG_SAMPLING_RATIO = 1.0
# A random suffix on the queue name lets an environment be destroyed and deployed again
# at once (a deleted queue's name is blocked for up to 7 days). Off: names stay as written.
QUEUE_NAME_SUFFIX = False

# --- InvokerServiceAccount (google_service_account) ------------------------------------
INVOKER_DISPLAY_NAME = "Cloud Tasks invoker for {service}"

# --- CloudTasksToCloudRun (the pattern) ------------------------------------------------
DISPATCH_DEADLINE_SECONDS = 600  # Cloud Tasks' own default (10 min)
TASK_PATH = "/tasks"  # the worker's endpoint
INVOKER_ACCOUNT_SUFFIX = "-invoker"
# Custom audience the OIDC tokens carry. Known at synth time (the service's own uri is
# not: it cannot appear in its own environment), unique per project, location and name.
AUDIENCE_TEMPLATE = "https://{name}.{location}.{project}.tasks.invalid"
ENABLED_APIS = (
    "run.googleapis.com",
    "cloudtasks.googleapis.com",
    "iam.googleapis.com",
)
# Environment variables the sample worker reads to verify task tokens.
WORKER_AUDIENCE_ENV = "WORKER_AUDIENCE"
WORKER_INVOKER_EMAIL_ENV = "WORKER_INVOKER_EMAIL"
WORKER_PROJECT_ID_ENV = "WORKER_PROJECT_ID"  # trace correlation in the worker's logs
