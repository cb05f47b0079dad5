"""CloudTasksToCloudRun: the pattern that wires a queue to a private Cloud Run worker.

It only composes :class:`WorkerService`, :class:`TaskQueue` and
:class:`InvokerServiceAccount` and adds the IAM and API enablement between them; every
default lives in :mod:`constructs_lib.defaults`.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from cdktf import Fn
from constructs import Construct

from . import defaults
from .ids import fitted_id
from .invoker_service_account import InvokerServiceAccount
from .policy import PolicyCheck
from .project_apis import ProjectApis
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
    keyword_arguments,
)
from .worker_service import WorkerService, check_worker_service_arguments

# Keywords the pattern sets itself; passing them in the *_options maps is refused.
_MANAGED_SERVICE_KEYS = frozenset({"name", "location", "project", "custom_audiences", "depends_on"})
_MANAGED_QUEUE_KEYS = frozenset({"name", "project", "routing", "depends_on"})


class CloudTasksToCloudRun(Construct):
    """A Cloud Tasks queue that pushes HTTP tasks, with an OIDC token, to a private
    Cloud Run service that only the queue's invoker account may call.

    Resources: the service (and its runtime account), the queue, the invoker account,
    ``roles/run.invoker`` for the invoker on the service, ``roles/cloudtasks.enqueuer`` on
    the queue and ``roles/iam.serviceAccountUser`` on the invoker for each member of
    ``enqueuers``, and the run / cloudtasks / iam APIs (never disabled on destroy).
    A :class:`~constructs_lib.policy.PolicyCheck` is attached to the enclosing stack.
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
        queue_name: str | None = None,
        invoker_account_id: str | None = None,
        audience: str | None = None,
        dispatch_deadline_seconds: int = defaults.DISPATCH_DEADLINE_SECONDS,
        enqueuers: Sequence[str] = (),
        queue_level_routing: bool = False,
        enable_apis: bool = True,
        task_path: str = defaults.TASK_PATH,
        service_options: Mapping[str, Any] | None = None,
        queue_options: Mapping[str, Any] | None = None,
    ) -> None:
        """
        :param project: project id; also part of the default audience.
        :param name: base name: the service name, and the stem of the queue and
            invoker account names.
        :param location: region of the service and the queue. Default: ``us-central1``.
        :param image: worker container image. Default: Google's ``hello`` sample.
        :param queue_name: queue id. Default: ``name``.
        :param invoker_account_id: invoker account id. Default: ``<name>-invoker``; when
            that is over 30 characters, the name is cut and a hash of the whole name added
            (``<cut name>-<hash6>-invoker``), so long names never collide.
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
        :param service_options: further :class:`WorkerService` keywords (image, env,
            scaling, ...). Default: none.
        :param queue_options: further :class:`TaskQueue` keywords (rates, retries, ...).
            Default: none.
        """
        plan = _plan(
            project=project, name=name, location=location, image=image,
            queue_name=queue_name, invoker_account_id=invoker_account_id, audience=audience,
            dispatch_deadline_seconds=dispatch_deadline_seconds, enqueuers=enqueuers,
            queue_level_routing=queue_level_routing, enable_apis=enable_apis,
            task_path=task_path, service_options=service_options, queue_options=queue_options,
        )
        # Everything was checked before the first resource: a caller who catches the
        # error is left with no half-built pattern.
        super().__init__(scope, id_)
        self.audience = plan.audience
        self.dispatch_deadline_seconds = plan.dispatch_deadline_seconds
        self.task_path = plan.task_path
        # Shared by every pattern of the stack in this project: each API is declared once.
        apis = ProjectApis.of(self, project) if enable_apis else None
        self.apis = [apis.enable(api) for api in defaults.ENABLED_APIS] if apis else []
        self.invoker = InvokerServiceAccount(
            self, "invoker", account_id=plan.invoker_account_id, project=project,
            display_name=defaults.INVOKER_DISPLAY_NAME.format(service=name),
            depends_on=self.apis,
        )
        self.service = WorkerService(
            self, "service", name=name, location=location, project=project,
            custom_audiences=[plan.audience],
            env={
                **plan.user_env,
                defaults.WORKER_AUDIENCE_ENV: plan.audience,
                defaults.WORKER_INVOKER_EMAIL_ENV: self.invoker.email,
                defaults.WORKER_PROJECT_ID_ENV: project,
            },
            depends_on=self.apis,
            **plan.service_kwargs,
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
            routing=routing, depends_on=self.apis, **plan.queue_kwargs,
        )

        self.service.grant_invoke(self.invoker.member)
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
    user_env: dict[str, str]
    service_kwargs: dict[str, Any]
    queue_kwargs: dict[str, Any]


def check_pattern_arguments(**kwargs: Any) -> None:
    """Validate :class:`CloudTasksToCloudRun` keywords without declaring anything, so a
    stack can refuse bad settings before its first resource (provider, backend)."""
    _plan(**keyword_arguments(CloudTasksToCloudRun.__init__, kwargs))


def _plan(*, project, name, location, image, queue_name, invoker_account_id, audience,
          dispatch_deadline_seconds, enqueuers, queue_level_routing, enable_apis, task_path,
          service_options, queue_options) -> _Plan:
    check_string("project", project, pattern=PROJECT_ID, allowed=PROJECT_ID_TEXT)
    check_string("name", name, pattern=CLOUD_RUN_NAME, allowed=CLOUD_RUN_NAME_TEXT)
    enqueuers = check_members("enqueuers", enqueuers)
    check_bool("queue_level_routing", queue_level_routing)
    check_bool("enable_apis", enable_apis)
    check_string("task_path", task_path, pattern=r"/[^\s?#]*",
                 allowed="an absolute path starting with /")
    service_kwargs = _options("service_options", service_options, WorkerService,
                              _MANAGED_SERVICE_KEYS)
    queue_kwargs = _options("queue_options", queue_options, TaskQueue,
                            _MANAGED_QUEUE_KEYS)
    queue_location = queue_kwargs.pop("location", location)
    if queue_location != location:
        raise ConfigurationError(
            "queue_options['location']", f"the service's location ({location!r})",
            queue_location,
        )
    if audience is None:
        # a legacy domain-scoped project (example.com:p) has no ":" in a host name
        audience = defaults.AUDIENCE_TEMPLATE.format(
            name=name, location=location, project=project.replace(":", ".")
        )
    check_non_empty("audience", audience)
    account_id = invoker_account_id or _invoker_account_id_for(name)
    check_string("invoker_account_id", account_id, pattern=ACCOUNT_ID,
                 allowed=ACCOUNT_ID_TEXT)

    user_env = service_kwargs.pop("env", None)
    if user_env is None:
        user_env = {}
    if not isinstance(user_env, Mapping):
        raise ConfigurationError("service_options['env']",
                                 "a mapping of variable names to values", user_env)
    user_env = dict(user_env)
    for key in (defaults.WORKER_AUDIENCE_ENV, defaults.WORKER_INVOKER_EMAIL_ENV,
                defaults.WORKER_PROJECT_ID_ENV):
        if key in user_env:
            raise ConfigurationError(
                f"service_options['env'][{key!r}]",
                "left unset (the pattern sets it from the invoker, audience and project)",
                user_env[key],
            )
    service_kwargs.setdefault("image", image)
    if queue_name is not None:
        check_string("queue_name", queue_name, pattern=QUEUE_ID, allowed=QUEUE_ID_TEXT)
    queue_name = queue_name or name
    with _named_as_option("service_options", set(service_options or {})):
        check_worker_service_arguments(name=name, location=location, env=user_env,
                                       custom_audiences=[audience], **service_kwargs)
    with _named_as_option("queue_options", set(queue_options or {})):
        check_task_queue_arguments(name=queue_name, location=location, **queue_kwargs)
    timeout = service_kwargs.get("timeout_seconds", defaults.TIMEOUT_SECONDS)
    check_number("dispatch_deadline_seconds", dispatch_deadline_seconds, minimum=15,
                 maximum=1800, integer=True)
    if (not is_token(timeout) and not is_token(dispatch_deadline_seconds)
            and isinstance(timeout, (int, float))
            and dispatch_deadline_seconds > timeout):
        raise ConfigurationError(
            "dispatch_deadline_seconds",
            f"at most the service's timeout_seconds ({timeout})",
            dispatch_deadline_seconds,
        )
    return _Plan(
        audience=audience, dispatch_deadline_seconds=dispatch_deadline_seconds,
        task_path=task_path, queue_name=queue_name, invoker_account_id=account_id,
        enqueuers=enqueuers, user_env=user_env, service_kwargs=service_kwargs,
        queue_kwargs=queue_kwargs,
    )


@contextmanager
def _named_as_option(option: str, keys: set[str]) -> Iterator[None]:
    """Re-raise a child construct's error under the name the caller used:
    ``max_attempts`` passed in ``queue_options`` is reported as ``queue_options['max_attempts']``."""
    try:
        yield
    except ConfigurationError as error:
        root = re.split(r"[\[. ]", error.parameter, maxsplit=1)[0]
        if root not in keys:
            raise
        raise ConfigurationError(f"{option}[{root!r}]{error.parameter[len(root):]}",
                                 error.allowed, error.value) from None


def _invoker_account_id_for(name: str) -> str:
    """``<name>-invoker``; a name too long for that is cut and tagged with its hash."""
    return fitted_id(name, defaults.INVOKER_ACCOUNT_SUFFIX)


def _options(parameter: str, options: Mapping[str, Any] | None, construct: type,
             managed: frozenset[str]) -> dict[str, Any]:
    """Check an options map against ``construct``'s keywords; return a copy."""
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise ConfigurationError(parameter, "a mapping of keyword arguments", options)
    signature = inspect.signature(construct.__init__)
    accepted = {
        p.name for p in signature.parameters.values() if p.kind is p.KEYWORD_ONLY
    } - managed
    for key in options:
        if key not in accepted:
            raise ConfigurationError(
                f"{parameter} key", "one of " + ", ".join(sorted(accepted)), key
            )
    return dict(options)
