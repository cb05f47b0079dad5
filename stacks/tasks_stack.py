"""TasksStack: one environment's stack, with the stable outputs the sample app reads."""

from __future__ import annotations

from typing import Any

from constructs import Construct

from constructs_lib import CloudTasksToCloudRun, CloudTasksToCloudRunJob, ConfigurationError
from constructs_lib._framework import (
    GcsBackend,
    GoogleProvider,
    LocalBackend,
    TerraformOutput,
    TerraformStack,
)
from constructs_lib.cloud_tasks_to_cloud_run import check_pattern_arguments
from constructs_lib.cloud_tasks_to_cloud_run_job import check_job_pattern_arguments

from .deploy_settings import DeploySettings, Target
from .outputs import job_outputs, pattern_outputs
from .settings import EnvironmentSettings

# Pattern keywords a stack passes, and the environment key each comes from.
_SETTING_NAMES = {"name": "service_name", "queue_name": "queue_name",
                  "dispatch_deadline_seconds": "dispatch_deadline_seconds",
                  "service": "service", "project": "project", "location": "region",
                  "image": "image", "enqueuers": "enqueuers",
                  "dead_letters": "dead_letters", "dead_letter_bucket": "dead_letter_bucket",
                  "task_names": "task_names", "task_name_bucket": "task_name_bucket",
                  "alerts": "alerts"}


class TasksStack(TerraformStack):
    """Provider, backend, the :class:`CloudTasksToCloudRun` pattern and its outputs."""

    def __init__(self, scope: Construct, env: EnvironmentSettings,
                 deploy: DeploySettings, target: Target | None = None) -> None:
        target = deploy.target(env) if target is None else target
        job_arguments: dict[str, Any] | None = None
        if env.job is not None:
            job_arguments = {
                "project": target.project, "name": env.job.name, "location": target.region,
                "image": env.job.image or target.image, "queue_name": env.job.queue_name,
                "job": env.job.options, "queue": env.job.queue,
                "enqueuers": [*env.enqueuers, *deploy.extra_enqueuers],
            }
            try:
                check_job_pattern_arguments(**job_arguments)
            except ConfigurationError as error:
                root, sep, rest = error.parameter.partition(".")
                key = {"name": "name", "queue_name": "queue_name", "image": "image"}.get(root)
                if key is None:
                    raise
                raise ConfigurationError(f"[{env.name}.job] {key}{sep}{rest}", error.allowed,
                                         error.value) from None
        pattern_arguments: dict[str, Any] = {
            "project": target.project,
            "name": env.service_name,
            "location": target.region,
            "image": target.image,
            "queue_name": env.queue_name,
            "dispatch_deadline_seconds": env.dispatch_deadline_seconds,
            "enqueuers": [*env.enqueuers, *deploy.extra_enqueuers],
            "service": env.service,
            "queue": env.queue,
            "dead_letters": env.dead_letters,
            "dead_letter_bucket": env.dead_letter_bucket,
            "task_names": env.task_names,
            "task_name_bucket": env.task_name_bucket,
            "alerts": env.alerts,
        }
        # Bad settings fail here, before the stack or any of its parts exists, named as
        # the user wrote them (a key of the environment's table).
        try:
            if env.service_name is not None:
                check_pattern_arguments(**pattern_arguments)
        except ConfigurationError as error:
            root, sep, rest = error.parameter.partition(".")
            key = _SETTING_NAMES.get(root)
            if key is None:
                raise
            raise ConfigurationError(f"[{env.name}] {key}{sep}{rest}", error.allowed,
                                     error.value) from None
        super().__init__(scope, env.name)
        self.target = target
        GoogleProvider(self, "google", project=target.project, region=target.region)
        if deploy.state_bucket:
            GcsBackend(self, bucket=deploy.state_bucket,
                       prefix=f"{deploy.state_prefix}/{env.name}")
        else:
            # Relative to cdktf.out/stacks/<name>: the project root, like cdktf's default,
            # without writing this machine's absolute path into the synthesized JSON.
            LocalBackend(self, path=f"../../../terraform.{env.name}.tfstate")

        self.outputs: dict[str, TerraformOutput] = {}
        self.tasks: CloudTasksToCloudRun | None = None
        if env.service_name is not None:
            self.tasks = CloudTasksToCloudRun(self, "tasks", **pattern_arguments)
            self.outputs.update(pattern_outputs(self, self.tasks))
        self.job: CloudTasksToCloudRunJob | None = None
        if job_arguments is not None:
            self.job = CloudTasksToCloudRunJob(self, "job", **job_arguments)
            self.outputs.update(job_outputs(self, self.job))
