"""What the provider (google 6.50.0) and the APIs accept for every field the library writes,
as data, each rule beside its source.

The constructs enforce these at construction time; ``docs/limits.md`` is generated from
:data:`LIMITS` (``python -m constructs_lib limits > docs/limits.md``, checked by a test
that also asserts every field a stack can carry is listed). Sources: the provider at tag
v6.50.0 (``google/services/<dir>/<file>.go:<line>``), the googleapis protos, Google's docs.
Rows with ``google_8_only`` are fields google 8.x added, written on cdktn only.
"""

from __future__ import annotations

from dataclasses import dataclass

PROVIDER = "terraform-provider-google v6.50.0 google/services/"

# --- numbers the constructs use ---------------------------------------------------------
# Labels: the API allows 64 per resource; provider 6.50.0 adds goog-terraform-provisioned
# on create (add_terraform_attribution_label defaults to true), which counts too.
MAX_LABELS = 63
LABEL_MAX_CHARS = 63
# Env: Cloud Run's container contract reserves these names; 1000 variables per container.
RESERVED_ENV_NAMES = frozenset({"PORT", "K_SERVICE", "K_REVISION", "K_CONFIGURATION"})
MAX_ENV_VARS = 1000
ENV_NAME_MAX_CHARS = 32768
ENV_VALUE_MAX_BYTES = 32768
# Jobs (cloud.google.com/run/docs/configuring/jobs/...; see the job rows below).
JOB_MAX_TASKS = 10000
JOB_MAX_TASK_TIMEOUT_SECONDS = 604800  # 168 hours
JOB_MAX_RETRIES = 10
RESERVED_JOB_ENV_NAMES = frozenset({"CLOUD_RUN_JOB", "CLOUD_RUN_EXECUTION", "CLOUD_RUN_TASK_INDEX",
                                    "CLOUD_RUN_TASK_ATTEMPT", "CLOUD_RUN_TASK_COUNT"})
# Service accounts: display name and description, in UTF-8 bytes.
DISPLAY_NAME_MAX_BYTES = 100
DESCRIPTION_MAX_BYTES = 256
# Custom audiences: the list, JSON-encoded, at most 32,768 characters.
CUSTOM_AUDIENCES_MAX_JSON_CHARS = 32768


@dataclass(frozen=True)
class Limit:
    """One field the library writes: what it allows, and where that comes from."""

    resource: str
    field: str
    rule: str
    source: str
    # A field google provider 8.x added (cdktn's 8.7.0; 6.50.0 has no such field): written
    # on cdktn only, with 6.50's behaviour (docs/cdktn.md).
    google_8_only: bool = False


_RUN = "google_cloud_run_v2_service"
_RUN_IAM = "google_cloud_run_v2_service_iam_member"
_QUEUE = "google_cloud_tasks_queue"
_QUEUE_IAM = "google_cloud_tasks_queue_iam_member"
_SECRET_IAM = "google_secret_manager_secret_iam_member"
_JOB = "google_cloud_run_v2_job"
_JOB_IAM = "google_cloud_run_v2_job_iam_member"
_SA = "google_service_account"
_SA_IAM = "google_service_account_iam_member"
_API = "google_project_service"
_RANDOM = "random_id"
_BUCKET = "google_storage_bucket"
_BUCKET_IAM = "google_storage_bucket_iam_member"
_ROLE = "google_project_iam_custom_role"
_LOG_METRIC = "google_logging_metric"
_ALERT = "google_monitoring_alert_policy"
_BUCKET_GO = PROVIDER + "storage/resource_storage_bucket.go"
_ROLE_GO = PROVIDER + "resourcemanager/resource_google_project_iam_custom_role.go"
_LOG_GO = PROVIDER + "logging/resource_logging_metric.go"
_ALERT_GO = PROVIDER + "monitoring/resource_monitoring_alert_policy.go"
_DEPENDS = ("bare resource addresses",
            "developer.hashicorp.com/terraform/language/meta-arguments/depends_on")
_METRICS = "cloud.google.com/monitoring/api/metrics_gcp#gcp-cloudtasks"
_FILTERS = "cloud.google.com/monitoring/api/v3/filters"
# Fields only google 8.x has: read at the provider's main branch after v7.45.0 (v8 tags not
# in the mirror) and in cdktn-provider-google 21.1.0's field docs (google 8.7.0).
_V8 = "terraform-provider-google main (after v7.45.0) google/services/"
_V8_DOCS = "cdktn-provider-google 21.1.0 (google 8.7.0) field docs"
_DELETION_POLICY = ("cdktn only: always DELETE, what 6.50 does on destroy (8.x: PREVENT fails "
                    "a destroy, ABANDON only drops the resource from state; unset, the "
                    "provider-level deletion_policy applies)")
_RUN_GO = PROVIDER + "cloudrunv2/resource_cloud_run_v2_service.go"
_TASKS_GO = PROVIDER + "cloudtasks/resource_cloud_tasks_queue.go"
_JOB_GO = PROVIDER + "cloudrunv2/resource_cloud_run_v2_job.go"
_JOB_IAM_GO = PROVIDER + "cloudrunv2/iam_cloud_run_v2_job.go"
_SA_GO = PROVIDER + "resourcemanager/resource_google_service_account.go"
_IAM_GO = "terraform-provider-google v6.50.0 google/tpgiamresource/resource_iam_member.go:42-74"
_MEMBERS = ("IAM member forms: serviceAccount:, user:, group:, domain:, principal://, "
            "principalSet://, serviceAccount:PROJECT.svc.id.goog[NS/KSA]; deleted: refused "
            "(the provider rejects it); allUsers / allAuthenticatedUsers refused (policy)")
_MEMBERS_SOURCE = f"google/iam/v1/policy.proto Binding.members; {_IAM_GO}"
_PROJECT = ("a project id: 6 to 30 lowercase letters, digits, hyphens, starting with a "
            "letter, not ending with a hyphen; legacy domain-scoped ids (example.com:id) too")
_PROJECT_SOURCE = ("cloud.google.com/resource-manager/docs/creating-managing-projects; "
                   "terraform-provider-google v6.50.0 google/verify/validation.go:34 "
                   "(ProjectRegex)")
_LOCATION = "a region such as us-central1 (ForceNew: a change replaces the resource)"

LIMITS: tuple[Limit, ...] = (
    # --- Cloud Run service -------------------------------------------------------------
    Limit(_RUN, "name", "1 to 49 characters: lowercase letters, digits, hyphens; a letter "
          "first, no hyphen last", "googleapis run/v2 service.proto service_id ('fewer than "
          "50 characters')"),
    Limit(_RUN, "location", _LOCATION, f"{_RUN_GO}:61-66"),
    Limit(_RUN, "project", _PROJECT, _PROJECT_SOURCE),
    Limit(_RUN, "ingress", "INGRESS_TRAFFIC_INTERNAL_ONLY (default), _INTERNAL_LOAD_BALANCER "
          "or _ALL (the provider refuses INGRESS_TRAFFIC_NONE)", f"{_RUN_GO}:898-904"),
    Limit(_RUN, "deletion_protection", "always written (provider default true blocks "
          "destroy)", f"{_RUN_GO}:1228-1238"),
    Limit(_RUN, "deletion_policy", _DELETION_POLICY,
          f"{_V8}cloudrunv2/resource_cloud_run_v2_service.go (schema, Read, Delete); "
          f"{_V8_DOCS}", google_8_only=True),
    Limit(_RUN, "default_uri_disabled", "cdktn only: always false (Cloud Tasks calls the "
          "service's run.app URL)", f"{_V8}cloudrunv2/resource_cloud_run_v2_service.go "
          f"(Optional bool); {_V8_DOCS}", google_8_only=True),
    Limit(_RUN, "iap_enabled", "cdktn only: always false (callers are authorized by "
          "roles/run.invoker on the service, not IAP)", f"{_V8}cloudrunv2/"
          f"resource_cloud_run_v2_service.go (Optional bool); {_V8_DOCS}", google_8_only=True),
    Limit(_RUN, "labels", f"at most {MAX_LABELS} (the API's 64 minus the "
          "goog-terraform-provisioned label provider 6.50.0 adds); keys 1-63 and values 0-63 "
          "lowercase letters (international too), digits, _ or -; keys start with a letter",
          "cloud.google.com/resource-manager/docs/labels-overview#requirements; "
          "terraform-provider-google v6.50.0 google/tpgresource/labels.go:110-125, "
          "google/provider/provider.go:179-183"),
    Limit(_RUN, "custom_audiences", "non-empty strings, written once each in the given "
          f"order (a TypeList: order is compared); JSON list at most "
          f"{CUSTOM_AUDIENCES_MAX_JSON_CHARS} characters",
          f"cloud.google.com/run/docs/configuring/custom-audiences; {_RUN_GO}:884-892"),
    Limit(_RUN, "depends_on", "bare resource addresses (Terraform refuses interpolations)",
          "developer.hashicorp.com/terraform/language/meta-arguments/depends_on"),
    Limit(_RUN, "template.service_account", "a dedicated account's e-mail; never the "
          "default compute account (policy)", "DESIGN.md secure defaults"),
    Limit(_RUN, "template.timeout", "1 to 3600 whole seconds, written as '<n>s' (the API "
          "returns canonical durations; '600.0s' would diff forever)",
          f"cloud.google.com/run/docs/configuring/request-timeout; {_RUN_GO}:566-574"),
    Limit(_RUN, "template.max_instance_request_concurrency", "1 to 1000 (0 is dropped by "
          "the provider and the API default applies)",
          f"cloud.google.com/run/docs/about-concurrency; {_RUN_GO}:3640"),
    Limit(_RUN, "template.scaling.min_instance_count", "0 to 2147483647 and at most "
          "max_instance_count (0 is dropped, which equals the API default)",
          f"{_RUN_GO}:547-551,3706"),
    Limit(_RUN, "template.scaling.max_instance_count", "1 to 2147483647, always written "
          "(left out, the server stores 100; the real ceiling is quota)",
          "googleapis run/v2 vendor_settings.proto:124-128; "
          "cloud.google.com/run/docs/configuring/max-instances-limits"),
    Limit(_RUN, "template.containers.image", "a non-empty image reference",
          f"{_RUN_GO}:98-102"),
    Limit(_RUN, "template.containers.ports.container_port", "1 to 65535",
          "googleapis run/v2 k8s.min.proto:181-183 ('0 < container_port < 65536')"),
    Limit(_RUN, "template.containers.resources.limits", "cpu 1, 2, 4, 6 or 8 (fractional "
          "CPU is left out: it forces concurrency 1 and gen1); memory <n>Mi or <n>Gi within "
          "the CPU's range: 1: 128Mi-4Gi, 2: 128Mi-8Gi, 4: 2Gi-16Gi, 6: 4Gi-24Gi, 8: "
          "4Gi-32Gi", "cloud.google.com/run/docs/configuring/services/cpu and "
          "/services/memory-limits"),
    Limit(_RUN, "template.containers.resources.cpu_idle", "always true (with resources "
          "written, omitting it means CPU always allocated)",
          "googleapis run/v2 k8s.min.proto:120-123"),
    Limit(_RUN, "template.containers.env.name", "a C identifier (letters, digits, _; not "
          f"a digit first) of at most {ENV_NAME_MAX_CHARS} characters; not one of the "
          "container contract's PORT, K_SERVICE, K_REVISION, K_CONFIGURATION; at most "
          f"{MAX_ENV_VARS} variables", "cloud.google.com/run/docs/container-contract; "
          "cloud.google.com/run/docs/configuring/services/environment-variables; "
          f"{_RUN_GO}:1253-1257 ('Must be a C_IDENTIFIER')"),
    Limit(_RUN, "template.containers.env.value", f"a string of at most "
          f"{ENV_VALUE_MAX_BYTES} UTF-8 bytes", "googleapis run/v2 k8s.min.proto:131-146"),
    Limit(_RUN, "template.containers.env.value_source.secret_key_ref.secret", "a secret id "
          "(letters, digits, _ and -, up to 255) or projects/P/secrets/ID; a variable has a "
          "value or a secret, never both", "googleapis run/v2 k8s.min.proto:137-173; "
          "cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets"),
    Limit(_RUN, "template.containers.env.value_source.secret_key_ref.version", "latest or a "
          "version number", "googleapis run/v2 k8s.min.proto:155-173"),
    Limit(_RUN, "template.containers.startup_probe.http_get.path", "an absolute path "
          "(default /healthz, the sample worker's)", f"{_RUN_GO}:380-385"),
    Limit(_RUN, "template.containers.startup_probe.http_get.port", "the container port",
          f"{_RUN_GO}:315-433"),
    Limit(_RUN, "template.containers.startup_probe.initial_delay_seconds", "0 to 240, always "
          "written", f"{_RUN_GO}:396-401 ('Maximum value for startup probe is 240')"),
    Limit(_RUN, "template.containers.startup_probe.period_seconds", "1 to 240, always written",
          f"{_RUN_GO}:402-407"),
    Limit(_RUN, "template.containers.startup_probe.timeout_seconds", "1 to 240 and below "
          "period_seconds, always written", f"{_RUN_GO}:425-430 ('Must be smaller than "
          "periodSeconds')"),
    Limit(_RUN, "template.containers.startup_probe.failure_threshold", "at least 1, always "
          "written", f"{_RUN_GO}:323-328"),
    Limit(_RUN, "lifecycle.ignore_changes", "with image_managed_externally only: the image and "
          "the client fields gcloud run deploy sets (client, client_version)",
          "developer.hashicorp.com/terraform/language/meta-arguments/lifecycle; "
          f"{_RUN_GO}:874-883 (client, client_version)"),
    # --- its IAM -----------------------------------------------------------------------
    Limit(_RUN_IAM, "name", "the service's name (a reference)", f"{PROVIDER}cloudrunv2/"
          "iam_cloud_run_v2_service.go:47-52"),
    Limit(_RUN_IAM, "location", "the service's location (a reference)",
          f"{PROVIDER}cloudrunv2/iam_cloud_run_v2_service.go:35-46"),
    Limit(_RUN_IAM, "project", "the service's project (a reference)",
          f"{PROVIDER}cloudrunv2/iam_cloud_run_v2_service.go:35-46"),
    Limit(_RUN_IAM, "role", "roles/run.invoker", "cloud.google.com/run/docs/reference/iam/roles"),
    Limit(_RUN_IAM, "member", _MEMBERS, _MEMBERS_SOURCE),
    # --- Cloud Run job ------------------------------------------------------------------
    Limit(_JOB, "name", "1 to 49 characters: lowercase letters, digits, hyphens; a letter "
          "first, no hyphen last", "googleapis run/v2 job.proto job_id"),
    Limit(_JOB, "location", _LOCATION, _JOB_GO),
    Limit(_JOB, "project", _PROJECT, _PROJECT_SOURCE),
    Limit(_JOB, "deletion_protection", "always written (provider default true blocks "
          "destroy)", f"{_JOB_GO}:909-918"),
    Limit(_JOB, "deletion_policy", _DELETION_POLICY, _V8_DOCS, google_8_only=True),
    Limit(_JOB, "labels", f"as the service's: at most {MAX_LABELS}, Google's label rules",
          f"{_JOB_GO}:671"),
    Limit(_JOB, "depends_on", "bare resource addresses",
          "developer.hashicorp.com/terraform/language/meta-arguments/depends_on"),
    Limit(_JOB, "template.task_count", f"1 to {JOB_MAX_TASKS} (0 is dropped by the provider)",
          f"{_JOB_GO}:611-616,2605-2610; cloud.google.com/run/docs/configuring/jobs/parallelism"),
    Limit(_JOB, "template.parallelism", "1 to task_count, or left out (as many as possible: "
          "the provider drops 0, which the API reads the same way)", f"{_JOB_GO}:605-610,2598"),
    Limit(_JOB, "template.template.service_account", "a dedicated account's e-mail; never "
          "the default compute account (policy)", "DESIGN.md secure defaults"),
    Limit(_JOB, "template.template.timeout", f"1 to {JOB_MAX_TASK_TIMEOUT_SECONDS} whole "
          "seconds per attempt of a task, written as '<n>s'",
          f"{_JOB_GO}:373-381; cloud.google.com/run/docs/configuring/task-timeout"),
    Limit(_JOB, "template.template.max_retries", f"0 to {JOB_MAX_RETRIES}, always sent (the "
          "provider writes 0; its default is 3)", f"{_JOB_GO}:346-351,2710-2715; "
          "cloud.google.com/run/docs/configuring/max-retries"),
    Limit(_JOB, "template.template.containers.image", "a non-empty image reference",
          f"{_JOB_GO}:95"),
    Limit(_JOB, "template.template.containers.command", "non-empty strings (the image's "
          "entrypoint when left out)", f"{_JOB_GO}:108"),
    Limit(_JOB, "template.template.containers.resources.limits", "as the service's: cpu 1, 2, "
          "4, 6 or 8 and memory within the CPU's range",
          "cloud.google.com/run/docs/configuring/jobs/cpu and /jobs/memory-limits"),
    Limit(_JOB, "template.template.containers.env.name", "as the service's, and not one of "
          "CLOUD_RUN_JOB, CLOUD_RUN_EXECUTION, CLOUD_RUN_TASK_INDEX, CLOUD_RUN_TASK_ATTEMPT, "
          "CLOUD_RUN_TASK_COUNT (set by Cloud Run; INDEX and COUNT are in Google's text, the "
          "other three refused by caution: the contract table could not be read in full)",
          f"cloud.google.com/run/docs/container-contract#jobs-env-vars; {_JOB_GO}:124"),
    Limit(_JOB, "template.template.containers.env.value", f"at most {ENV_VALUE_MAX_BYTES} "
          "UTF-8 bytes", "googleapis run/v2 k8s.min.proto:131-146"),
    Limit(_JOB, "template.template.containers.env.value_source.secret_key_ref.secret",
          "as the service's", "googleapis run/v2 k8s.min.proto:137-173"),
    Limit(_JOB, "template.template.containers.env.value_source.secret_key_ref.version",
          "latest or a version number", "googleapis run/v2 k8s.min.proto:155-173"),
    Limit(_JOB_IAM, "name", "the job's name (a reference)", f"{_JOB_IAM_GO}:47-52"),
    Limit(_JOB_IAM, "location", "the job's location (a reference)", f"{_JOB_IAM_GO}:41-46"),
    Limit(_JOB_IAM, "project", "the job's project (a reference)", f"{_JOB_IAM_GO}:35-40"),
    Limit(_JOB_IAM, "role", "roles/run.jobsExecutorWithOverrides: the narrowest predefined "
          "role with run.jobs.runWithOverrides (run.jobs.run, run.jobs.runWithOverrides, "
          "run.executions.cancel; run.developer, the next one, has 89 permissions)",
          "cloud.google.com/run/docs/reference/iam/roles; permission lists from the IAM role "
          "dataset iann0036/iam-dataset (Google's pages name the roles)"),
    Limit(_JOB_IAM, "member", _MEMBERS, _MEMBERS_SOURCE),
    # --- secrets the service reads -----------------------------------------------------
    Limit(_SECRET_IAM, "secret_id", "the secret's id (its project in project)",
          f"{PROVIDER}secretmanager/iam_secret_manager_secret.go:35-47"),
    Limit(_SECRET_IAM, "project", "the secret's project (the service's, or the one named in "
          "projects/P/secrets/ID)", f"{PROVIDER}secretmanager/iam_secret_manager_secret.go:35-47"),
    Limit(_SECRET_IAM, "role", "roles/secretmanager.secretAccessor, on each secret the service "
          "reads and nothing else", "cloud.google.com/secret-manager/docs/access-control"),
    Limit(_SECRET_IAM, "member", "the service's runtime account", _MEMBERS_SOURCE),
    # --- Cloud Tasks queue -------------------------------------------------------------
    Limit(_QUEUE, "name", "1 to 100 letters, digits, hyphens (93 with name_suffix); a deleted "
          "name is blocked for up to 7 days", "googleapis cloud/tasks/v2 queue.proto "
          "Queue.name; cloudtasks.proto:108-109"),
    Limit(_QUEUE, "location", f"{_LOCATION}; the service's location in the pattern",
          f"{_TASKS_GO}:68-73"),
    Limit(_QUEUE, "project", _PROJECT, _PROJECT_SOURCE),
    Limit(_QUEUE, "deletion_policy", _DELETION_POLICY,
          f"{_V8}cloudtasks/resource_cloud_tasks_queue.go (Read default); {_V8_DOCS}",
          google_8_only=True),
    Limit(_QUEUE, "desired_state", "cdktn only: always RUNNING, the provider's default (the "
          "queue dispatches)", f"{_V8}cloudtasks/resource_cloud_tasks_queue.go (Default "
          f"RUNNING; PAUSED pauses after create); {_V8_DOCS}", google_8_only=True),
    Limit(_QUEUE, "depends_on", "bare resource addresses",
          "developer.hashicorp.com/terraform/language/meta-arguments/depends_on"),
    Limit(_QUEUE, "rate_limits.max_dispatches_per_second", "greater than 0 and at most 500 "
          "(0 is dropped by the provider)", f"queue.proto RateLimits; {_TASKS_GO}:1215"),
    Limit(_QUEUE, "rate_limits.max_concurrent_dispatches", "1 to 5000 (0 is dropped)",
          f"queue.proto RateLimits; {_TASKS_GO}:1222"),
    Limit(_QUEUE, "retry_config.max_attempts", "-1 (unlimited) or 1 to 2147483647 (0 is "
          "dropped)", f"queue.proto RetryConfig ('Must be >= -1'); {_TASKS_GO}:1260"),
    Limit(_QUEUE, "retry_config.min_backoff", "greater than 0 seconds (a zero duration reads "
          "as unset and the API applies its default) and at most max_backoff",
          f"queue.proto RetryConfig; {_TASKS_GO}:38-44 (the API omits zero durations)"),
    Limit(_QUEUE, "retry_config.max_backoff", "greater than 0 seconds (zero reads as "
          "unset: the API applies its default)",
          f"queue.proto RetryConfig; {_TASKS_GO}:38-44"),
    Limit(_QUEUE, "retry_config.max_doublings", "1 to 2147483647: 0 cannot be expressed "
          "(the provider drops it and the API applies its default, 16 per the provider's tests)",
          f"{_TASKS_GO}:1288; queue.proto RetryConfig"),
    Limit(_QUEUE, "retry_config.max_retry_duration", "0 (no limit, written exactly '0s', "
          "which the provider matches to the API's omitted value) or more seconds",
          f"queue.proto RetryConfig ('If zero, then the task age is unlimited'); "
          f"{_TASKS_GO}:38-44"),
    Limit(_QUEUE, "stackdriver_logging_config.sampling_ratio", "0.0 to 1.0; at 0 the block "
          "is left out (the provider drops 0 and would diff forever; unset means no logs)",
          f"queue.proto StackdriverLoggingConfig; {_TASKS_GO}:941-948,1327"),
    Limit(_QUEUE, "http_target.http_method", "POST", f"{_TASKS_GO}:163-172"),
    Limit(_QUEUE, "http_target.uri_override.scheme", "HTTPS", f"{_TASKS_GO}:294-302"),
    Limit(_QUEUE, "http_target.uri_override.host", "a non-empty host without scheme, path "
          "or port", f"{_TASKS_GO}:237-246 ('Host value cannot be an empty string')"),
    Limit(_QUEUE, "http_target.uri_override.path_override.path", "an absolute path "
          "starting with /, no query or fragment", f"{_TASKS_GO}:252-262"),
    Limit(_QUEUE, "http_target.uri_override.uri_override_enforce_mode", "ALWAYS",
          f"{_TASKS_GO}:303-311"),
    Limit(_QUEUE, "http_target.oidc_token.service_account_email", "the invoker's e-mail "
          "(same project as the queue)", f"{_TASKS_GO}:207-217"),
    Limit(_QUEUE, "http_target.oidc_token.audience", "non-empty; required with queue-level "
          "routing", f"{_TASKS_GO}:207,218-223"),
    # --- its IAM -----------------------------------------------------------------------
    Limit(_QUEUE_IAM, "name", "the queue's name (a reference)",
          f"{PROVIDER}cloudtasks/iam_cloud_tasks_queue.go:47-52"),
    Limit(_QUEUE_IAM, "location", "the queue's location (a reference)",
          f"{PROVIDER}cloudtasks/iam_cloud_tasks_queue.go:35-46"),
    Limit(_QUEUE_IAM, "project", "the queue's project (a reference)",
          f"{PROVIDER}cloudtasks/iam_cloud_tasks_queue.go:35-46"),
    Limit(_QUEUE_IAM, "role", "roles/cloudtasks.enqueuer",
          "cloud.google.com/tasks/docs/reference-access-control"),
    Limit(_QUEUE_IAM, "member", _MEMBERS, _MEMBERS_SOURCE),
    # --- service accounts --------------------------------------------------------------
    Limit(_SA, "account_id", "6 to 30 characters matching `[a-z]([-a-z0-9]*[a-z0-9])`; "
          "derived ids longer than that are cut and tagged with a hash",
          f"{_SA_GO}:69-75 (ValidateRFC1035Name(6, 30)); google/iam/admin/v1/iam.proto"),
    Limit(_SA, "display_name", f"non-empty, at most {DISPLAY_NAME_MAX_BYTES} UTF-8 bytes (the "
          "provider does not check it: apply would fail)",
          f"google/iam/admin/v1/iam.proto ServiceAccount.display_name; {_SA_GO}:76-80"),
    Limit(_SA, "description", f"at most {DESCRIPTION_MAX_BYTES} UTF-8 bytes",
          f"google/iam/admin/v1/iam.proto; {_SA_GO}:87-92 (StringLenBetween(0, 256))"),
    Limit(_SA, "project", _PROJECT, _PROJECT_SOURCE),
    Limit(_SA, "deletion_policy", _DELETION_POLICY, _V8_DOCS, google_8_only=True),
    Limit(_SA, "depends_on", "bare resource addresses",
          "developer.hashicorp.com/terraform/language/meta-arguments/depends_on"),
    Limit(_SA_IAM, "service_account_id", "the account's full name, projects/P/"
          "serviceAccounts/EMAIL (a reference)", "terraform-provider-google v6.50.0 "
          "google/verify/validation.go:62-82 (ServiceAccountLinkRegex)"),
    Limit(_SA_IAM, "role", "roles/iam.serviceAccountUser",
          "cloud.google.com/tasks/docs/reference/rest/v2/OidcToken"),
    Limit(_SA_IAM, "member", _MEMBERS, _MEMBERS_SOURCE),
    # --- APIs --------------------------------------------------------------------------
    Limit(_API, "project", _PROJECT, _PROJECT_SOURCE),
    Limit(_API, "service", "run / cloudtasks / iam .googleapis.com, storage with a store, "
          "monitoring and logging with alerts, once per stack and project",
          f"{PROVIDER}resourcemanager/resource_google_project_service.go:113-118"),
    Limit(_API, "disable_on_destroy", "always false (provider default true would switch the "
          "API off for everything in the project on destroy)",
          f"{PROVIDER}resourcemanager/resource_google_project_service.go:132-136,256-260"),
    Limit(_API, "deletion_policy", _DELETION_POLICY + "; disable_on_destroy false still "
          "leaves the API on", _V8_DOCS, google_8_only=True),
    # --- stores: dead letters and task names ------------------------------------------
    Limit(_BUCKET, "name", "3 to 63 lowercase letters, digits, - or _ (up to 222 with dots, "
          "each part at most 63), a letter or digit first and last, no IP address, no 'goog' "
          "prefix, no 'google'; derived: <service>-<hash8 of project and service>-dead-letters "
          "or -task-names (names are global and public: no project id in them)",
          "cloud.google.com/storage/docs/buckets#naming"),
    Limit(_BUCKET, "location", "the pattern's region, written upper-case (the provider's "
          "StateFunc stores it so); ForceNew", f"{_BUCKET_GO}:143-151"),
    Limit(_BUCKET, "project", _PROJECT, _PROJECT_SOURCE),
    Limit(_BUCKET, "deletion_policy", _DELETION_POLICY, _V8_DOCS, google_8_only=True),
    Limit(_BUCKET, "depends_on", *_DEPENDS),
    Limit(_BUCKET, "storage_class", "STANDARD (the provider's default, written)",
          f"{_BUCKET_GO}:179-184"),
    Limit(_BUCKET, "uniform_bucket_level_access", "always true (Optional+Computed: left out, "
          "the organization's default applies)", f"{_BUCKET_GO}:502-507,1747-1755"),
    Limit(_BUCKET, "public_access_prevention", "always 'enforced' (Optional+Computed)",
          f"{_BUCKET_GO}:537-542; cloud.google.com/storage/docs/public-access-prevention"),
    Limit(_BUCKET, "versioning.enabled", "always false: one object per task name, a "
          "create-only precondition instead of versions (Optional+Computed)",
          f"{_BUCKET_GO}:319-334,1581-1596"),
    Limit(_BUCKET, "force_destroy", "explicit, default false (a destroy fails while the "
          "bucket holds objects)", f"{_BUCKET_GO}:114-119"),
    Limit(_BUCKET, "soft_delete_policy.retention_duration_seconds", "0 (off) or 7 to 90 "
          "days in seconds; always written (Optional+Computed: left out, Google's 7-day "
          "default applies and the provider sends nothing); dead letters 7 days, task names 0",
          f"{_BUCKET_GO}:543-564,1523-1534; cloud.google.com/storage/docs/soft-delete"),
    Limit(_BUCKET, "lifecycle_rule.action.type", "Delete", f"{_BUCKET_GO}:192-213"),
    Limit(_BUCKET, "lifecycle_rule.condition.age", "whole days, at least 1 (int32): dead "
          "letters retention_days (default 30); task names at least the queue's retry window "
          "+ 24 h, refused when shorter (32 days when retries are unlimited)",
          f"{_BUCKET_GO}:222-226,1856-1861; googleapis google/cloud/tasks/v2/queue.proto "
          "RetryConfig; cloudtasks.proto CreateQueue (31-day task lifetime)"),
    Limit(_BUCKET, "lifecycle_rule.condition.with_state", "ANY (what the provider reads back "
          "for an unversioned bucket; Optional+Computed)", f"{_BUCKET_GO}:253-258,1669-1692"),
    Limit(_BUCKET, "labels", f"at most {MAX_LABELS}, Google's label rules",
          "cloud.google.com/resource-manager/docs/labels-overview#requirements"),
    Limit(_BUCKET_IAM, "bucket", "the store's bucket (a reference, or an existing bucket's "
          "name)", f"{PROVIDER}storage/iam_storage_bucket.go:34-40"),
    Limit(_BUCKET_IAM, "role", "roles/storage.objectCreator for the runtime account on the "
          "dead letters (storage.objects.create: a create with ifGenerationMatch=0 never "
          "overwrites, which alone would need storage.objects.delete); roles/storage.objectUser "
          "on the task names (the smallest predefined role with objects.create, get, delete); "
          "the replay custom role for people and CI",
          "cloud.google.com/storage/docs/json_api/v1/objects/insert (required permissions); "
          "permission lists from the IAM role dataset iann0036/iam-dataset "
          "gcp/roles/storage.objectCreator.json, storage.objectUser.json"),
    Limit(_BUCKET_IAM, "member", _MEMBERS, _MEMBERS_SOURCE),
    Limit(_ROLE, "role_id", "deadLetterReplay_<hash8>, matching ^[a-zA-Z0-9_\\.]{3,64}$; a "
          "soft-deleted role of that id is undeleted by the provider on create",
          f"terraform-provider-google v6.50.0 google/verify/validation.go:49,195-202; "
          f"{_ROLE_GO}:114-130"),
    Limit(_ROLE, "title", "'Dead-letter replay'", f"{_ROLE_GO}:55-59"),
    Limit(_ROLE, "description", "free text naming the bucket", f"{_ROLE_GO}"),
    Limit(_ROLE, "permissions", "storage.objects.get, storage.objects.list, "
          "storage.objects.update (read, list and mark replayed; no create or delete)",
          "cloud.google.com/storage/docs/access-control/iam-permissions"),
    Limit(_ROLE, "stage", "GA (the provider's default, written)", f"{_ROLE_GO}:74-81"),
    Limit(_ROLE, "project", _PROJECT, _PROJECT_SOURCE),
    Limit(_ROLE, "deletion_policy", _DELETION_POLICY, _V8_DOCS, google_8_only=True),
    # --- alerts (opt-in) ---------------------------------------------------------------
    Limit(_LOG_METRIC, "name", "dead-letters/<service> (at most 100 characters of A-Z a-z "
          "0-9 _-.,+!*',()%/, not starting with /)", f"{_LOG_GO}:65-73"),
    Limit(_LOG_METRIC, "filter", "resource.type=\"cloud_run_revision\" AND "
          "resource.labels.service_name=\"<service>\" AND severity=ERROR AND "
          "jsonPayload.dead_letter=true: the worker's dead-letter line (issue 9 contract; "
          "tests/infra/test_alerts.py checks the real line)",
          "cloud.google.com/logging/docs/view/logging-query-language"),
    Limit(_LOG_METRIC, "description", "free text, at most 8000 characters", f"{_LOG_GO}:164-169"),
    Limit(_LOG_METRIC, "disabled", "false, written", f"{_LOG_GO}:170-174"),
    Limit(_LOG_METRIC, "metric_descriptor.metric_kind", "DELTA (a counter)", f"{_LOG_GO}:195-202"),
    Limit(_LOG_METRIC, "metric_descriptor.value_type", "INT64", f"{_LOG_GO}:203-210"),
    Limit(_LOG_METRIC, "metric_descriptor.unit", "'1' (the provider's default, written)",
          f"{_LOG_GO}:228-235"),
    Limit(_LOG_METRIC, "project", _PROJECT, _PROJECT_SOURCE),
    Limit(_LOG_METRIC, "deletion_policy", _DELETION_POLICY, _V8_DOCS, google_8_only=True),
    Limit(_LOG_METRIC, "depends_on", *_DEPENDS),
    Limit(_ALERT, "display_name", "<service>: <what>", f"{_ALERT_GO}"),
    Limit(_ALERT, "combiner", "OR (one condition per policy)", f"{_ALERT_GO}:65-70"),
    Limit(_ALERT, "enabled", "true, written (the provider's default)", f"{_ALERT_GO}:1153-1158"),
    Limit(_ALERT, "severity", "CRITICAL, ERROR (default) or WARNING", f"{_ALERT_GO}:1173-1177"),
    Limit(_ALERT, "notification_channels", "at least one, each "
          "projects/PROJECT/notificationChannels/ID (digits)", f"{_ALERT_GO}:1159-1170"),
    Limit(_ALERT, "documentation.content", "what the alert means and where to look",
          f"{_ALERT_GO}"),
    Limit(_ALERT, "documentation.mime_type", "text/markdown (the provider's default, written)",
          f"{_ALERT_GO}:1136-1140"),
    Limit(_ALERT, "conditions.display_name", "the policy's title", f"{_ALERT_GO}"),
    Limit(_ALERT, "conditions.condition_threshold.filter", "metric.type = "
          "cloudtasks.googleapis.com/queue/depth (GAUGE INT64), queue/task_attempt_count "
          "(DELTA INT64, label response_code: not a success), queue/task_attempt_delays (DELTA "
          "DISTRIBUTION, ms) on resource.type cloud_tasks_queue with labels.queue_id; or "
          "logging.googleapis.com/user/dead-letters/<service>", f"{_METRICS}; {_FILTERS}"),
    Limit(_ALERT, "conditions.condition_threshold.comparison", "COMPARISON_GT",
          f"{_ALERT_GO}:630-635"),
    Limit(_ALERT, "conditions.condition_threshold.threshold_value", "the option's threshold "
          "(dispatch lag converted to ms)", _METRICS),
    Limit(_ALERT, "conditions.condition_threshold.duration", "0 to 86400 s, whole minutes "
          "('only values that are a multiple of a minute')", f"{_ALERT_GO}:643-650"),
    Limit(_ALERT, "conditions.condition_threshold.trigger.count", "1", f"{_ALERT_GO}:971-990"),
    Limit(_ALERT, "conditions.condition_threshold.aggregations.alignment_period", "60 to "
          "86400 s, whole minutes", f"{_ALERT_GO}:680-697"),
    Limit(_ALERT, "conditions.condition_threshold.aggregations.per_series_aligner",
          "ALIGN_MAX (depth), ALIGN_SUM (counts), ALIGN_PERCENTILE_99 (delays)",
          f"{_ALERT_GO}:753-760"),
    Limit(_ALERT, "conditions.condition_threshold.aggregations.cross_series_reducer",
          "REDUCE_SUM (counts over response codes or revisions)", f"{_ALERT_GO}:698-705"),
    Limit(_ALERT, "conditions.condition_threshold.aggregations.group_by_fields",
          "resource.label.queue_id", f"{_ALERT_GO}"),
    Limit(_ALERT, "project", _PROJECT, _PROJECT_SOURCE),
    Limit(_ALERT, "deletion_policy", _DELETION_POLICY, _V8_DOCS, google_8_only=True),
    Limit(_ALERT, "depends_on", *_DEPENDS),
    # --- random suffix -----------------------------------------------------------------
    Limit(_RANDOM, "byte_length", "3 (6 hex characters)",
          "registry.terraform.io/providers/hashicorp/random/3.7.2/docs/resources/id"),
    Limit(_RANDOM, "prefix", "the queue name and a hyphen", "same"),
    Limit(_RANDOM, "keepers", "the queue name: a new suffix when the name changes", "same"),
)


def markdown() -> str:
    """``docs/limits.md``: every field, its rule and its source, by resource."""
    lines = [
        "# What every field the library writes allows, and why",
        "",
        "Generated from `constructs_lib/limits.py`: `python -m constructs_lib limits > "
        "docs/limits.md`",
        "(a test fails when this page and the code disagree, or when a stack can carry a "
        "field not listed).",
        "Provider: google 6.50.0 (the version cdktf-cdktf-provider-google 16.12.1 pins); rows "
        "marked *cdktn only* are fields google 8.7.0 (cdktn-provider-google 21.1.0) added, "
        "written on cdktn only ([cdktn.md](cdktn.md)).",
    ]
    resource = None
    for limit in LIMITS:
        if limit.resource != resource:
            resource = limit.resource
            lines += ["", f"## `{resource}`", "", "| field | allowed | source |",
                      "|---|---|---|"]
        rule = limit.rule.replace("cdktn only: ", "*cdktn only*: ", 1)
        lines.append(f"| `{limit.field}` | {rule} | {limit.source} |")
    return "\n".join(lines) + "\n"

