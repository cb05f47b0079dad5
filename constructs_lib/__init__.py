"""Constructs for asynchronous tasks on Google Cloud: a Cloud Tasks queue that pushes
OIDC-authenticated HTTP tasks to a private Cloud Run v2 service.

Importing this package loads only the provider submodules it uses (see ``_provider``):
the install below runs before any construct module, since importing one of them (even
``from constructs_lib.worker_service import ...``) runs this file first.
"""

from ._provider import install as _install_provider

_install_provider()

from .cloud_tasks_to_cloud_run import CloudTasksToCloudRun  # noqa: E402
from .cloud_tasks_to_cloud_run_job import CloudTasksToCloudRunJob  # noqa: E402
from .dead_letter_store import DeadLetterStore  # noqa: E402
from .invoker_service_account import InvokerServiceAccount  # noqa: E402
from .options import (  # noqa: E402
    AlertOptions,
    DeadLetterOptions,
    JobOptions,
    QueueOptions,
    SecretEnv,
    ServiceOptions,
    StartupProbe,
    TaskNameStoreOptions,
)
from .policy import PolicyCheck, find_violations  # noqa: E402
from .project_apis import ProjectApis  # noqa: E402
from .service_account import ImportedServiceAccount, ServiceAccountLike  # noqa: E402
from .task_alerts import TaskAlerts  # noqa: E402
from .task_name_store import TaskNameStore  # noqa: E402
from .task_queue import QueueRouting, TaskQueue  # noqa: E402
from .validation import ConfigurationError  # noqa: E402
from .worker_job import WorkerJob  # noqa: E402
from .worker_service import WorkerService  # noqa: E402

__all__ = [
    "AlertOptions",
    "CloudTasksToCloudRun",
    "CloudTasksToCloudRunJob",
    "ConfigurationError",
    "DeadLetterOptions",
    "DeadLetterStore",
    "ImportedServiceAccount",
    "InvokerServiceAccount",
    "JobOptions",
    "PolicyCheck",
    "ProjectApis",
    "QueueOptions",
    "QueueRouting",
    "SecretEnv",
    "ServiceAccountLike",
    "ServiceOptions",
    "StartupProbe",
    "TaskAlerts",
    "TaskNameStore",
    "TaskNameStoreOptions",
    "TaskQueue",
    "WorkerJob",
    "WorkerService",
    "find_violations",
]
