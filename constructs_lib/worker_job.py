"""WorkerJob: a Cloud Run v2 job, for work longer than a task's dispatch deadline."""

from __future__ import annotations

from collections.abc import Sequence

from constructs import Construct

from . import defaults
from ._framework import (
    CloudRunV2Job,
    CloudRunV2JobIamMember,
    CloudRunV2JobTemplate,
    CloudRunV2JobTemplateTemplate,
    CloudRunV2JobTemplateTemplateContainers,
    CloudRunV2JobTemplateTemplateContainersEnv,
    CloudRunV2JobTemplateTemplateContainersEnvValueSource,
    CloudRunV2JobTemplateTemplateContainersEnvValueSourceSecretKeyRef,
    CloudRunV2JobTemplateTemplateContainersResources,
    ITerraformDependable,
    ServiceAccount,
    newer_provider_fields,
)
from .ids import fitted_id, member_identity, stable_id
from .options import JobOptions
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
    is_token,
)


class WorkerJob(Construct):
    """One ``google_cloud_run_v2_job`` running as a dedicated account (created here unless
    one is given; never the default compute account). Nobody can start it until
    :meth:`grant_run` is used."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        name: str,
        location: str = defaults.LOCATION,
        image: str = defaults.IMAGE,
        options: JobOptions | None = None,
        service_account: ServiceAccountLike | None = None,
        runtime_account_id: str | None = None,
        project: str | None = None,
        depends_on: Sequence[ITerraformDependable] = (),
    ) -> None:
        """
        :param name: job name, 1 to 49 characters (``[a-z]([-a-z0-9]*[a-z0-9])?``).
        :param location: region. Default: ``us-central1``.
        :param image: container image. Default: Google's public ``hello`` sample image.
        :param options: how it runs (:class:`JobOptions`). Default: ``JobOptions()``.
        :param service_account: run as this account. Default: a dedicated one created here.
        :param runtime_account_id: id of the dedicated account. Default: ``<name>-job``
            (cut and tagged with a hash of the name when too long).
        :param project: project. Default: the provider's project.
        :param depends_on: resources to create first (such as the APIs). Default: none.
        """
        options = JobOptions() if options is None else options
        check_worker_job_arguments(name=name, location=location, image=image, options=options,
                                   service_account=service_account,
                                   runtime_account_id=runtime_account_id, project=project)
        super().__init__(scope, id_)
        self.location = location
        self.options = options
        self.runtime_account: ServiceAccount | None = None
        if service_account is None:
            self.runtime_account = ServiceAccount(
                self, "runtime-account",
                account_id=runtime_account_id or job_runtime_account_id_for(name),
                display_name=f"Cloud Run job runtime for {name}", project=project,
                depends_on=list(depends_on) or None,
                **newer_provider_fields(deletion_policy=defaults.DELETION_POLICY))
            email, member = self.runtime_account.email, self.runtime_account.member
        else:
            email, member = service_account.email, service_account.member
        self._service_account_email = email
        self.secret_access = grant_secret_access(self, options.secret_env, member, project)
        self.resource = CloudRunV2Job(
            self,
            "job",
            name=name,
            location=location,
            project=project,
            deletion_protection=options.deletion_protection,
            **newer_provider_fields(deletion_policy=defaults.DELETION_POLICY),
            labels=dict(options.labels) or None,
            depends_on=[*depends_on, *self.secret_access] or None,
            template=CloudRunV2JobTemplate(
                task_count=options.task_count,
                parallelism=options.parallelism,
                template=CloudRunV2JobTemplateTemplate(
                    service_account=email,
                    timeout=f"{options.task_timeout_seconds}s"
                    if is_token(options.task_timeout_seconds)
                    else f"{int(options.task_timeout_seconds)}s",
                    max_retries=options.max_retries,
                    containers=[CloudRunV2JobTemplateTemplateContainers(
                        image=image,
                        command=list(options.command) or None,
                        resources=CloudRunV2JobTemplateTemplateContainersResources(
                            limits={"cpu": options.cpu, "memory": options.memory}),
                        env=_env(options) or None,
                    )],
                ),
            ),
        )
        self._runners: dict[str, CloudRunV2JobIamMember] = {}
        PolicyCheck.apply_to(self)

    @property
    def name(self) -> str:
        """The job name."""
        return self.resource.name

    @property
    def service_account_email(self) -> str:
        """E-mail of the account the job runs as."""
        return self._service_account_email

    def grant_run(self, member: str) -> CloudRunV2JobIamMember:
        """Let ``member`` start this job with overrides (``roles/run.jobsExecutorWithOverrides``
        on this job only, additive ``google_cloud_run_v2_job_iam_member``)."""
        check_member("member", member)
        key = member_identity(self, member)
        if key not in self._runners:
            self._runners[key] = CloudRunV2JobIamMember(
                self, stable_id(self, "runner", defaults.JOB_RUNNER_ROLE, key),
                name=self.resource.name, location=self.resource.location,
                project=self.resource.project, role=defaults.JOB_RUNNER_ROLE, member=member)
        return self._runners[key]


def check_worker_job_arguments(
    *, name: str, location: str = defaults.LOCATION, image: str = defaults.IMAGE,
    options: JobOptions | None = None, service_account: ServiceAccountLike | None = None,
    runtime_account_id: str | None = None, project: str | None = None,
) -> None:
    """Validate :class:`WorkerJob` keywords without declaring anything."""
    check_optional_project("project", project)
    check_string("name", name, pattern=CLOUD_RUN_NAME, allowed=CLOUD_RUN_NAME_TEXT)
    check_string("location", location, pattern=LOCATION, allowed=LOCATION_TEXT)
    check_non_empty("image", image)
    if options is not None and not isinstance(options, JobOptions):
        raise ConfigurationError("options", "a JobOptions", options)
    check_runtime_account(service_account, runtime_account_id, job_runtime_account_id_for(name))


def job_runtime_account_id_for(job_name: str) -> str:
    """``<name>-job``, cut and tagged with a hash of the name when too long."""
    suffix = defaults.JOB_RUNTIME_ACCOUNT_SUFFIX
    if len(job_name) + len(suffix) < 6:
        return f"{job_name}-worker{suffix}"
    return fitted_id(job_name, suffix)


def _env(options: JobOptions) -> list[CloudRunV2JobTemplateTemplateContainersEnv]:
    plain = [CloudRunV2JobTemplateTemplateContainersEnv(name=key, value=value)
             for key, value in options.env.items()]
    secret = [CloudRunV2JobTemplateTemplateContainersEnv(
        name=key, value_source=CloudRunV2JobTemplateTemplateContainersEnvValueSource(
            secret_key_ref=CloudRunV2JobTemplateTemplateContainersEnvValueSourceSecretKeyRef(
                secret=ref.secret, version=ref.version)))
        for key, ref in options.secret_env.items()]
    return sorted([*plain, *secret], key=lambda env: env.name)
