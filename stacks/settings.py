"""Environment settings, read from ``environments.toml`` (data, not code).

Constructs never see an environment's name: a stack turns one
:class:`EnvironmentSettings` into construct keywords, and that is all that differs
between dev and prod.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from constructs_lib import defaults
from constructs_lib.validation import ConfigurationError, check_string

ENVIRONMENTS_FILE = Path(__file__).with_name("environments.toml")
ENVIRONMENTS_FILE_ENV = "TASKS_ENVIRONMENTS_FILE"  # another environments file, e.g. per team
STACK_NAME = r"[a-z][a-z0-9-]{0,30}"


@dataclass(frozen=True)
class EnvironmentSettings:
    """What one environment's stack deploys. Unset fields take the library defaults."""

    name: str
    service_name: str
    queue_name: str | None = None
    deletion_protection: bool = defaults.DELETION_PROTECTION
    min_instance_count: int = defaults.MIN_INSTANCE_COUNT
    max_instance_count: int = defaults.MAX_INSTANCE_COUNT
    max_concurrency: int = defaults.MAX_CONCURRENCY
    timeout_seconds: int = defaults.TIMEOUT_SECONDS
    dispatch_deadline_seconds: int = defaults.DISPATCH_DEADLINE_SECONDS
    max_dispatches_per_second: float = defaults.MAX_DISPATCHES_PER_SECOND
    max_concurrent_dispatches: int = defaults.MAX_CONCURRENT_DISPATCHES
    max_attempts: int = defaults.MAX_ATTEMPTS
    min_backoff_seconds: float = defaults.MIN_BACKOFF_SECONDS
    max_backoff_seconds: float = defaults.MAX_BACKOFF_SECONDS
    max_doublings: int = defaults.MAX_DOUBLINGS
    max_retry_duration_seconds: float = defaults.MAX_RETRY_DURATION_SECONDS
    log_sampling_ratio: float = defaults.LOG_SAMPLING_RATIO
    queue_name_suffix: bool = defaults.QUEUE_NAME_SUFFIX
    cpu: str = defaults.CPU
    memory: str = defaults.MEMORY
    enqueuers: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)

    def service_options(self) -> dict[str, Any]:
        """Keywords for :class:`constructs_lib.WorkerService` (through the pattern)."""
        return {**self._pick(SERVICE_KEYS), "labels": dict(self.labels)}

    def queue_options(self) -> dict[str, Any]:
        """Keywords for :class:`constructs_lib.TaskQueue` (through the pattern)."""
        return {**self._pick(QUEUE_KEYS), "name_suffix": self.queue_name_suffix}

    def _pick(self, keys: tuple[str, ...]) -> dict[str, Any]:
        return {key: getattr(self, key) for key in keys}


# Which settings go to which construct (the rest: names, deadline, enqueuers, labels).
SERVICE_KEYS = ("deletion_protection", "min_instance_count", "max_instance_count",
                "max_concurrency", "timeout_seconds", "cpu", "memory")
QUEUE_KEYS = ("max_dispatches_per_second", "max_concurrent_dispatches", "max_attempts",
              "min_backoff_seconds", "max_backoff_seconds", "max_doublings",
              "max_retry_duration_seconds", "log_sampling_ratio")


def parse_environments(data: Mapping[str, Any]) -> dict[str, EnvironmentSettings]:
    """Turn the parsed TOML into settings; unknown keys are errors, not silently ignored."""
    if not data:
        raise ConfigurationError("environments", "at least one [environment] table", data)
    known = {f.name for f in dataclasses.fields(EnvironmentSettings)} - {"name"}
    environments = {}
    for env_name, table in data.items():
        check_string("environment name", env_name, pattern=STACK_NAME,
                     allowed="a stack name: a lowercase letter, then up to 30 lowercase "
                             "letters, digits or hyphens")
        if not isinstance(table, Mapping):
            raise ConfigurationError(f"[{env_name}]", "a table of settings", table)
        for key in table:
            if key not in known:
                raise ConfigurationError(f"[{env_name}] key", "one of " + ", ".join(sorted(known)),
                                         key)
        values = dict(table)
        if "enqueuers" in values:
            members = values["enqueuers"]
            if isinstance(members, str) or not isinstance(members, list):
                raise ConfigurationError(f"[{env_name}] enqueuers", "a list of IAM members",
                                         members)
            values["enqueuers"] = tuple(members)
        if "service_name" not in values:
            raise ConfigurationError(f"[{env_name}] service_name", "set", None)
        environments[env_name] = EnvironmentSettings(name=env_name, **values)
    return environments


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
