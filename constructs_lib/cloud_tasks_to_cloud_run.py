"""CloudTasksToCloudRun: the pattern that wires a queue to a private Cloud Run worker.

It only composes :class:`WorkerService`, :class:`TaskQueue` and
:class:`InvokerServiceAccount` and adds the IAM and API enablement between them; every
default lives in :mod:`constructs_lib.defaults`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from constructs import Construct

from . import defaults
from ._framework import Fn
from .buckets import check_store_arguments
from .dead_letter_store import DeadLetterStore
from .ids import fitted_id
from .invoker_service_account import InvokerServiceAccount
from .options import (
    AlertOptions,
    DeadLetterOptions,
    QueueOptions,
    ServiceOptions,
    TaskNameStoreOptions,
)
from .policy import PolicyCheck
from .project_apis import shared_apis
from .service_account import ServiceAccountLike, check_invoker
from .task_alerts import TaskAlerts
from .task_name_store import TaskNameStore, check_retention
from .task_queue import QueueRouting, TaskQueue, check_task_queue_arguments
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
    check_non_empty,
    check_number,
    check_string,
    is_token,
)
from .worker_service import WorkerService, check_worker_service_arguments

# Variables the pattern sets in the service's environment: the worker's token check, its
# stores and the queue's retry limits (a user's env entry may not override any of them).
MANAGED_ENV = (defaults.WORKER_AUDIENCE_ENV, defaults.WORKER_INVOKER_EMAIL_ENV,
               defaults.WORKER_PROJECT_ID_ENV, defaults.WORKER_DEAD_LETTER_BUCKET_ENV,
               defaults.WORKER_TASK_NAME_BUCKET_ENV, defaults.WORKER_QUEUE_MAX_ATTEMPTS_ENV,
               defaults.WORKER_QUEUE_MAX_RETRY_DURATION_ENV)
SECRET_MANAGER_API = "secretmanager.googleapis.com"


class CloudTasksToCloudRun(Construct):
    """A Cloud Tasks queue that pushes HTTP tasks, with an OIDC token, to a private
    Cloud Run service that only the queue's invoker account may call.

    Resources: the service (and its runtime account), the queue, the invoker account
    (unless ``invoker`` is given), ``roles/run.invoker`` for the invoker on the service,
    ``roles/cloudtasks.enqueuer`` on the queue and ``roles/iam.serviceAccountUser`` on the
    invoker for each member of ``enqueuers``, and the APIs (never disabled on destroy).
    A :class:`~constructs_lib.policy.PolicyCheck` guards what it declares.
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
        service: ServiceOptions | None = None,
        queue: QueueOptions | None = None,
        queue_name: str | None = None,
        invoker: ServiceAccountLike | None = None,
        invoker_account_id: str | None = None,
        service_account: ServiceAccountLike | None = None,
        audience: str | None = None,
        dispatch_deadline_seconds: int = defaults.DISPATCH_DEADLINE_SECONDS,
        enqueuers: Sequence[str] = (),
        queue_level_routing: bool = False,
        enable_apis: bool = True,
        task_path: str = defaults.TASK_PATH,
        dead_letters: DeadLetterOptions | None = None,
        dead_letter_bucket: str | None = None,
        task_names: TaskNameStoreOptions | None = None,
        task_name_bucket: str | None = None,
        alerts: AlertOptions | None = None,
    ) -> None:
        """
        :param project: project id; also part of the default audience.
        :param name: base name: the service name, and the stem of the queue and
            invoker account names.
        :param location: region of the service and the queue. Default: ``us-central1``.
        :param image: worker container image. Default: Google's ``hello`` sample.
        :param service: how the service runs (:class:`ServiceOptions`). Default: defaults.
        :param queue: how the queue dispatches (:class:`QueueOptions`). Default: defaults.
        :param queue_name: queue id. Default: ``name``.
        :param invoker: an existing account to sign the tasks' tokens (created elsewhere,
            or ``InvokerServiceAccount.from_email``); it must be in ``project``. Default: an
            account created here.
        :param invoker_account_id: id of the invoker created here. Default:
            ``<name>-invoker``; when that is over 30 characters, the name is cut and a hash
            of the whole name added (``<cut name>-<hash6>-invoker``). Not with ``invoker``.
        :param service_account: run the service as this account. Default: a dedicated
            runtime account created here.
        :param audience: the ``aud`` of the tasks' OIDC tokens. Default:
            ``https://<name>.<location>.<project>.tasks.invalid``, added to the service's
            custom audiences (the run.app URL cannot be used: it is only known after the
            service exists, and the service's environment must carry the audience).
        :param dispatch_deadline_seconds: how long Cloud Tasks waits for one attempt,
            15 to 1800 and at most the service timeout. Default: 600.
        :param enqueuers: members who may create tasks (enqueuer on the queue and
            actAs on the invoker). Default: none.
        :param queue_level_routing: also set the queue's ``http_target`` so every task
            goes to this service with the invoker's token, whatever the task says.
            Default: False.
        :param enable_apis: declare ``google_project_service`` for the APIs used, once per
            stack and project (shared with other patterns, see :class:`ProjectApis`).
            Default: True.
        :param task_path: path of the worker endpoint. Default: ``/tasks``.
        :param dead_letters: the dead-letter store (:class:`DeadLetterOptions`; opt out
            with ``enabled=False``). Default: a private bucket, 30 days' retention.
        :param dead_letter_bucket: an existing bucket to keep dead letters in, by name,
            instead of creating one (grants only). Not with ``dead_letters``.
        :param task_names: the shared task-name store (:class:`TaskNameStoreOptions`; opt
            out with ``enabled=False``). Default: a private bucket kept for the queue's
            retry window plus 24 h.
        :param task_name_bucket: an existing bucket for task names, by name. Not with
            ``task_names``.
        :param alerts: alert policies on the queue and the dead letters
            (:class:`AlertOptions`, opt-in with channels). Default: none.
        """
        plan = _plan(
            project=project, name=name, location=location, image=image, service=service,
            queue=queue, queue_name=queue_name, invoker=invoker,
            invoker_account_id=invoker_account_id, service_account=service_account,
            audience=audience, dispatch_deadline_seconds=dispatch_deadline_seconds,
            enqueuers=enqueuers, queue_level_routing=queue_level_routing,
            enable_apis=enable_apis, task_path=task_path, dead_letters=dead_letters,
            dead_letter_bucket=dead_letter_bucket, task_names=task_names,
            task_name_bucket=task_name_bucket, alerts=alerts,
        )
        # Everything was checked before the first resource: a caller who catches the
        # error is left with no half-built pattern.
        super().__init__(scope, id_)
        self.audience = plan.audience
        self.dispatch_deadline_seconds = plan.dispatch_deadline_seconds
        self.task_path = plan.task_path
        # Shared by every pattern of the stack in this project: each API is declared once.
        self.apis = shared_apis(self, project, plan.apis, enable_apis)
        self.invoker: ServiceAccountLike = invoker if invoker is not None else (
            InvokerServiceAccount(
                self, "invoker", account_id=plan.invoker_account_id, project=project,
                display_name=defaults.INVOKER_DISPLAY_NAME.format(service=name),
                depends_on=self.apis,
            ))
        # The stores: private buckets (or existing ones, by name) the runtime account gets
        # bucket-level grants on, once the service (and its account) exists.
        self.dead_letters: DeadLetterStore | None = None
        if plan.dead_letters_enabled:
            self.dead_letters = DeadLetterStore(
                self, "dead-letters", project=project, service_name=name, location=location,
                options=dead_letters, existing_bucket=dead_letter_bucket,
                depends_on=self.apis)
        self.task_names: TaskNameStore | None = None
        if plan.task_names_enabled:
            self.task_names = TaskNameStore(
                self, "task-names", project=project, service_name=name, queue=plan.queue,
                dispatch_deadline_seconds=plan.dispatch_deadline_seconds, location=location,
                options=task_names, existing_bucket=task_name_bucket, depends_on=self.apis)
        env = {
            **plan.service.env,
            defaults.WORKER_AUDIENCE_ENV: plan.audience,
            defaults.WORKER_INVOKER_EMAIL_ENV: self.invoker.email,
            defaults.WORKER_PROJECT_ID_ENV: project,
            defaults.WORKER_QUEUE_MAX_ATTEMPTS_ENV: _whole(plan.queue.max_attempts),
            defaults.WORKER_QUEUE_MAX_RETRY_DURATION_ENV:
                _whole(plan.queue.max_retry_duration_seconds),
        }
        if self.dead_letters is not None:
            env[defaults.WORKER_DEAD_LETTER_BUCKET_ENV] = self.dead_letters.name
        if self.task_names is not None:
            env[defaults.WORKER_TASK_NAME_BUCKET_ENV] = self.task_names.name
        self.service = WorkerService(
            self, "service", name=name, location=location, project=project, image=image,
            custom_audiences=[plan.audience], service_account=service_account,
            options=dataclasses.replace(plan.service, env=env),
            depends_on=self.apis,
        )
        routing = None
        if queue_level_routing:
            routing = QueueRouting(
                host=Fn.trimprefix(self.service.uri, "https://"),
                service_account_email=self.invoker.email,
                audience=plan.audience,
                path=task_path,
            )
        self.queue = TaskQueue(
            self, "queue", name=plan.queue_name, location=location, project=project,
            options=plan.queue, routing=routing, depends_on=self.apis,
        )

        self.service.grant_invoke(self.invoker.member)
        runtime_member = (self.service.runtime_account.member
                          if self.service.runtime_account is not None
                          else service_account.member)  # type: ignore[union-attr]
        if self.dead_letters is not None:
            self.dead_letters.grant_write(runtime_member)
        if self.task_names is not None:
            self.task_names.grant_use(runtime_member)
        self.alerts: TaskAlerts | None = None
        if plan.alerts.enabled:
            self.alerts = TaskAlerts(
                self, "alerts", project=project, service_name=name,
                queue_name=self.queue.name, options=plan.alerts,
                depends_on=shared_apis(self, project, defaults.ALERT_APIS, enable_apis))
        for member in plan.enqueuers:
            self.grant_enqueue(member)
        PolicyCheck.apply_to(self)

    # --- values the sample app needs ------------------------------------------------------
    @property
    def service_url(self) -> str:
        """The service's run.app URL."""
        return self.service.uri

    @property
    def task_url(self) -> str:
        """Where tasks are sent: service URL + task path."""
        return f"{self.service.uri}{self.task_path}"

    @property
    def queue_path(self) -> str:
        """``projects/P/locations/L/queues/Q``."""
        return self.queue.path

    @property
    def invoker_email(self) -> str:
        """E-mail of the account whose OIDC token tasks carry."""
        return self.invoker.email

    @property
    def dead_letter_bucket(self) -> str | None:
        """Name of the dead-letter bucket (None when opted out)."""
        return self.dead_letters.name if self.dead_letters is not None else None

    @property
    def task_name_bucket(self) -> str | None:
        """Name of the task-name bucket (None when opted out)."""
        return self.task_names.name if self.task_names is not None else None

    def grant_replay(self, member: str) -> None:
        """Let ``member`` replay dead letters: read and mark them in the dead-letter store
        (:meth:`DeadLetterStore.grant_replay`) and re-enqueue them (:meth:`grant_enqueue`)."""
        if self.dead_letters is None:
            raise ConfigurationError("grant_replay", "used with a dead-letter store "
                                     "(dead_letters is disabled)", member)
        self.dead_letters.grant_replay(member)
        self.grant_enqueue(member)

    def grant_enqueue(self, member: str) -> None:
        """Let ``member`` create tasks for this worker: ``roles/cloudtasks.enqueuer`` on
        the queue and ``roles/iam.serviceAccountUser`` on the invoker account (creating a
        task that carries the invoker's OIDC token needs actAs on it)."""
        self.queue.grant_enqueue(member)
        self.invoker.grant_act_as(member)


@dataclass(frozen=True)
class _Plan:
    """The pattern's arguments, checked and with defaults resolved."""

    audience: str
    dispatch_deadline_seconds: int
    task_path: str
    queue_name: str
    invoker_account_id: str
    enqueuers: tuple[str, ...]
    service: ServiceOptions
    queue: QueueOptions
    apis: tuple[str, ...]
    dead_letters_enabled: bool
    task_names_enabled: bool
    alerts: AlertOptions


def check_pattern_arguments(
    *, project: str, name: str, location: str = defaults.LOCATION,
    image: str = defaults.IMAGE, service: ServiceOptions | None = None,
    queue: QueueOptions | None = None, queue_name: str | None = None,
    invoker: ServiceAccountLike | None = None, invoker_account_id: str | None = None,
    service_account: ServiceAccountLike | None = None, audience: str | None = None,
    dispatch_deadline_seconds: int = defaults.DISPATCH_DEADLINE_SECONDS,
    enqueuers: Sequence[str] = (), queue_level_routing: bool = False,
    enable_apis: bool = True, task_path: str = defaults.TASK_PATH,
    dead_letters: DeadLetterOptions | None = None, dead_letter_bucket: str | None = None,
    task_names: TaskNameStoreOptions | None = None, task_name_bucket: str | None = None,
    alerts: AlertOptions | None = None,
) -> None:
    """Validate :class:`CloudTasksToCloudRun` keywords without declaring anything, so a
    stack can refuse bad settings before its first resource (provider, backend)."""
    _plan(project=project, name=name, location=location, image=image, service=service,
          queue=queue, queue_name=queue_name, invoker=invoker,
          invoker_account_id=invoker_account_id, service_account=service_account,
          audience=audience, dispatch_deadline_seconds=dispatch_deadline_seconds,
          enqueuers=enqueuers, queue_level_routing=queue_level_routing,
          enable_apis=enable_apis, task_path=task_path, dead_letters=dead_letters,
          dead_letter_bucket=dead_letter_bucket, task_names=task_names,
          task_name_bucket=task_name_bucket, alerts=alerts)


# The raw arguments, before checking: anything a caller passed (the checks name it).
def _plan(
    *,
    project: Any,
    name: Any,
    location: Any,
    image: Any,
    service: Any,
    queue: Any,
    queue_name: Any,
    invoker: Any,
    invoker_account_id: Any,
    service_account: Any,
    audience: Any,
    dispatch_deadline_seconds: Any,
    enqueuers: Any,
    queue_level_routing: Any,
    enable_apis: Any,
    task_path: Any,
    dead_letters: Any,
    dead_letter_bucket: Any,
    task_names: Any,
    task_name_bucket: Any,
    alerts: Any,
) -> _Plan:
    check_string("project", project, pattern=PROJECT_ID, allowed=PROJECT_ID_TEXT)
    check_string("name", name, pattern=CLOUD_RUN_NAME, allowed=CLOUD_RUN_NAME_TEXT)
    enqueuers = check_members("enqueuers", enqueuers)
    check_bool("queue_level_routing", queue_level_routing)
    check_bool("enable_apis", enable_apis)
    check_string("task_path", task_path, pattern=r"/[^\s?#]*",
                 allowed="an absolute path starting with /")
    service = ServiceOptions() if service is None else service
    queue = QueueOptions() if queue is None else queue
    if not isinstance(service, ServiceOptions):
        raise ConfigurationError("service", "a ServiceOptions", service)
    if not isinstance(queue, QueueOptions):
        raise ConfigurationError("queue", "a QueueOptions", queue)
    if audience is None:
        # a legacy domain-scoped project (example.com:p) has no ":" in a host name
        audience = defaults.AUDIENCE_TEMPLATE.format(
            name=name, location=location, project=project.replace(":", ".")
        )
    check_non_empty("audience", audience)
    account_id = invoker_account_id or _invoker_account_id_for(name)
    if invoker is not None:
        check_invoker(invoker, invoker_account_id, project)
    else:
        check_string("invoker_account_id", account_id, pattern=ACCOUNT_ID,
                     allowed=ACCOUNT_ID_TEXT)
    for key in MANAGED_ENV:
        if key in service.env:
            raise ConfigurationError(
                f"service.env[{key!r}]",
                "left unset (the pattern sets it from the invoker, audience and project)",
                service.env[key],
            )
    if queue_name is not None:
        check_string("queue_name", queue_name, pattern=QUEUE_ID, allowed=QUEUE_ID_TEXT)
    queue_name = queue_name or name
    check_worker_service_arguments(name=name, location=location, image=image,
                                   options=service, service_account=service_account,
                                   custom_audiences=[audience], project=project)
    check_task_queue_arguments(name=queue_name, location=location, options=queue,
                               project=project)
    check_number("dispatch_deadline_seconds", dispatch_deadline_seconds, minimum=15,
                 maximum=1800, integer=True)
    timeout = service.timeout_seconds
    if (not is_token(timeout) and not is_token(dispatch_deadline_seconds)
            and dispatch_deadline_seconds > timeout):
        raise ConfigurationError(
            "dispatch_deadline_seconds",
            f"at most the service's timeout_seconds ({timeout})",
            dispatch_deadline_seconds,
        )
    dead_letters_enabled = _check_store(
        "dead_letters", dead_letters, "dead_letter_bucket", dead_letter_bucket,
        DeadLetterOptions, project=project, name=name, location=location,
        suffix=defaults.DEAD_LETTER_BUCKET_SUFFIX)
    task_names_enabled = _check_store(
        "task_names", task_names, "task_name_bucket", task_name_bucket,
        TaskNameStoreOptions, project=project, name=name, location=location,
        suffix=defaults.TASK_NAME_BUCKET_SUFFIX)
    if task_names_enabled and task_name_bucket is None:
        check_retention(task_names, queue, dispatch_deadline_seconds)
    alerts = AlertOptions() if alerts is None else alerts
    if not isinstance(alerts, AlertOptions):
        raise ConfigurationError("alerts", "an AlertOptions", alerts)
    stores = dead_letters_enabled or task_names_enabled
    apis = (defaults.ENABLED_APIS + ((defaults.STORAGE_API,) if stores else ())
            + ((SECRET_MANAGER_API,) if service.secret_env else ()))
    return _Plan(
        audience=audience, dispatch_deadline_seconds=dispatch_deadline_seconds,
        task_path=task_path, queue_name=queue_name, invoker_account_id=account_id,
        enqueuers=enqueuers, service=service, queue=queue, apis=apis,
        dead_letters_enabled=dead_letters_enabled, task_names_enabled=task_names_enabled,
        alerts=alerts,
    )


def _check_store(parameter: str, options: Any, bucket_parameter: str, bucket: str | None,
                 kind: type[DeadLetterOptions | TaskNameStoreOptions], *, project: str,
                 name: str, location: str, suffix: str) -> bool:
    """A store's options or an existing bucket (never both); whether the store is on."""
    if options is not None and not isinstance(options, kind):
        raise ConfigurationError(parameter, f"a {kind.__name__}", options)
    if bucket is not None and options is not None:
        raise ConfigurationError(
            parameter, f"left unset when {bucket_parameter} is given (an existing bucket "
            "keeps its own settings)", options)
    if options is not None and not options.enabled:
        return False
    try:
        check_store_arguments(scope=None, project=project, service_name=name,
                              location=location, options=options, existing_bucket=bucket,
                              kind=kind, suffix=suffix)
    except ConfigurationError as error:
        where = bucket_parameter if error.parameter == "existing_bucket" else parameter
        inner = "" if error.parameter == "existing_bucket" else f".{error.parameter}"
        raise ConfigurationError(f"{where}{inner}", error.allowed, error.value) from None
    return True


def _whole(value: float) -> str:
    """A number as the worker reads it: whole (the API truncates durations to seconds)."""
    return str(value) if is_token(value) else str(int(value))


def _invoker_account_id_for(name: str) -> str:
    """``<name>-invoker``; a name too long for that is cut and tagged with its hash."""
    return fitted_id(name, defaults.INVOKER_ACCOUNT_SUFFIX)
