"""Every default of the construct library, in one place.

Constructs read their defaults from here and nowhere else, so a reviewer can see the
whole default posture of the pattern on one page (the README's option and keyword tables
show these values: ``python -m constructs_lib options`` generates them from the code).
"""

from __future__ import annotations

# --- fields google provider 8.x added (cdktn, google 8.7.0; absent on cdktf's 6.50.0) --
# Written on cdktn with what 6.50.0 does, so both frameworks declare the same infrastructure
# (docs/cdktn.md lists every difference). Sources: resource_cloud_run_v2_service.go and
# resource_cloud_tasks_queue.go in hashicorp/terraform-provider-google, and the field docs
# of cdktn-provider-google 21.1.0.
# A destroy deletes the resource, as on 6.50 (deletion_protection still guards services and
# jobs), whatever the provider-level deletion_policy says (8.x: PREVENT fails the destroy,
# ABANDON only forgets the resource).
DELETION_POLICY = "DELETE"
QUEUE_DESIRED_STATE = "RUNNING"  # the provider's default: the queue dispatches
DEFAULT_URI_DISABLED = False  # Cloud Tasks targets the service's run.app URL
IAP_ENABLED = False  # callers are authorized by roles/run.invoker, not IAP

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

# --- DeadLetterStore / TaskNameStore (google_storage_bucket) ---------------------------
# Both stores are declared by the pattern unless opted out (DeadLetterOptions(enabled=False),
# TaskNameStoreOptions(enabled=False)); see docs/stores.md.
DEAD_LETTER_STORE = True
TASK_NAME_STORE = True
DEAD_LETTER_RETENTION_DAYS = 30  # long enough for a person to look and replay
# Soft delete (cloud.google.com/storage/docs/soft-delete): Google's own 7 days, written
# explicitly, on the dead letters (a mistaken delete is recoverable); off on the task
# names (markers deleted per task: nothing a person recovers, only bytes billed a week).
DEAD_LETTER_SOFT_DELETE_DAYS = 7
TASK_NAME_SOFT_DELETE_DAYS = 0
BUCKET_FORCE_DESTROY = False  # a destroy with dead letters in the bucket fails, on purpose
BUCKET_STORAGE_CLASS = "STANDARD"  # the provider's default, written explicitly
DEAD_LETTER_BUCKET_SUFFIX = "-dead-letters"
TASK_NAME_BUCKET_SUFFIX = "-task-names"
DEAD_LETTER_LABELS = {"purpose": "dead-letters"}
TASK_NAME_LABELS = {"purpose": "task-names"}
# Where the worker writes (the app owns the layout; see the issue 9 contract).
DEAD_LETTER_PREFIX = "dead-letters/"
TASK_NAME_PREFIX = "task-names/"
# Runtime-account roles, on the bucket only (permission lists: constructs_lib/limits.py).
DEAD_LETTER_WRITER_ROLE = "roles/storage.objectCreator"
TASK_NAME_USER_ROLE = "roles/storage.objectUser"
# The replay identity reads dead letters and marks them replayed (object metadata): no
# predefined role has get + list + update without delete, so a custom role holds just these.
REPLAY_PERMISSIONS = ("storage.objects.get", "storage.objects.list", "storage.objects.update")
REPLAY_ROLE_PREFIX = "deadLetterReplay_"
# Cloud Tasks deduplicates a task name for up to 24 h; a task lives at most 31 days
# (CreateQueue in googleapis google/cloud/tasks/v2/cloudtasks.proto).
NAMED_TASK_WINDOW_SECONDS = 86_400
MAX_TASK_LIFETIME_SECONDS = 31 * 86_400
STORAGE_API = "storage.googleapis.com"
WORKER_DEAD_LETTER_BUCKET_ENV = "WORKER_DEAD_LETTER_BUCKET"
WORKER_TASK_NAME_BUCKET_ENV = "WORKER_TASK_NAME_BUCKET"
WORKER_QUEUE_MAX_ATTEMPTS_ENV = "WORKER_QUEUE_MAX_ATTEMPTS"
WORKER_QUEUE_MAX_RETRY_DURATION_ENV = "WORKER_QUEUE_MAX_RETRY_DURATION_SECONDS"

# --- TaskAlerts (google_logging_metric, google_monitoring_alert_policy) ----------------
ALERTS = False  # opt-in: alerts need notification channels
ALERT_APIS = ("monitoring.googleapis.com", "logging.googleapis.com")
ALERT_SEVERITY = "ERROR"
ALERT_ALIGNMENT_PERIOD_SECONDS = 300
BACKLOG_THRESHOLD_TASKS = 1000
BACKLOG_DURATION_SECONDS = 600
FAILING_ATTEMPTS_THRESHOLD = 10  # non-2xx attempts per alignment period
FAILING_ATTEMPTS_DURATION_SECONDS = 300
DISPATCH_LAG_THRESHOLD_SECONDS = 300.0  # 99th percentile of scheduled-to-attempt delay
DISPATCH_LAG_DURATION_SECONDS = 600
DEAD_LETTER_ALERT_THRESHOLD = 0  # any dead letter in an alignment period
DEAD_LETTER_ALERT_DURATION_SECONDS = 0
DEAD_LETTER_METRIC_PREFIX = "dead-letters/"  # log-based metric name: dead-letters/<service>
