"""Typed, frozen option objects: how the worker service runs and how the queue dispatches.

Each setting is declared once, here, with its default from :mod:`constructs_lib.defaults`,
and checked once, when the object is made: ``ServiceOptions(memory="64Mi")`` fails at that
line. The constructs, the pattern and the environment settings (``[dev.service]`` and
``[dev.queue]`` tables) all take these objects. :meth:`ServiceOptions.from_mapping` builds
one from a table, naming errors as the table's keys (``[dev.service] memory ...``).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar

from . import defaults, limits
from .validation import (
    ENV_NAME,
    ENV_NAME_TEXT,
    INT32_MAX,
    ConfigurationError,
    check_bool,
    check_choice,
    check_labels,
    check_non_empty,
    check_number,
    check_string,
    check_string_map,
    check_strings,
    check_utf8_bytes,
    is_token,
)

INGRESS_SETTINGS = (
    "INGRESS_TRAFFIC_INTERNAL_ONLY",
    "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER",
    "INGRESS_TRAFFIC_ALL",
)
# Whole CPUs and the memory each allows, in MiB (cloud.google.com/run/docs/configuring/
# services/cpu). Fractional CPU is left out: it forces concurrency 1 and gen1.
CPU_MEMORY_MIB = {"1": (128, 4096), "2": (128, 8192), "4": (2048, 16384),
                  "6": (4096, 24576), "8": (4096, 32768)}
CPU_VALUES = tuple(CPU_MEMORY_MIB)
MEMORY_PATTERN = r"[1-9][0-9]*(Mi|Gi)"
MEMORY_TEXT = "a quantity in Mi or Gi such as 512Mi or 2Gi"
MAX_DURATION_SECONDS = 315_576_000_000  # the largest protobuf Duration (10,000 years)
SECRET_ID = r"(projects/[^/\s]+/secrets/)?[A-Za-z0-9_-]{1,255}"
SECRET_ID_TEXT = ("a Secret Manager secret id (letters, digits, _ and -, up to 255) or "
                  "projects/PROJECT/secrets/ID")
SECRET_VERSION = r"latest|[1-9][0-9]*"

_Options = TypeVar("_Options", bound="_FromMapping")


class _FromMapping:
    """Build an options object from a table (TOML, JSON), naming errors as its keys."""

    @classmethod
    def from_mapping(cls: type[_Options], table: Mapping[str, Any], *,
                     where: str = "") -> _Options:
        prefix = f"{where} " if where else ""
        if not isinstance(table, Mapping):
            raise ConfigurationError(where or cls.__name__, "a table of settings", table)
        known = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
        for key in table:
            if key not in known:
                raise ConfigurationError(f"{prefix}key", "one of " + ", ".join(known), key)
        try:
            return cls(**cls._convert(dict(table)))
        except ConfigurationError as error:
            raise error.within(prefix) from None

    @classmethod
    def _convert(cls, table: dict[str, Any]) -> dict[str, Any]:
        return table


@dataclass(frozen=True, kw_only=True)
class SecretEnv(_FromMapping):
    """An environment variable read from a Secret Manager secret version."""

    secret: str
    """Secret id in the service's project, or ``projects/P/secrets/ID``."""
    version: str = "latest"
    """``latest`` or a version number. Default: ``latest``."""

    def __post_init__(self) -> None:
        check_string("secret", self.secret, pattern=SECRET_ID, allowed=SECRET_ID_TEXT)
        check_string("version", self.version, pattern=SECRET_VERSION,
                     allowed="latest or a version number")


@dataclass(frozen=True, kw_only=True)
class StartupProbe(_FromMapping):
    """An HTTP startup probe: Cloud Run sends traffic only once ``path`` answers 2xx.
    Every field is written (the provider fills unset ones with its own defaults)."""

    path: str = defaults.STARTUP_PROBE_PATH
    """Path probed on the container port. Default: ``/healthz`` (the sample worker's)."""
    initial_delay_seconds: int = defaults.STARTUP_PROBE_INITIAL_DELAY_SECONDS
    """Wait before the first probe, 0 to 240. Default: 0."""
    period_seconds: int = defaults.STARTUP_PROBE_PERIOD_SECONDS
    """Between probes, 1 to 240. Default: 10."""
    timeout_seconds: int = defaults.STARTUP_PROBE_TIMEOUT_SECONDS
    """Per probe, 1 to 240 and below period_seconds. Default: 1."""
    failure_threshold: int = defaults.STARTUP_PROBE_FAILURE_THRESHOLD
    """Failures before the instance is restarted, at least 1. Default: 3."""

    def __post_init__(self) -> None:
        check_string("path", self.path, pattern=r"/[^\s?#]*",
                     allowed="an absolute path starting with /")
        check_number("initial_delay_seconds", self.initial_delay_seconds, minimum=0,
                      maximum=240, integer=True)
        check_number("period_seconds", self.period_seconds, minimum=1, maximum=240,
                     integer=True)
        check_number("timeout_seconds", self.timeout_seconds, minimum=1, maximum=240,
                     integer=True)
        check_number("failure_threshold", self.failure_threshold, minimum=1,
                     maximum=INT32_MAX, integer=True)
        if (not is_token(self.timeout_seconds) and not is_token(self.period_seconds)
                and self.timeout_seconds >= self.period_seconds):
            raise ConfigurationError("timeout_seconds",
                                     f"below period_seconds ({self.period_seconds})",
                                     self.timeout_seconds)


@dataclass(frozen=True, kw_only=True)
class ServiceOptions(_FromMapping):
    """How the worker service runs (everything but its name, place, image and identity)."""

    timeout_seconds: int = defaults.TIMEOUT_SECONDS
    """Request timeout, 1 to 3600 whole seconds. Default: 600."""
    min_instance_count: int = defaults.MIN_INSTANCE_COUNT
    """Instances kept warm. Default: 0."""
    max_instance_count: int = defaults.MAX_INSTANCE_COUNT
    """Upper bound on instances (the real ceiling is your quota). Default: 10."""
    max_concurrency: int = defaults.MAX_CONCURRENCY
    """Requests per instance, 1 to 1000. Default: 80."""
    cpu: str = defaults.CPU
    """CPU limit: 1, 2, 4, 6 or 8. Default: ``"1"``."""
    memory: str = defaults.MEMORY
    """Memory limit in Mi or Gi, within the CPU's range. Default: ``"512Mi"``."""
    env: Mapping[str, str] = field(default_factory=dict)
    """Plain environment variables. Default: none."""
    secret_env: Mapping[str, SecretEnv] = field(default_factory=dict)
    """Environment variables from Secret Manager; the runtime account gets
    ``roles/secretmanager.secretAccessor`` on those secrets only. Default: none."""
    ingress: str = defaults.INGRESS
    """Who may reach the URL. Default: ``INGRESS_TRAFFIC_INTERNAL_ONLY`` (Cloud Tasks in
    the same project still reaches the run.app URL)."""
    deletion_protection: bool = defaults.DELETION_PROTECTION
    """Block ``terraform destroy``; always written. Default: True."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """Resource labels (at most 63). Default: none."""
    container_port: int = defaults.CONTAINER_PORT
    """Port the container listens on ($PORT). Default: 8080."""
    startup_probe: StartupProbe | None = None
    """HTTP startup probe. Default: none (Cloud Run's TCP check), for images that do not
    serve a health path."""
    image_managed_externally: bool = defaults.IMAGE_MANAGED_EXTERNALLY
    """Leave the image (and the client fields gcloud sets) to a deploy pipeline: Terraform
    creates the service with ``image`` and ignores later changes to it, so ``cdktf deploy``
    never rolls back what CI deployed. Default: False."""

    def __post_init__(self) -> None:
        _freeze(self, ("env", "secret_env", "labels"))
        check_number("timeout_seconds", self.timeout_seconds, minimum=1, maximum=3600,
                     integer=True)
        # No ceiling of our own: Cloud Run's real one is the project's quota.
        check_number("min_instance_count", self.min_instance_count, minimum=0,
                     maximum=INT32_MAX, integer=True)
        check_number("max_instance_count", self.max_instance_count, minimum=1,
                     maximum=INT32_MAX, integer=True)
        if (not is_token(self.min_instance_count) and not is_token(self.max_instance_count)
                and self.min_instance_count > self.max_instance_count):
            raise ConfigurationError("min_instance_count",
                                     f"at most max_instance_count ({self.max_instance_count})",
                                     self.min_instance_count)
        check_number("max_concurrency", self.max_concurrency, minimum=1, maximum=1000,
                     integer=True)
        _check_resources(self.cpu, self.memory)
        _check_env(self.env, self.secret_env, reserved=limits.RESERVED_ENV_NAMES)
        check_choice("ingress", self.ingress, INGRESS_SETTINGS)
        check_bool("deletion_protection", self.deletion_protection)
        check_labels("labels", self.labels, max_count=limits.MAX_LABELS,
                     max_chars=limits.LABEL_MAX_CHARS)
        check_number("container_port", self.container_port, minimum=1, maximum=65535,
                     integer=True)
        if self.startup_probe is not None and not isinstance(self.startup_probe, StartupProbe):
            raise ConfigurationError("startup_probe", "a StartupProbe or None",
                                     self.startup_probe)
        check_bool("image_managed_externally", self.image_managed_externally)

    @classmethod
    def _convert(cls, table: dict[str, Any]) -> dict[str, Any]:
        if isinstance(table.get("secret_env"), Mapping):
            table["secret_env"] = {
                key: SecretEnv.from_mapping(value, where=f"secret_env[{key!r}]")
                if isinstance(value, Mapping) else value
                for key, value in table["secret_env"].items()}
        if isinstance(table.get("startup_probe"), Mapping):
            table["startup_probe"] = StartupProbe.from_mapping(table["startup_probe"],
                                                               where="startup_probe")
        return table


@dataclass(frozen=True, kw_only=True)
class QueueOptions(_FromMapping):
    """How the queue dispatches and retries (everything but its name and place)."""

    max_dispatches_per_second: float = defaults.MAX_DISPATCHES_PER_SECOND
    """Dispatch rate, greater than 0 and at most 500. Default: 100."""
    max_concurrent_dispatches: int = defaults.MAX_CONCURRENT_DISPATCHES
    """Tasks in flight, 1 to 5000. Default: 50."""
    max_attempts: int = defaults.MAX_ATTEMPTS
    """Attempts per task: -1 for unlimited, or at least 1. Default: 10."""
    min_backoff_seconds: float = defaults.MIN_BACKOFF_SECONDS
    """First retry delay, greater than 0 (a zero reads as unset). Default: 1."""
    max_backoff_seconds: float = defaults.MAX_BACKOFF_SECONDS
    """Longest retry delay, at least min_backoff_seconds. Default: 300."""
    max_doublings: int = defaults.MAX_DOUBLINGS
    """Times the delay doubles before growing linearly, at least 1 (the provider cannot
    send 0). Default: 5."""
    max_retry_duration_seconds: float = defaults.MAX_RETRY_DURATION_SECONDS
    """Give up after this long; 0 means no limit. Default: 0."""
    log_sampling_ratio: float = defaults.LOG_SAMPLING_RATIO
    """Fraction of attempts logged, 0.0 to 1.0 (0: no logging block). Default: 1.0."""
    name_suffix: bool = defaults.QUEUE_NAME_SUFFIX
    """Append a random suffix kept in state (``<name>-<6 hex>``), so the queue can be
    destroyed and created again at once (a deleted name is blocked for up to 7 days).
    Default: False."""

    def __post_init__(self) -> None:
        check_number("max_dispatches_per_second", self.max_dispatches_per_second, minimum=0,
                     min_exclusive=True, maximum=500)
        check_number("max_concurrent_dispatches", self.max_concurrent_dispatches, minimum=1,
                     maximum=5000, integer=True)
        check_number("max_attempts", self.max_attempts, minimum=1, maximum=INT32_MAX,
                     integer=True, extra_allowed=(-1,))
        # A zero duration reads as unset: the API would apply its own default instead.
        check_number("min_backoff_seconds", self.min_backoff_seconds, minimum=0,
                     min_exclusive=True, maximum=MAX_DURATION_SECONDS)
        check_number("max_backoff_seconds", self.max_backoff_seconds, minimum=0,
                     min_exclusive=True, maximum=MAX_DURATION_SECONDS)
        if (not is_token(self.min_backoff_seconds) and not is_token(self.max_backoff_seconds)
                and self.min_backoff_seconds > self.max_backoff_seconds):
            raise ConfigurationError(
                "min_backoff_seconds", f"at most max_backoff_seconds ({self.max_backoff_seconds})",
                self.min_backoff_seconds)
        # 0 cannot be expressed: the provider drops it and the API applies its default.
        check_number("max_doublings", self.max_doublings, minimum=1, maximum=INT32_MAX,
                     integer=True)
        check_number("max_retry_duration_seconds", self.max_retry_duration_seconds,
                     minimum=0, maximum=MAX_DURATION_SECONDS)
        check_number("log_sampling_ratio", self.log_sampling_ratio, minimum=0, maximum=1)
        check_bool("name_suffix", self.name_suffix)


def _freeze(options: object, names: tuple[str, ...]) -> None:
    """Read-only copies: a caller's dict changed later cannot change what was checked."""
    for name in names:
        value = getattr(options, name)
        if isinstance(value, Mapping):
            object.__setattr__(options, name, MappingProxyType(dict(value)))


def _check_resources(cpu: Any, memory: Any) -> None:
    """A whole CPU count and memory within what it allows (services and jobs alike)."""
    check_choice("cpu", cpu, CPU_VALUES)
    check_string("memory", memory, pattern=MEMORY_PATTERN, allowed=MEMORY_TEXT)
    if not is_token(memory) and not is_token(cpu):
        mebibytes = int(memory[:-2]) * (1024 if memory.endswith("Gi") else 1)
        low, high = CPU_MEMORY_MIB[cpu]
        if not low <= mebibytes <= high:
            raise ConfigurationError("memory", f"between {low}Mi and {high}Mi with cpu {cpu!r}",
                                     memory)


def _check_env(env: Any, secret_env: Any, *, reserved: frozenset[str]) -> None:
    """Plain and secret variables: names, Cloud Run's limits, each name set once."""
    check_string_map("env", env, key_pattern=ENV_NAME, key_allowed=ENV_NAME_TEXT)
    _check_secret_env(secret_env)
    _check_env_limits({**env, **dict.fromkeys(secret_env, "")}, reserved=reserved)
    for key in secret_env:
        if key in env:
            raise ConfigurationError(f"secret_env[{key!r}]", "a name not also set in env", key)


def _check_secret_env(secret_env: Any) -> None:
    if not isinstance(secret_env, Mapping):
        raise ConfigurationError("secret_env", "a mapping of variable names to SecretEnv",
                                 secret_env)
    for key, value in secret_env.items():
        if not isinstance(key, str) or is_token(key) or not _env_name(key):
            raise ConfigurationError("secret_env key", ENV_NAME_TEXT, key)
        if not isinstance(value, SecretEnv):
            raise ConfigurationError(f"secret_env[{key!r}]", "a SecretEnv(secret=...)", value)


def _env_name(key: str) -> bool:
    return re.fullmatch(ENV_NAME, key) is not None


def _check_env_limits(env: Mapping[str, str], *, reserved: frozenset[str]) -> None:
    """Cloud Run's own limits on environment variables (see :mod:`constructs_lib.limits`)."""
    if len(env) > limits.MAX_ENV_VARS:
        raise ConfigurationError("env", f"at most {limits.MAX_ENV_VARS} variables",
                                 f"{len(env)} variables")
    for key, value in env.items():
        if key in reserved:
            raise ConfigurationError(
                "env key", "a name Cloud Run does not reserve (it sets "
                + ", ".join(sorted(reserved)) + " itself)", key)
        if len(key) > limits.ENV_NAME_MAX_CHARS:
            raise ConfigurationError("env key", f"at most {limits.ENV_NAME_MAX_CHARS} "
                                     "characters", f"{key[:40]}... ({len(key)} characters)")
        check_utf8_bytes(f"env[{key!r}]", value, maximum=limits.ENV_VALUE_MAX_BYTES)


def check_audiences(audiences: list[str]) -> None:
    """Custom audiences: non-empty strings, the JSON list within Cloud Run's limit."""
    for index, audience in enumerate(audiences):
        check_non_empty(f"custom_audiences[{index}]", audience)
    if len(json.dumps(audiences)) > limits.CUSTOM_AUDIENCES_MAX_JSON_CHARS:
        raise ConfigurationError(
            "custom_audiences", f"a list of at most {limits.CUSTOM_AUDIENCES_MAX_JSON_CHARS} "
            "characters as JSON", f"{len(audiences)} audiences")


@dataclass(frozen=True, kw_only=True)
class JobOptions(_FromMapping):
    """How the job runs (everything but its name, place, image and identity)."""

    command: Sequence[str] = ()
    """The container's entrypoint, for an image whose own one serves requests (the sample
    worker's image runs jobs with ``["python", "-m", "app.job"]``). Default: the image's."""
    task_count: int = defaults.JOB_TASK_COUNT
    """Tasks per execution (each gets CLOUD_RUN_TASK_INDEX), 1 to 10000. Default: 1."""
    parallelism: int | None = None
    """Tasks running at once, 1 to task_count. Default: none (as many as possible)."""
    task_timeout_seconds: int = defaults.JOB_TASK_TIMEOUT_SECONDS
    """Per attempt of one task, 1 to 604800 whole seconds (7 days). Default: 3600."""
    max_retries: int = defaults.JOB_MAX_RETRIES
    """Retries of a failed task, 0 to 10. Default: 3."""
    cpu: str = defaults.JOB_CPU
    """CPU limit: 1, 2, 4, 6 or 8. Default: ``"1"``."""
    memory: str = defaults.JOB_MEMORY
    """Memory limit in Mi or Gi, within the CPU's range. Default: ``"512Mi"``."""
    env: Mapping[str, str] = field(default_factory=dict)
    """Plain environment variables. Default: none."""
    secret_env: Mapping[str, SecretEnv] = field(default_factory=dict)
    """Environment variables from Secret Manager (accessor granted on those secrets only).
    Default: none."""
    deletion_protection: bool = defaults.DELETION_PROTECTION
    """Block ``terraform destroy``; always written. Default: True."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """Resource labels (at most 63). Default: none."""

    def __post_init__(self) -> None:
        _freeze(self, ("env", "secret_env", "labels"))
        if isinstance(self.command, (str, bytes)):
            raise ConfigurationError("command", "a list of strings", self.command)
        object.__setattr__(self, "command", check_strings("command", self.command))
        check_number("task_count", self.task_count, minimum=1, maximum=limits.JOB_MAX_TASKS,
                     integer=True)
        if self.parallelism is not None:
            check_number("parallelism", self.parallelism, minimum=1,
                         maximum=limits.JOB_MAX_TASKS, integer=True)
            if (not is_token(self.parallelism) and not is_token(self.task_count)
                    and self.parallelism > self.task_count):
                raise ConfigurationError("parallelism", f"at most task_count ({self.task_count})",
                                         self.parallelism)
        check_number("task_timeout_seconds", self.task_timeout_seconds, minimum=1,
                     maximum=limits.JOB_MAX_TASK_TIMEOUT_SECONDS, integer=True)
        check_number("max_retries", self.max_retries, minimum=0,
                     maximum=limits.JOB_MAX_RETRIES, integer=True)
        _check_resources(self.cpu, self.memory)
        _check_env(self.env, self.secret_env, reserved=limits.RESERVED_JOB_ENV_NAMES)
        check_bool("deletion_protection", self.deletion_protection)
        check_labels("labels", self.labels, max_count=limits.MAX_LABELS,
                     max_chars=limits.LABEL_MAX_CHARS)

    @classmethod
    def _convert(cls, table: dict[str, Any]) -> dict[str, Any]:
        return ServiceOptions._convert(table)


# --- stores and alerts (issue 9) ------------------------------------------------------
# Soft delete: 0 (off) or 7 to 90 days (cloud.google.com/storage/docs/soft-delete).
SOFT_DELETE_MIN_DAYS = 7
SOFT_DELETE_MAX_DAYS = 90
# A lifecycle rule's age is an int32 number of days (storage/v1 BucketLifecycleRuleCondition).
MAX_AGE_DAYS = INT32_MAX
NOTIFICATION_CHANNEL = r"projects/[^/\s]+/notificationChannels/[0-9]+"
NOTIFICATION_CHANNEL_TEXT = "a notification channel: projects/PROJECT/notificationChannels/ID"
ALERT_SEVERITIES = ("CRITICAL", "ERROR", "WARNING")
MAX_ALERT_SECONDS = 86_400  # one day: longer windows alert too late to be useful


def _check_soft_delete(parameter: str, days: Any) -> None:
    check_number(parameter, days, minimum=SOFT_DELETE_MIN_DAYS, maximum=SOFT_DELETE_MAX_DAYS,
                 integer=True, extra_allowed=(0,))


def _check_store_labels(labels: Any) -> None:
    check_labels("labels", labels, max_count=limits.MAX_LABELS, max_chars=limits.LABEL_MAX_CHARS)


@dataclass(frozen=True, kw_only=True)
class DeadLetterOptions(_FromMapping):
    """The dead-letter store the pattern declares: a private Cloud Storage bucket the worker
    may only create objects in (see docs/stores.md)."""

    enabled: bool = defaults.DEAD_LETTER_STORE
    """Declare the store. Off: no bucket, no grant, no WORKER_DEAD_LETTER_BUCKET (the worker
    then only logs dead letters). Default: True."""
    bucket_name: str | None = None
    """Name of the bucket to create. Default: ``<service>-<hash8>-dead-letters``, the hash
    taken over project and service name (bucket names are global and public)."""
    retention_days: int = defaults.DEAD_LETTER_RETENTION_DAYS
    """Days a dead letter is kept before the lifecycle rule deletes it, at least 1.
    Default: 30."""
    soft_delete_retention_days: int = defaults.DEAD_LETTER_SOFT_DELETE_DAYS
    """Days a deleted dead letter stays restorable: 0 (off) or 7 to 90. Default: 7."""
    force_destroy: bool = defaults.BUCKET_FORCE_DESTROY
    """Let ``terraform destroy`` delete a bucket that still holds dead letters.
    Default: False."""
    labels: Mapping[str, str] = field(default_factory=lambda: dict(defaults.DEAD_LETTER_LABELS))
    """Bucket labels. Default: ``{'purpose': 'dead-letters'}``."""

    def __post_init__(self) -> None:
        _freeze(self, ("labels",))
        check_bool("enabled", self.enabled)
        if self.bucket_name is not None:
            from .buckets import check_bucket_name

            check_bucket_name("bucket_name", self.bucket_name)
        check_number("retention_days", self.retention_days, minimum=1, maximum=MAX_AGE_DAYS,
                     integer=True)
        _check_soft_delete("soft_delete_retention_days", self.soft_delete_retention_days)
        check_bool("force_destroy", self.force_destroy)
        _check_store_labels(self.labels)


@dataclass(frozen=True, kw_only=True)
class TaskNameStoreOptions(_FromMapping):
    """The shared task-name store: a private bucket whose objects are the worker's claims
    and completion marks, expired once no redelivery of that task can come."""

    enabled: bool = defaults.TASK_NAME_STORE
    """Declare the store. Off: no bucket, no grant, no WORKER_TASK_NAME_BUCKET (each worker
    instance then keeps task names in its own memory). Default: True."""
    bucket_name: str | None = None
    """Name of the bucket to create. Default: ``<service>-<hash8>-task-names``."""
    retention_days: int | None = None
    """Days a task name is kept: at least the queue's retry window plus the 24 h named-task
    window, in whole days (refused when shorter). Default: exactly that minimum (32 days
    when the queue retries without limit: a task lives at most 31 days)."""
    soft_delete_retention_days: int = defaults.TASK_NAME_SOFT_DELETE_DAYS
    """Days a deleted task name stays restorable: 0 (off) or 7 to 90. Default: 0."""
    force_destroy: bool = defaults.BUCKET_FORCE_DESTROY
    """Let ``terraform destroy`` delete a bucket that still holds task names.
    Default: False."""
    labels: Mapping[str, str] = field(default_factory=lambda: dict(defaults.TASK_NAME_LABELS))
    """Bucket labels. Default: ``{'purpose': 'task-names'}``."""

    def __post_init__(self) -> None:
        _freeze(self, ("labels",))
        check_bool("enabled", self.enabled)
        if self.bucket_name is not None:
            from .buckets import check_bucket_name

            check_bucket_name("bucket_name", self.bucket_name)
        if self.retention_days is not None:
            check_number("retention_days", self.retention_days, minimum=1,
                         maximum=MAX_AGE_DAYS, integer=True)
        _check_soft_delete("soft_delete_retention_days", self.soft_delete_retention_days)
        check_bool("force_destroy", self.force_destroy)
        _check_store_labels(self.labels)


def _check_alert_seconds(parameter: str, value: Any, *, minimum: int) -> None:
    """A whole number of minutes, in seconds (the API takes only those)."""
    check_number(parameter, value, minimum=minimum, maximum=MAX_ALERT_SECONDS, integer=True)
    if not is_token(value) and value % 60:
        raise ConfigurationError(parameter, "a multiple of 60 seconds", value)


@dataclass(frozen=True, kw_only=True)
class AlertOptions(_FromMapping):
    """Opt-in alerting on the queue and the dead letters: one log-based metric and four
    alert policies sent to the channels given (see docs/alerts.md)."""

    enabled: bool = defaults.ALERTS
    """Declare the metric and the policies (and enable the Monitoring and Logging APIs).
    Needs notification_channels. Default: False."""
    notification_channels: Sequence[str] = ()
    """Where alerts go: ``projects/P/notificationChannels/ID`` each, at least one when
    enabled. Default: none."""
    severity: str = defaults.ALERT_SEVERITY
    """Severity of the incidents: CRITICAL, ERROR or WARNING. Default: ``ERROR``."""
    alignment_period_seconds: int = defaults.ALERT_ALIGNMENT_PERIOD_SECONDS
    """Window each data point sums or aligns over, 60 to 86400, whole minutes.
    Default: 300."""
    backlog_threshold: int = defaults.BACKLOG_THRESHOLD_TASKS
    """Alert when more tasks than this wait in the queue (queue/depth), at least 1.
    Default: 1000."""
    backlog_duration_seconds: int = defaults.BACKLOG_DURATION_SECONDS
    """...for this long, 0 to 86400, whole minutes. Default: 600."""
    failing_attempts_threshold: int = defaults.FAILING_ATTEMPTS_THRESHOLD
    """Alert when more attempts than this get a non-2xx answer in one alignment period
    (queue/task_attempt_count), at least 1. Default: 10."""
    failing_attempts_duration_seconds: int = defaults.FAILING_ATTEMPTS_DURATION_SECONDS
    """...for this long, 0 to 86400, whole minutes. Default: 300."""
    dispatch_lag_threshold_seconds: float = defaults.DISPATCH_LAG_THRESHOLD_SECONDS
    """Alert when the 99th percentile of the delay between a task's scheduled and actual
    attempt is above this (queue/task_attempt_delays), greater than 0. Default: 300."""
    dispatch_lag_duration_seconds: int = defaults.DISPATCH_LAG_DURATION_SECONDS
    """...for this long, 0 to 86400, whole minutes. Default: 600."""
    dead_letter_threshold: int = defaults.DEAD_LETTER_ALERT_THRESHOLD
    """Alert when more dead letters than this are logged in one alignment period, at
    least 0. Default: 0 (any dead letter)."""
    dead_letter_duration_seconds: int = defaults.DEAD_LETTER_ALERT_DURATION_SECONDS
    """...for this long, 0 to 86400, whole minutes. Default: 0 (at once)."""

    def __post_init__(self) -> None:
        if isinstance(self.notification_channels, (str, bytes)):
            raise ConfigurationError("notification_channels", "a list of channel names",
                                     self.notification_channels)
        channels = check_strings("notification_channels", self.notification_channels)
        for index, channel in enumerate(channels):
            check_string(f"notification_channels[{index}]", channel,
                         pattern=NOTIFICATION_CHANNEL, allowed=NOTIFICATION_CHANNEL_TEXT)
        object.__setattr__(self, "notification_channels", tuple(dict.fromkeys(channels)))
        check_bool("enabled", self.enabled)
        if self.enabled and not channels:
            raise ConfigurationError(
                "notification_channels", "at least one channel when alerts are enabled "
                "(an alert nobody receives is not an alert)", list(channels))
        check_choice("severity", self.severity, ALERT_SEVERITIES)
        _check_alert_seconds("alignment_period_seconds", self.alignment_period_seconds,
                             minimum=60)
        check_number("backlog_threshold", self.backlog_threshold, minimum=1,
                     maximum=INT32_MAX, integer=True)
        check_number("failing_attempts_threshold", self.failing_attempts_threshold,
                     minimum=1, maximum=INT32_MAX, integer=True)
        check_number("dispatch_lag_threshold_seconds", self.dispatch_lag_threshold_seconds,
                     minimum=0, min_exclusive=True, maximum=MAX_DURATION_SECONDS)
        check_number("dead_letter_threshold", self.dead_letter_threshold, minimum=0,
                     maximum=INT32_MAX, integer=True)
        for name in ("backlog_duration_seconds", "failing_attempts_duration_seconds",
                     "dispatch_lag_duration_seconds", "dead_letter_duration_seconds"):
            _check_alert_seconds(name, getattr(self, name), minimum=0)
