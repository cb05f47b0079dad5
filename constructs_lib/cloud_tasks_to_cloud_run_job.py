"""CloudTasksToCloudRunJob: a queue whose tasks start a Cloud Run job.

For work longer than a task's dispatch deadline (at most 30 minutes): each task is an HTTP
``POST`` to the Cloud Run Admin API's ``jobs.run`` with an OAuth token of the invoker
account, and a ``RunJobRequest`` body whose container overrides carry the payload. The
API answers at once with a long-running operation, so the task is acknowledged when the
execution starts; the queue's retries cover starting it, the job's ``max_retries`` cover
each job task. Like :class:`CloudTasksToCloudRun`, it only wires the parts together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from constructs import Construct

from . import defaults
from .ids import fitted_id
from .invoker_service_account import InvokerServiceAccount
from .options import JobOptions, QueueOptions
from .policy import PolicyCheck
from .project_apis import shared_apis
from .service_account import ServiceAccountLike, check_invoker
from .task_queue import TaskQueue, check_task_queue_arguments
from .validation import (
    ACCOUNT_ID,
    ACCOUNT_ID_TEXT,
    CLOUD_RUN_NAME,
    CLOUD_RUN_NAME_TEXT,
    PROJECT_ID,
    PROJECT_ID_TEXT,
    QUEUE_ID,
    QUEUE_ID_TEXT,
    ConfigurationError,
    check_bool,
    check_members,
    check_string,
)
from .worker_job import WorkerJob, check_worker_job_arguments

JOB_INVOKER_SUFFIX = "-job-invoker"
SECRET_MANAGER_API = "secretmanager.googleapis.com"


class CloudTasksToCloudRunJob(Construct):
    """A Cloud Tasks queue whose tasks start one Cloud Run job, with overrides, as an
    invoker account that may run that job only.

    Resources: the job (and its runtime account), the queue, the invoker account (unless
    ``invoker`` is given), ``roles/run.jobsExecutorWithOverrides`` for the invoker on the
    job, ``roles/cloudtasks.enqueuer`` on the queue and ``roles/iam.serviceAccountUser`` on
    the invoker for each member of ``enqueuers``, and the APIs. Nothing at project level.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        project: str,
        name: str,
        location: str = defaults.LOCATION,
        image: str = defaults.IMAGE,
        job: JobOptions | None = None,
        queue: QueueOptions | None = None,
        queue_name: str | None = None,
        invoker: ServiceAccountLike | None = None,
        invoker_account_id: str | None = None,
        service_account: ServiceAccountLike | None = None,
        enqueuers: Sequence[str] = (),
        enable_apis: bool = True,
    ) -> None:
        """
        :param project: project id (part of the run URL).
        :param name: job name; stem of the queue and invoker account names.
        :param location: region of the job and the queue. Default: ``us-central1``.
        :param image: job container image. Default: Google's ``hello`` sample.
        :param job: how the job runs (:class:`JobOptions`). Default: defaults.
        :param queue: how the queue dispatches: its rate is a start rate (:class:`QueueOptions`).
            Default: defaults.
        :param queue_name: queue id. Default: ``name``.
        :param invoker: an existing account whose OAuth token the tasks carry. Default: an
            account created here.
        :param invoker_account_id: id of the invoker created here. Default:
            ``<name>-job-invoker`` (cut and tagged with a hash of the name when too long).
        :param service_account: run the job as this account. Default: a dedicated one.
        :param enqueuers: members who may create tasks (enqueuer on the queue and actAs on
            the invoker). Default: none.
        :param enable_apis: declare the APIs, once per stack and project. Default: True.
        """
        plan = _plan(project=project, name=name, location=location, image=image, job=job,
                     queue=queue, queue_name=queue_name, invoker=invoker,
                     invoker_account_id=invoker_account_id, service_account=service_account,
                     enqueuers=enqueuers, enable_apis=enable_apis)
        super().__init__(scope, id_)
        self.project = project
        self.location = location
        # Shared by every pattern of the stack in this project: each API is declared once.
        self.apis = shared_apis(self, project, plan.apis, enable_apis)
        self.invoker: ServiceAccountLike = invoker if invoker is not None else (
            InvokerServiceAccount(
                self, "invoker", account_id=plan.invoker_account_id, project=project,
                display_name=f"Cloud Tasks job starter for {name}", depends_on=self.apis))
        self.job = WorkerJob(self, "job", name=name, location=location, image=image,
                             options=plan.job, service_account=service_account,
                             project=project, depends_on=self.apis)
        self.queue = TaskQueue(self, "queue", name=plan.queue_name, location=location,
                               project=project, options=plan.queue, depends_on=self.apis)
        self.job.grant_run(self.invoker.member)
        for member in plan.enqueuers:
            self.grant_enqueue(member)
        PolicyCheck.apply_to(self)

    # --- values the sample app needs ------------------------------------------------------
    @property
    def job_name(self) -> str:
        """The job's short name."""
        return self.job.name

    @property
    def run_url(self) -> str:
        """``https://run.googleapis.com/v2/projects/P/locations/L/jobs/J:run``: the tasks'
        target (Cloud Run Admin API ``jobs.run``)."""
        return (f"{defaults.RUN_API_ENDPOINT}/v2/projects/{self.project}/locations/"
                f"{self.location}/jobs/{self.job.name}:run")

    @property
    def queue_path(self) -> str:
        """``projects/P/locations/L/queues/Q``."""
        return self.queue.path

    @property
    def invoker_email(self) -> str:
        """E-mail of the account whose OAuth token tasks carry."""
        return self.invoker.email

    def grant_enqueue(self, member: str) -> None:
        """Let ``member`` create job tasks: ``roles/cloudtasks.enqueuer`` on the queue and
        ``roles/iam.serviceAccountUser`` on the invoker (a task carrying the invoker's
        OAuth token needs actAs on it)."""
        self.queue.grant_enqueue(member)
        self.invoker.grant_act_as(member)


@dataclass(frozen=True)
class _Plan:
    queue_name: str
    invoker_account_id: str
    enqueuers: tuple[str, ...]
    job: JobOptions
    queue: QueueOptions
    apis: tuple[str, ...]


# The raw arguments, before checking: anything a caller passed (the checks name it).
def _plan(
    *,
    project: Any,
    name: Any,
    location: Any,
    image: Any,
    job: Any,
    queue: Any,
    queue_name: Any,
    invoker: Any,
    invoker_account_id: Any,
    service_account: Any,
    enqueuers: Any,
    enable_apis: Any,
) -> _Plan:
    check_string("project", project, pattern=PROJECT_ID, allowed=PROJECT_ID_TEXT)
    check_string("name", name, pattern=CLOUD_RUN_NAME, allowed=CLOUD_RUN_NAME_TEXT)
    enqueuers = check_members("enqueuers", enqueuers)
    check_bool("enable_apis", enable_apis)
    job = JobOptions() if job is None else job
    queue = QueueOptions() if queue is None else queue
    if not isinstance(job, JobOptions):
        raise ConfigurationError("job", "a JobOptions", job)
    if not isinstance(queue, QueueOptions):
        raise ConfigurationError("queue", "a QueueOptions", queue)
    account_id = invoker_account_id or fitted_id(name, JOB_INVOKER_SUFFIX)
    if invoker is not None:
        check_invoker(invoker, invoker_account_id, project)
    else:
        check_string("invoker_account_id", account_id, pattern=ACCOUNT_ID,
                     allowed=ACCOUNT_ID_TEXT)
    if queue_name is not None:
        check_string("queue_name", queue_name, pattern=QUEUE_ID, allowed=QUEUE_ID_TEXT)
    queue_name = queue_name or name
    check_worker_job_arguments(name=name, location=location, image=image, options=job,
                               service_account=service_account, project=project)
    check_task_queue_arguments(name=queue_name, location=location, options=queue,
                               project=project)
    apis = defaults.ENABLED_APIS + ((SECRET_MANAGER_API,) if job.secret_env else ())
    return _Plan(queue_name=queue_name, invoker_account_id=account_id, enqueuers=enqueuers,
                 job=job, queue=queue, apis=apis)


def check_job_pattern_arguments(**kwargs: object) -> None:
    """Validate :class:`CloudTasksToCloudRunJob` keywords without declaring anything."""
    defaults_ = {"location": defaults.LOCATION, "image": defaults.IMAGE, "job": None,
                 "queue": None, "queue_name": None, "invoker": None,
                 "invoker_account_id": None, "service_account": None, "enqueuers": (),
                 "enable_apis": True}
    _plan(**{**defaults_, **kwargs})
