"""Environment settings, read from ``environments.toml`` (data, not code).

Constructs never see an environment's name: a stack turns one
:class:`EnvironmentSettings` into construct keywords, and that is all that differs
between dev and prod. An environment's table holds its target (``project``, ``region``,
``image``; the environment variables are the fallback), the pattern's own settings, and
sub-tables ``[<env>.service]``, ``[<env>.queue]``, ``[<env>.dead_letters]``,
``[<env>.task_names]`` and ``[<env>.alerts]``, which are
:class:`~constructs_lib.ServiceOptions`, :class:`~constructs_lib.QueueOptions`,
:class:`~constructs_lib.DeadLetterOptions`, :class:`~constructs_lib.TaskNameStoreOptions`
and :class:`~constructs_lib.AlertOptions` keyword for keyword.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from constructs_lib import (
    AlertOptions,
    DeadLetterOptions,
    JobOptions,
    QueueOptions,
    ServiceOptions,
    TaskNameStoreOptions,
    defaults,
)
from constructs_lib.buckets import check_bucket_name
from constructs_lib.validation import (
    LOCATION,
    LOCATION_TEXT,
    PROJECT_ID,
    PROJECT_ID_TEXT,
    QUEUE_ID,
    QUEUE_ID_TEXT,
    ConfigurationError,
    check_bool,
    check_members,
    check_non_empty,
    check_number,
    check_string,
)

ENVIRONMENTS_FILE = Path(__file__).with_name("environments.toml")
ENVIRONMENTS_FILE_ENV = "TASKS_ENVIRONMENTS_FILE"  # another environments file, e.g. per team
STACK_NAME = r"[a-z][a-z0-9-]{0,30}"
STACK_NAME_TEXT = ("a stack name: a lowercase letter, then up to 30 lowercase letters, "
                   "digits or hyphens")


@dataclass(frozen=True, kw_only=True)
class JobSettings:
    """A Cloud Run job next to (or instead of) the worker: ``[<env>.job]`` with its
    ``[<env>.job.options]`` (JobOptions) and ``[<env>.job.queue]`` (QueueOptions)."""

    name: str
    queue_name: str | None = None
    image: str | None = None
    """Default: the environment's image (the sample worker's image runs jobs too)."""
    options: JobOptions = field(default_factory=JobOptions)
    queue: QueueOptions = field(default_factory=QueueOptions)


@dataclass(frozen=True, kw_only=True)
class EnvironmentSettings:
    """What one environment's stack deploys. Unset fields take the library defaults."""

    name: str
    service_name: str | None = None
    """The worker service (and pattern) name; leave out for a job-only environment."""
    queue_name: str | None = None
    project: str | None = None
    """This environment's project. Default: ``$GOOGLE_CLOUD_PROJECT``."""
    region: str | None = None
    """Default: ``$GOOGLE_CLOUD_REGION``, else us-central1."""
    image: str | None = None
    """Default: ``$WORKER_IMAGE``, else the placeholder (refused where deletion protection
    is on, unless ``allow_placeholder_image``)."""
    allow_placeholder_image: bool = False
    dispatch_deadline_seconds: int = defaults.DISPATCH_DEADLINE_SECONDS
    enqueuers: tuple[str, ...] = ()
    service: ServiceOptions = field(default_factory=ServiceOptions)
    queue: QueueOptions = field(default_factory=QueueOptions)
    job: JobSettings | None = None
    dead_letters: DeadLetterOptions | None = None
    """``[<env>.dead_letters]``. Default: the library's store (a private bucket)."""
    dead_letter_bucket: str | None = None
    """An existing bucket for dead letters instead (not with ``[<env>.dead_letters]``)."""
    task_names: TaskNameStoreOptions | None = None
    """``[<env>.task_names]``. Default: the library's store."""
    task_name_bucket: str | None = None
    """An existing bucket for task names instead (not with ``[<env>.task_names]``)."""
    alerts: AlertOptions = field(default_factory=AlertOptions)
    """``[<env>.alerts]``. Default: off (alerts need notification channels)."""

    def __post_init__(self) -> None:
        where = f"[{self.name}]"
        for key in ("dead_letter_bucket", "task_name_bucket"):
            if getattr(self, key) is not None:
                check_bucket_name(f"{where} {key}", getattr(self, key))
        if self.service_name is None and self.job is None:
            raise ConfigurationError(f"{where} service_name",
                                     f"set (or a [{self.name}.job] table)", None)
        if self.queue_name is not None:
            check_string(f"{where} queue_name", self.queue_name, pattern=QUEUE_ID,
                         allowed=QUEUE_ID_TEXT)
        if self.project is not None:
            check_string(f"{where} project", self.project, pattern=PROJECT_ID,
                         allowed=PROJECT_ID_TEXT)
        if self.region is not None:
            check_string(f"{where} region", self.region, pattern=LOCATION,
                         allowed=LOCATION_TEXT)
        if self.image is not None:
            check_non_empty(f"{where} image", self.image)
        check_bool(f"{where} allow_placeholder_image", self.allow_placeholder_image)
        check_number(f"{where} dispatch_deadline_seconds", self.dispatch_deadline_seconds,
                     minimum=15, maximum=1800, integer=True)
        check_members(f"{where} enqueuers", self.enqueuers)


_TOP_LEVEL = ("service_name", "queue_name", "project", "region", "image",
              "allow_placeholder_image", "dispatch_deadline_seconds", "enqueuers",
              "service", "queue", "job", "dead_letters", "dead_letter_bucket", "task_names",
              "task_name_bucket", "alerts")
_JOB_KEYS = ("name", "queue_name", "image", "options", "queue")


def parse_environments(data: Mapping[str, Any]) -> dict[str, EnvironmentSettings]:
    """Turn the parsed TOML into settings; unknown keys are errors, not silently ignored."""
    if not data:
        raise ConfigurationError("environments", "at least one [environment] table", data)
    environments = {}
    for env_name, table in data.items():
        check_string("environment name", env_name, pattern=STACK_NAME, allowed=STACK_NAME_TEXT)
        if not isinstance(table, Mapping):
            raise ConfigurationError(f"[{env_name}]", "a table of settings", table)
        for key in table:
            if key not in _TOP_LEVEL:
                raise ConfigurationError(f"[{env_name}] key", "one of " + ", ".join(_TOP_LEVEL)
                                         + f" (service settings go in [{env_name}.service], "
                                         f"queue settings in [{env_name}.queue])", key)
        if "service_name" not in table and "job" not in table:
            raise ConfigurationError(f"[{env_name}] service_name",
                                     f"set (or a [{env_name}.job] table)", None)
        values = dict(table)
        if "job" in values:
            values["job"] = _job(env_name, values["job"])
        members = values.get("enqueuers", [])
        if isinstance(members, str) or not isinstance(members, list):
            raise ConfigurationError(f"[{env_name}] enqueuers", "a list of IAM members",
                                     members)
        values["enqueuers"] = tuple(members)
        values["service"] = ServiceOptions.from_mapping(values.get("service", {}),
                                                        where=f"[{env_name}.service]")
        values["queue"] = QueueOptions.from_mapping(values.get("queue", {}),
                                                    where=f"[{env_name}.queue]")
        for key, kind in (("dead_letters", DeadLetterOptions),
                          ("task_names", TaskNameStoreOptions), ("alerts", AlertOptions)):
            if key in values:
                values[key] = kind.from_mapping(values[key], where=f"[{env_name}.{key}]")
        environments[env_name] = EnvironmentSettings(name=env_name, **values)
    return environments


def _job(env_name: str, table: Any) -> JobSettings:
    where = f"[{env_name}.job]"
    if not isinstance(table, Mapping):
        raise ConfigurationError(where, "a table of settings", table)
    for key in table:
        if key not in _JOB_KEYS:
            raise ConfigurationError(f"{where} key", "one of " + ", ".join(_JOB_KEYS), key)
    if "name" not in table:
        raise ConfigurationError(f"{where} name", "set", None)
    check_string(f"{where} name", table["name"], pattern=r".+", allowed="a job name")
    if table.get("queue_name") is not None:
        check_string(f"{where} queue_name", table["queue_name"], pattern=QUEUE_ID,
                     allowed=QUEUE_ID_TEXT)
    if table.get("image") is not None:
        check_non_empty(f"{where} image", table["image"])
    return JobSettings(
        name=table["name"], queue_name=table.get("queue_name"), image=table.get("image"),
        options=JobOptions.from_mapping(table.get("options", {}),
                                        where=f"[{env_name}.job.options]"),
        queue=QueueOptions.from_mapping(table.get("queue", {}), where=f"[{env_name}.job.queue]"))


def load_environments(path: Path | None = None) -> dict[str, EnvironmentSettings]:
    """Read and check the environments file: ``path``, else ``$TASKS_ENVIRONMENTS_FILE``,
    else ``stacks/environments.toml``."""
    path = Path(path or os.environ.get(ENVIRONMENTS_FILE_ENV) or ENVIRONMENTS_FILE)
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except OSError as error:
        raise ConfigurationError(ENVIRONMENTS_FILE_ENV, "a readable TOML file",
                                 f"{path} ({error.strerror})") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigurationError(str(path), "valid TOML", f"a file with {error}") from None
    return parse_environments(data)
