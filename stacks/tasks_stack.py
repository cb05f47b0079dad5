"""TasksStack: one environment's stack, with the stable outputs the sample app reads."""

from __future__ import annotations

import re

from cdktf import GcsBackend, LocalBackend, TerraformOutput, TerraformStack
from constructs import Construct

import constructs_lib  # noqa: F401 - installs the lazy provider loading first
from cdktf_cdktf_provider_google.provider import GoogleProvider
from constructs_lib import CloudTasksToCloudRun, ConfigurationError
from constructs_lib.cloud_tasks_to_cloud_run import check_pattern_arguments

from .deploy_settings import ENQUEUERS_ENV, IMAGE_ENV, PROJECT_ENV, REGION_ENV, DeploySettings
from .settings import EnvironmentSettings

OUTPUT_NAMES = (
    "service_url",
    "audience",
    "queue_path",
    "invoker_email",
    "dispatch_deadline_seconds",
)


def _as_setting(error: ConfigurationError, env: EnvironmentSettings) -> ConfigurationError:
    """The pattern's parameter name turned into the setting the user wrote."""
    table = f"[{env.name}]"
    parameter = error.parameter
    option = re.match(r"(?:service|queue)_options\['([^']+)'\](.*)", parameter)
    enqueuer = re.match(r"enqueuers\[(\d+)\](.*)", parameter)
    if option:
        key = {"name_suffix": "queue_name_suffix"}.get(option.group(1), option.group(1))
        name = f"{table} {key}{option.group(2)}"
    elif enqueuer:
        index = int(enqueuer.group(1))
        name = (f"{table} enqueuers[{index}]" if index < len(env.enqueuers)
                else f"{ENQUEUERS_ENV}[{index - len(env.enqueuers)}]")
    else:
        root = re.split(r"[\[. ]", parameter, maxsplit=1)[0]
        renamed = {
            "name": f"{table} service_name", "queue_name": f"{table} queue_name",
            "dispatch_deadline_seconds": f"{table} dispatch_deadline_seconds",
            "project": PROJECT_ENV, "location": REGION_ENV, "image": IMAGE_ENV,
        }.get(root)
        if renamed is None:
            return error
        name = renamed + parameter[len(root):]
    return ConfigurationError(name, error.allowed, error.value)


class TasksStack(TerraformStack):
    """Provider, backend, the :class:`CloudTasksToCloudRun` pattern and its outputs."""

    def __init__(self, scope: Construct, env: EnvironmentSettings,
                 deploy: DeploySettings) -> None:
        pattern_arguments = {
            "project": deploy.project,
            "name": env.service_name,
            "location": deploy.region,
            "image": deploy.image,
            "queue_name": env.queue_name,
            "dispatch_deadline_seconds": env.dispatch_deadline_seconds,
            "enqueuers": [*env.enqueuers, *deploy.extra_enqueuers],
            "service_options": env.service_options(),
            "queue_options": env.queue_options(),
        }
        # Bad settings fail here, before the stack or any of its parts exists, named as
        # the user wrote them (a key of environments.toml, or an environment variable).
        try:
            check_pattern_arguments(**pattern_arguments)
        except ConfigurationError as error:
            raise _as_setting(error, env) from None
        super().__init__(scope, env.name)
        GoogleProvider(self, "google", project=deploy.project, region=deploy.region)
        if deploy.state_bucket:
            GcsBackend(self, bucket=deploy.state_bucket,
                       prefix=f"{deploy.state_prefix}/{env.name}")
        else:
            # Relative to cdktf.out/stacks/<name>: the project root, like cdktf's default,
            # without writing this machine's absolute path into the synthesized JSON.
            LocalBackend(self, path=f"../../../terraform.{env.name}.tfstate")

        self.tasks = CloudTasksToCloudRun(self, "tasks", **pattern_arguments)
        values = {
            "service_url": self.tasks.service_url,
            "audience": self.tasks.audience,
            "queue_path": self.tasks.queue_path,
            "invoker_email": self.tasks.invoker_email,
            "dispatch_deadline_seconds": self.tasks.dispatch_deadline_seconds,
        }
        descriptions = {
            "service_url": "Cloud Run URL of the worker (tasks go to <service_url>/tasks)",
            "audience": "aud claim of the tasks' OIDC tokens",
            "queue_path": "projects/P/locations/L/queues/Q, for create_task",
            "invoker_email": "service account whose OIDC token tasks carry",
            "dispatch_deadline_seconds": "how long Cloud Tasks waits for one attempt",
        }
        for output_name in OUTPUT_NAMES:
            output = TerraformOutput(self, output_name, value=values[output_name],
                                     description=descriptions[output_name])
            output.override_logical_id(output_name)
