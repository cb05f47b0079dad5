"""WorkerService: the private Cloud Run v2 service that processes tasks."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from cdktf import ITerraformDependable
from cdktf_cdktf_provider_google.cloud_run_v2_service import (
    CloudRunV2Service,
    CloudRunV2ServiceTemplate,
    CloudRunV2ServiceTemplateContainers,
    CloudRunV2ServiceTemplateContainersEnv,
    CloudRunV2ServiceTemplateContainersPorts,
    CloudRunV2ServiceTemplateContainersResources,
    CloudRunV2ServiceTemplateScaling,
)
from cdktf_cdktf_provider_google.cloud_run_v2_service_iam_member import (
    CloudRunV2ServiceIamMember,
)
from cdktf_cdktf_provider_google.service_account import ServiceAccount
from constructs import Construct

from . import defaults, limits
from .ids import fitted_id, member_identity, stable_id
from .policy import PolicyCheck
from .validation import (
    ACCOUNT_ID,
    ACCOUNT_ID_TEXT,
    CLOUD_RUN_NAME,
    CLOUD_RUN_NAME_TEXT,
    ENV_NAME,
    ENV_NAME_TEXT,
    INT32_MAX,
    LOCATION,
    LOCATION_TEXT,
    ConfigurationError,
    check_bool,
    check_choice,
    check_email,
    check_labels,
    check_member,
    check_non_empty,
    check_number,
    check_optional_project,
    check_string,
    check_string_map,
    check_strings,
    check_utf8_bytes,
    is_token,
    keyword_arguments,
)

INVOKER_ROLE = "roles/run.invoker"
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


class WorkerService(Construct):
    """One ``google_cloud_run_v2_service``, private by default.

    Runs as a dedicated runtime service account (created here unless one is given; never
    the default compute account) with no project roles. Nobody can call it until
    :meth:`grant_invoke` is used.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        name: str,
        location: str = defaults.LOCATION,
        image: str = defaults.IMAGE,
        timeout_seconds: int = defaults.TIMEOUT_SECONDS,
        min_instance_count: int = defaults.MIN_INSTANCE_COUNT,
        max_instance_count: int = defaults.MAX_INSTANCE_COUNT,
        max_concurrency: int = defaults.MAX_CONCURRENCY,
        cpu: str = defaults.CPU,
        memory: str = defaults.MEMORY,
        env: Mapping[str, str] | None = None,
        ingress: str = defaults.INGRESS,
        deletion_protection: bool = defaults.DELETION_PROTECTION,
        labels: Mapping[str, str] | None = None,
        service_account_email: str | None = None,
        runtime_account_id: str | None = None,
        custom_audiences: Sequence[str] = (),
        container_port: int = defaults.CONTAINER_PORT,
        project: str | None = None,
        depends_on: Sequence[ITerraformDependable] = (),
    ) -> None:
        """
        :param name: service name, 1 to 49 characters (``[a-z]([-a-z0-9]*[a-z0-9])?``).
        :param location: region. Default: ``us-central1``.
        :param image: container image. Default: Google's public ``hello`` sample image.
        :param timeout_seconds: request timeout, 1 to 3600. Default: 600.
        :param min_instance_count: instances kept warm. Default: 0.
        :param max_instance_count: upper bound on instances. Default: 10.
        :param max_concurrency: requests per instance, 1 to 1000. Default: 80.
        :param cpu: CPU limit, one of 1, 2, 4, 8. Default: ``"1"``.
        :param memory: memory limit such as ``512Mi``. Default: ``"512Mi"``.
        :param env: plain environment variables. Default: none.
        :param ingress: who may reach the URL. Default: ``INGRESS_TRAFFIC_INTERNAL_ONLY``
            (Cloud Tasks in the same project still reaches the run.app URL).
        :param deletion_protection: block ``terraform destroy``. Default: True. Always
            written explicitly (the provider's implicit true surprises people).
        :param labels: resource labels. Default: none.
        :param service_account_email: run as this existing account. Default: a dedicated
            account created here.
        :param runtime_account_id: account id of the dedicated account. Default: the service
            name plus ``-run``; a name too long for that is cut and a hash of the whole name
            added (``<cut name>-<hash6>-run``).
        :param custom_audiences: extra audiences Cloud Run accepts in ID tokens. Default: none.
        :param container_port: port the container listens on ($PORT). Default: 8080.
        :param project: project. Default: the provider's project.
        :param depends_on: resources to create first (such as the APIs). Default: none.
        """
        check_optional_project("project", project)
        env = dict(env) if isinstance(env, Mapping) else ({} if env is None else env)
        labels = dict(labels) if isinstance(labels, Mapping) else ({} if labels is None else labels)
        audiences = _unique(check_strings("custom_audiences", custom_audiences))
        _validate(
            name=name, location=location, image=image, timeout_seconds=timeout_seconds,
            min_instance_count=min_instance_count, max_instance_count=max_instance_count,
            max_concurrency=max_concurrency, cpu=cpu, memory=memory, env=env, ingress=ingress,
            deletion_protection=deletion_protection, labels=labels,
            service_account_email=service_account_email, custom_audiences=audiences,
            container_port=container_port,
        )
        account_id = runtime_account_id or runtime_account_id_for(name)
        if service_account_email is None:
            check_string("runtime_account_id", account_id, pattern=ACCOUNT_ID,
                         allowed=ACCOUNT_ID_TEXT)
        super().__init__(scope, id_)
        self.location = location
        self.timeout_seconds = timeout_seconds
        self.runtime_account: ServiceAccount | None = None
        if service_account_email is None:
            self.runtime_account = ServiceAccount(
                self,
                "runtime-account",
                account_id=account_id,
                display_name=f"Cloud Run runtime for {name}",
                project=project,
                depends_on=list(depends_on) or None,
            )
            service_account_email = self.runtime_account.email
        self._service_account_email = service_account_email

        self.resource = CloudRunV2Service(
            self,
            "service",
            name=name,
            location=location,
            project=project,
            ingress=ingress,
            deletion_protection=deletion_protection,
            labels=labels or None,
            custom_audiences=list(audiences) or None,
            depends_on=list(depends_on) or None,
            template=CloudRunV2ServiceTemplate(
                service_account=service_account_email,
                # whole seconds, as the API returns them ("600.0s" would diff forever)
                timeout=f"{timeout_seconds}s" if is_token(timeout_seconds)
                else f"{int(timeout_seconds)}s",
                max_instance_request_concurrency=max_concurrency,
                scaling=CloudRunV2ServiceTemplateScaling(
                    min_instance_count=min_instance_count,
                    max_instance_count=max_instance_count,
                ),
                containers=[
                    CloudRunV2ServiceTemplateContainers(
                        image=image,
                        ports=CloudRunV2ServiceTemplateContainersPorts(
                            container_port=container_port
                        ),
                        resources=CloudRunV2ServiceTemplateContainersResources(
                            limits={"cpu": cpu, "memory": memory},
                            cpu_idle=True,
                        ),
                        env=[
                            CloudRunV2ServiceTemplateContainersEnv(name=key, value=value)
                            for key, value in sorted(env.items())
                        ] or None,
                    )
                ],
            ),
        )
        self._invokers: dict[str, CloudRunV2ServiceIamMember] = {}
        PolicyCheck.apply_to(self)  # every stack using the library is checked at synth

    @property
    def name(self) -> str:
        """The service name."""
        return self.resource.name

    @property
    def uri(self) -> str:
        """The service's https://...run.app URL (a token until apply)."""
        return self.resource.uri

    @property
    def service_account_email(self) -> str:
        """E-mail of the account the service runs as."""
        return self._service_account_email

    def grant_invoke(self, member: str) -> CloudRunV2ServiceIamMember:
        """Let ``member`` call this service (``roles/run.invoker`` on this service only,
        additive ``google_cloud_run_v2_service_iam_member``)."""
        check_member("member", member)
        key = member_identity(self, member)
        if key not in self._invokers:
            # The id is derived from role and member: other grants keep their addresses.
            self._invokers[key] = CloudRunV2ServiceIamMember(
                self,
                stable_id(self, "invoker", INVOKER_ROLE, key),
                name=self.resource.name,
                location=self.resource.location,
                project=self.resource.project,
                role=INVOKER_ROLE,
                member=member,
            )
        return self._invokers[key]


def check_worker_service_arguments(**kwargs: Any) -> None:
    """Validate :class:`WorkerService` keywords without declaring anything (defaults
    filled in), so a composing construct can fail before its first resource."""
    arguments = keyword_arguments(WorkerService.__init__, kwargs)
    check_optional_project("project", arguments.pop("project"))
    arguments.pop("depends_on")
    runtime_account_id = arguments.pop("runtime_account_id")
    for mapping in ("env", "labels"):
        value = arguments[mapping]
        arguments[mapping] = dict(value) if isinstance(value, Mapping) else (
            {} if value is None else value)
    arguments["custom_audiences"] = check_strings("custom_audiences",
                                                  arguments["custom_audiences"])
    _validate(**arguments)
    if arguments["service_account_email"] is None:
        check_string("runtime_account_id",
                     runtime_account_id or runtime_account_id_for(arguments["name"]),
                     pattern=ACCOUNT_ID, allowed=ACCOUNT_ID_TEXT)


def runtime_account_id_for(service_name: str) -> str:
    """Account id of the dedicated runtime account: ``<name>-run``; a name too long for
    that is cut and tagged with a hash of the whole name; a name too short is padded."""
    suffix = defaults.RUNTIME_ACCOUNT_SUFFIX
    if len(service_name) + len(suffix) < 6:
        return f"{service_name}-worker{suffix}"
    return fitted_id(service_name, suffix)


def _validate(*, name, location, image, timeout_seconds, min_instance_count,
              max_instance_count, max_concurrency, cpu, memory, env, ingress,
              deletion_protection, labels, service_account_email, custom_audiences,
              container_port) -> None:
    check_string("name", name, pattern=CLOUD_RUN_NAME, allowed=CLOUD_RUN_NAME_TEXT)
    check_string("location", location, pattern=LOCATION, allowed=LOCATION_TEXT)
    check_non_empty("image", image)
    check_number("timeout_seconds", timeout_seconds, minimum=1, maximum=3600, integer=True)
    # No ceiling of our own: Cloud Run's real one is the project's quota.
    check_number("min_instance_count", min_instance_count, minimum=0, maximum=INT32_MAX,
                 integer=True)
    check_number("max_instance_count", max_instance_count, minimum=1, maximum=INT32_MAX,
                 integer=True)
    if (not is_token(min_instance_count) and not is_token(max_instance_count)
            and min_instance_count > max_instance_count):
        raise ConfigurationError(
            "min_instance_count", f"at most max_instance_count ({max_instance_count})",
            min_instance_count,
        )
    check_number("max_concurrency", max_concurrency, minimum=1, maximum=1000, integer=True)
    check_choice("cpu", cpu, CPU_VALUES)
    check_string("memory", memory, pattern=MEMORY_PATTERN, allowed=MEMORY_TEXT)
    if not is_token(memory) and not is_token(cpu):
        mebibytes = int(memory[:-2]) * (1024 if memory.endswith("Gi") else 1)
        low, high = CPU_MEMORY_MIB[cpu]
        if not low <= mebibytes <= high:
            raise ConfigurationError(
                "memory", f"between {low}Mi and {high}Mi with cpu {cpu!r}", memory)
    check_string_map("env", env, key_pattern=ENV_NAME, key_allowed=ENV_NAME_TEXT)
    _check_env_limits(env)
    if len(json.dumps(list(custom_audiences))) > limits.CUSTOM_AUDIENCES_MAX_JSON_CHARS:
        raise ConfigurationError(
            "custom_audiences", f"a list of at most {limits.CUSTOM_AUDIENCES_MAX_JSON_CHARS} "
            "characters as JSON", f"{len(custom_audiences)} audiences")
    check_choice("ingress", ingress, INGRESS_SETTINGS)
    check_bool("deletion_protection", deletion_protection)
    check_labels("labels", labels, max_count=limits.MAX_LABELS,
                 max_chars=limits.LABEL_MAX_CHARS)
    if service_account_email is not None:
        check_email("service_account_email", service_account_email)
        if not is_token(service_account_email) and service_account_email.endswith(
            "-compute@developer.gserviceaccount.com"
        ):
            raise ConfigurationError(
                "service_account_email",
                "a dedicated service account, not the default compute account",
                service_account_email,
            )
    check_number("container_port", container_port, minimum=1, maximum=65535, integer=True)


def _check_env_limits(env: Mapping[str, str]) -> None:
    """Cloud Run's own limits on environment variables (see :mod:`constructs_lib.limits`)."""
    if len(env) > limits.MAX_ENV_VARS:
        raise ConfigurationError("env", f"at most {limits.MAX_ENV_VARS} variables",
                                 f"{len(env)} variables")
    for key, value in env.items():
        if key in limits.RESERVED_ENV_NAMES:
            raise ConfigurationError(
                "env key", "a name Cloud Run does not reserve (it sets "
                + ", ".join(sorted(limits.RESERVED_ENV_NAMES)) + " itself)", key)
        if len(key) > limits.ENV_NAME_MAX_CHARS:
            raise ConfigurationError("env key", f"at most {limits.ENV_NAME_MAX_CHARS} "
                                     "characters", f"{key[:40]}... ({len(key)} characters)")
        check_utf8_bytes(f"env[{key!r}]", value, maximum=limits.ENV_VALUE_MAX_BYTES)


def _unique(values: Sequence[str]) -> list[str]:
    """Each value once, in first-seen order (a list the provider compares by position)."""
    return list(dict.fromkeys(values))
