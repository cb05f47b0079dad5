"""WorkerService: the private Cloud Run v2 service that processes tasks."""

from __future__ import annotations

from collections.abc import Sequence

from constructs import Construct

from . import defaults
from ._framework import (
    CloudRunV2Service,
    CloudRunV2ServiceIamMember,
    CloudRunV2ServiceTemplate,
    CloudRunV2ServiceTemplateContainers,
    CloudRunV2ServiceTemplateContainersEnv,
    CloudRunV2ServiceTemplateContainersEnvValueSource,
    CloudRunV2ServiceTemplateContainersEnvValueSourceSecretKeyRef,
    CloudRunV2ServiceTemplateContainersPorts,
    CloudRunV2ServiceTemplateContainersResources,
    CloudRunV2ServiceTemplateContainersStartupProbe,
    CloudRunV2ServiceTemplateContainersStartupProbeHttpGet,
    CloudRunV2ServiceTemplateScaling,
    ITerraformDependable,
    ServiceAccount,
    TerraformResourceLifecycle,
    newer_provider_fields,
)
from .ids import fitted_id, member_identity, stable_id
from .options import ServiceOptions, StartupProbe, check_audiences
from .policy import PolicyCheck
from .runtime import check_runtime_account, grant_secret_access
from .service_account import ServiceAccountLike
from .validation import (
    CLOUD_RUN_NAME,
    CLOUD_RUN_NAME_TEXT,
    LOCATION,
    LOCATION_TEXT,
    ConfigurationError,
    check_member,
    check_non_empty,
    check_optional_project,
    check_string,
    check_strings,
    is_token,
)

INVOKER_ROLE = "roles/run.invoker"
# What gcloud run deploy sets besides the image; ignored with the image when a pipeline
# owns it, so a plan after a CI deploy shows no change.
PIPELINE_FIELDS = ("template[0].containers[0].image", "client", "client_version")


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
        options: ServiceOptions | None = None,
        service_account: ServiceAccountLike | None = None,
        runtime_account_id: str | None = None,
        custom_audiences: Sequence[str] = (),
        project: str | None = None,
        depends_on: Sequence[ITerraformDependable] = (),
    ) -> None:
        """
        :param name: service name, 1 to 49 characters (``[a-z]([-a-z0-9]*[a-z0-9])?``).
        :param location: region. Default: ``us-central1``.
        :param image: container image. Default: Google's public ``hello`` sample image.
        :param options: how it runs (:class:`ServiceOptions`). Default: ``ServiceOptions()``.
        :param service_account: run as this account, created elsewhere or imported
            (``InvokerServiceAccount.from_email``). Default: a dedicated account created here.
        :param runtime_account_id: id of the dedicated account. Default: the service name
            plus ``-run``; a name too long for that is cut and tagged with a hash of the whole
            name (``<cut name>-<hash6>-run``). Only without ``service_account``.
        :param custom_audiences: extra audiences Cloud Run accepts in ID tokens. Default: none.
        :param project: project. Default: the provider's project.
        :param depends_on: resources to create first (such as the APIs). Default: none.
        """
        options = ServiceOptions() if options is None else options
        audiences = check_worker_service_arguments(
            name=name, location=location, image=image, options=options,
            service_account=service_account, runtime_account_id=runtime_account_id,
            custom_audiences=custom_audiences, project=project)
        super().__init__(scope, id_)
        self.location = location
        self.options = options
        self.timeout_seconds = options.timeout_seconds
        self.runtime_account: ServiceAccount | None = None
        if service_account is None:
            self.runtime_account = ServiceAccount(
                self,
                "runtime-account",
                account_id=runtime_account_id or runtime_account_id_for(name),
                display_name=f"Cloud Run runtime for {name}",
                project=project,
                depends_on=list(depends_on) or None,
                **newer_provider_fields(deletion_policy=defaults.DELETION_POLICY),
            )
            email, member = self.runtime_account.email, self.runtime_account.member
        else:
            email, member = service_account.email, service_account.member
        self._service_account_email = email
        self.secret_access = grant_secret_access(self, options.secret_env, member, project)

        self.resource = CloudRunV2Service(
            self,
            "service",
            name=name,
            location=location,
            project=project,
            ingress=options.ingress,
            deletion_protection=options.deletion_protection,
            **newer_provider_fields(deletion_policy=defaults.DELETION_POLICY,
                                    default_uri_disabled=defaults.DEFAULT_URI_DISABLED,
                                    iap_enabled=defaults.IAP_ENABLED),
            labels=dict(options.labels) or None,
            custom_audiences=audiences or None,
            # The revision reads its secrets at start: their grants come first.
            depends_on=[*depends_on, *self.secret_access] or None,
            lifecycle=TerraformResourceLifecycle(ignore_changes=list(PIPELINE_FIELDS))
            if options.image_managed_externally else None,
            template=CloudRunV2ServiceTemplate(
                service_account=email,
                # whole seconds, as the API returns them ("600.0s" would diff forever)
                timeout=_seconds(options.timeout_seconds),
                max_instance_request_concurrency=options.max_concurrency,
                scaling=CloudRunV2ServiceTemplateScaling(
                    min_instance_count=options.min_instance_count,
                    max_instance_count=options.max_instance_count,
                ),
                containers=[
                    CloudRunV2ServiceTemplateContainers(
                        image=image,
                        ports=CloudRunV2ServiceTemplateContainersPorts(
                            container_port=options.container_port
                        ),
                        resources=CloudRunV2ServiceTemplateContainersResources(
                            limits={"cpu": options.cpu, "memory": options.memory},
                            cpu_idle=True,
                        ),
                        env=_env(options) or None,
                        startup_probe=_probe(options.startup_probe, options.container_port),
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


def check_worker_service_arguments(
    *, name: str, location: str = defaults.LOCATION, image: str = defaults.IMAGE,
    options: ServiceOptions | None = None, service_account: ServiceAccountLike | None = None,
    runtime_account_id: str | None = None, custom_audiences: Sequence[str] = (),
    project: str | None = None,
) -> list[str]:
    """Validate :class:`WorkerService` keywords without declaring anything, so a composing
    construct can fail before its first resource. Returns the audiences to write."""
    check_optional_project("project", project)
    check_string("name", name, pattern=CLOUD_RUN_NAME, allowed=CLOUD_RUN_NAME_TEXT)
    check_string("location", location, pattern=LOCATION, allowed=LOCATION_TEXT)
    check_non_empty("image", image)
    if options is not None and not isinstance(options, ServiceOptions):
        raise ConfigurationError("options", "a ServiceOptions", options)
    audiences = list(dict.fromkeys(check_strings("custom_audiences", custom_audiences)))
    check_audiences(audiences)
    check_runtime_account(service_account, runtime_account_id, runtime_account_id_for(name))
    return audiences


def runtime_account_id_for(service_name: str) -> str:
    """Account id of the dedicated runtime account: ``<name>-run``; a name too long for
    that is cut and tagged with a hash of the whole name; a name too short is padded."""
    suffix = defaults.RUNTIME_ACCOUNT_SUFFIX
    if len(service_name) + len(suffix) < 6:
        return f"{service_name}-worker{suffix}"
    return fitted_id(service_name, suffix)


def _seconds(value: int) -> str:
    return f"{value}s" if is_token(value) else f"{int(value)}s"


def _env(options: ServiceOptions) -> list[CloudRunV2ServiceTemplateContainersEnv]:
    plain = [CloudRunV2ServiceTemplateContainersEnv(name=key, value=value)
             for key, value in options.env.items()]
    secret = [CloudRunV2ServiceTemplateContainersEnv(
        name=key,
        value_source=CloudRunV2ServiceTemplateContainersEnvValueSource(
            secret_key_ref=CloudRunV2ServiceTemplateContainersEnvValueSourceSecretKeyRef(
                secret=ref.secret, version=ref.version)))
        for key, ref in options.secret_env.items()]
    return sorted([*plain, *secret], key=lambda env: env.name)


def _probe(probe: StartupProbe | None,
           port: int) -> CloudRunV2ServiceTemplateContainersStartupProbe | None:
    if probe is None:
        return None
    return CloudRunV2ServiceTemplateContainersStartupProbe(
        http_get=CloudRunV2ServiceTemplateContainersStartupProbeHttpGet(path=probe.path,
                                                                        port=port),
        initial_delay_seconds=probe.initial_delay_seconds,
        period_seconds=probe.period_seconds,
        timeout_seconds=probe.timeout_seconds,
        failure_threshold=probe.failure_threshold,
    )
