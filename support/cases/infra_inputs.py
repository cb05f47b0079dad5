"""Bad input for the infrastructure, as data: every case must be refused at construction
with a :class:`~constructs_lib.ConfigurationError` naming the parameter, leaving nothing
declared (a synth after the error writes none of it); every boundary value must be accepted.

Targets: the four constructs, an environment table (``stacks/environments.toml`` shape)
and the deploy settings read from environment variables. ``tests/infra/test_validation.py``
runs these tables case by case; ``python -m reliability`` counts them for the report.
"""

from __future__ import annotations

import dataclasses
import json
import math
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import constructs_lib  # noqa: F401 - lazy provider loading first
from constructs_lib import (
    CloudTasksToCloudRun,
    ConfigurationError,
    InvokerServiceAccount,
    QueueOptions,
    QueueRouting,
    SecretEnv,
    ServiceOptions,
    TaskQueue,
    WorkerService,
)
from constructs_lib._framework import GoogleProvider, cdk
from stacks.deploy_settings import DeploySettings
from stacks.settings import parse_environments
from stacks.tasks_stack import TasksStack

PROJECT = "example-project"
_DEPLOY = DeploySettings(project=PROJECT)


def _number_token() -> float:
    return cdk.Token.as_number(cdk.Fn.tonumber("5"))


def _text_token() -> str:
    return cdk.Fn.lower("WORKER")


class Lazy:
    """A value made when the case runs (tokens need a live jsii kernel)."""

    def __init__(self, make: Callable[[], Any], label: str) -> None:
        self.make, self.label = make, label

    def __repr__(self) -> str:
        return self.label


NUMBER_TOKEN = Lazy(_number_token, "<number token>")
TEXT_TOKEN = Lazy(_text_token, "<string token>")
PUBLIC_GLUED_TO_TOKEN = Lazy(lambda: cdk.Fn.lower("") + "allUsers", "<token>+'allUsers'")


def _realize(value: Any) -> Any:
    if isinstance(value, Lazy):
        return value.make()
    if isinstance(value, Mapping):
        return {k: _realize(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_realize(v) for v in value]
    return value


_SERVICE_FIELDS = {f.name for f in dataclasses.fields(ServiceOptions)}
_QUEUE_FIELDS = {f.name for f in dataclasses.fields(QueueOptions)}


def _environment(app: cdk.App, table: Mapping[str, Any]) -> None:
    """A flat case table, its service and queue keys moved to [dev.service] / [dev.queue]."""
    top: dict[str, Any] = {"service_name": "w1", "allow_placeholder_image": True}
    service: dict[str, Any] = {}
    queue: dict[str, Any] = {}
    for key, value in table.items():
        (service if key in _SERVICE_FIELDS else queue if key in _QUEUE_FIELDS else top)[key] = value
    environments = parse_environments({"dev": {**top, "service": service, "queue": queue}})
    TasksStack(app, environments["dev"], _DEPLOY)


def _deploy(app: cdk.App, environ: Mapping[str, str]) -> None:
    environments = parse_environments({"dev": {"service_name": "w1",
                                               "allow_placeholder_image": True}})
    TasksStack(app, environments["dev"],
               DeploySettings.from_environ({"GOOGLE_CLOUD_PROJECT": PROJECT, **environ}))


@dataclass(frozen=True)
class _Account:
    """An account known only by e-mail (any ServiceAccountLike will do; declares nothing)."""

    email: str

    @property
    def member(self) -> str:
        return f"serviceAccount:{self.email}"

    @property
    def name(self) -> str:
        return f"projects/-/serviceAccounts/{self.email}"

    def grant_act_as(self, member: str) -> Any:
        raise NotImplementedError("not used by these cases")


def _split(kwargs: Mapping[str, Any], structural: set[str]) -> tuple[dict, dict]:
    """Construct keywords, and the rest (option fields)."""
    return ({k: v for k, v in kwargs.items() if k in structural},
            {k: v for k, v in kwargs.items() if k not in structural})


def _service(stack: cdk.TerraformStack, **kwargs: Any) -> WorkerService:
    kwargs = dict(kwargs)
    if "service_account_email" in kwargs:
        kwargs["service_account"] = _Account(kwargs.pop("service_account_email"))
    construct, options = _split(kwargs, {"name", "location", "image", "service_account",
                                         "runtime_account_id", "custom_audiences", "project"})
    return WorkerService(stack, "c", **{"name": "w1", **construct},
                         options=ServiceOptions(**options))


def _queue(stack: cdk.TerraformStack, **kwargs: Any) -> TaskQueue:
    construct, options = _split(kwargs, {"name", "location", "routing", "project"})
    return TaskQueue(stack, "c", **{"name": "q1", **construct},
                     options=QueueOptions(**options))


def _pattern(stack: cdk.TerraformStack, **kwargs: Any) -> CloudTasksToCloudRun:
    kwargs = dict(kwargs)
    for key, options in (("service", ServiceOptions), ("queue", QueueOptions)):
        value = kwargs.get(key)
        if isinstance(value, Mapping):
            kwargs[key] = options.from_mapping(value)
    return CloudTasksToCloudRun(stack, "c", **{"project": PROJECT, "name": "w1", **kwargs})


def _user_stack(app: cdk.App) -> cdk.TerraformStack:
    stack = cdk.TerraformStack(app, "user")
    GoogleProvider(stack, "google", project=PROJECT)
    return stack


@dataclass(frozen=True)
class Target:
    """``setup`` declares what exists before the call under test (and returns its subject);
    ``call(subject, kwargs)`` is the call that must refuse bad input, declaring nothing."""

    setup: Callable[[cdk.App], Any]
    call: Callable[[Any, Mapping[str, Any]], Any]


def _in_stack(build: Callable[..., Any]) -> Target:
    return Target(_user_stack, lambda stack, kwargs: build(stack, **kwargs))


TARGETS: dict[str, Target] = {
    "service": _in_stack(_service),
    "queue": _in_stack(_queue),
    "invoker": _in_stack(
        lambda s, **kw: InvokerServiceAccount(s, "c", **{"account_id": "invoker", **kw})),
    "pattern": _in_stack(_pattern),
    "import": _in_stack(lambda s, **kw: InvokerServiceAccount.from_email(s, "c", **kw)),
    "grant": Target(lambda app: WorkerService(_user_stack(app), "c", name="w1"),
                    lambda worker, kwargs: worker.grant_invoke(**kwargs)),
    "environment": Target(lambda app: app, _environment),
    "deploy": Target(lambda app: app, _deploy),
}

_ROUTING = {"service_account_email": "inv@example-project.iam.gserviceaccount.com",
            "audience": "https://aud.example"}

# (target, keywords, parameter the error must name)
INVALID: list[tuple[str, dict[str, Any], str]] = [
    # Cloud Run service name
    ("service", {"name": "Worker"}, "name"),
    ("service", {"name": "1worker"}, "name"),
    ("service", {"name": "worker-"}, "name"),
    ("service", {"name": "w" * 50}, "name"),
    ("service", {"name": ""}, "name"),
    ("service", {"name": "wörker"}, "name"),
    ("service", {"name": " worker"}, "name"),
    # queue id
    ("queue", {"name": "jobs_1"}, "name"),
    ("queue", {"name": "q" * 101}, "name"),
    ("queue", {"name": ""}, "name"),
    # service account id
    ("invoker", {"account_id": "short"}, "account_id"),
    # an existing account, by e-mail
    ("import", {"email": "not-an-email"}, "email"),
    ("import", {"email": "legacy@example-project.iam.gserviceaccount.com "}, "email"),
    ("import", {"email": "Legacy@example-project.iam.gserviceaccount.com"}, "email"),
    ("invoker", {"account_id": "a" * 31}, "account_id"),
    ("invoker", {"account_id": "Invoker-1"}, "account_id"),
    ("invoker", {"account_id": "invoker-"}, "account_id"),
    ("invoker", {"account_id": "1nvoker"}, "account_id"),
    # rates
    ("queue", {"max_dispatches_per_second": 0}, "max_dispatches_per_second"),
    ("queue", {"max_dispatches_per_second": 500.1}, "max_dispatches_per_second"),
    ("queue", {"max_dispatches_per_second": "10"}, "max_dispatches_per_second"),
    ("queue", {"max_concurrent_dispatches": 0}, "max_concurrent_dispatches"),
    ("queue", {"max_concurrent_dispatches": 5001}, "max_concurrent_dispatches"),
    ("queue", {"max_attempts": 0}, "max_attempts"),
    ("queue", {"max_attempts": -2}, "max_attempts"),
    ("queue", {"max_attempts": 2.5}, "max_attempts"),
    ("queue", {"max_attempts": True}, "max_attempts"),
    # backoffs and retry duration
    ("queue", {"min_backoff_seconds": -1}, "min_backoff_seconds"),
    ("queue", {"max_backoff_seconds": -0.5}, "max_backoff_seconds"),
    ("queue", {"min_backoff_seconds": 10, "max_backoff_seconds": 5}, "min_backoff_seconds"),
    ("queue", {"max_retry_duration_seconds": -1}, "max_retry_duration_seconds"),
    ("queue", {"max_doublings": -1}, "max_doublings"),
    # zeros the provider drops or the API reads as unset (constructs_lib/limits.py)
    ("queue", {"max_doublings": 0}, "max_doublings"),
    ("queue", {"min_backoff_seconds": 0}, "min_backoff_seconds"),
    ("queue", {"min_backoff_seconds": 0, "max_backoff_seconds": 0}, "min_backoff_seconds"),
    ("queue", {"max_backoff_seconds": 0, "min_backoff_seconds": 0.5}, "max_backoff_seconds"),
    ("queue", {"name": "q" * 94, "name_suffix": True}, "name"),
    ("queue", {"name_suffix": "yes"}, "name_suffix"),
    ("queue", {"max_retry_duration_seconds": 1e300}, "max_retry_duration_seconds"),
    ("queue", {"min_backoff_seconds": float("nan")}, "min_backoff_seconds"),
    # log sampling
    ("queue", {"log_sampling_ratio": 1.01}, "log_sampling_ratio"),
    ("queue", {"log_sampling_ratio": -0.1}, "log_sampling_ratio"),
    # Cloud Run timeout, concurrency, scaling, resources
    ("service", {"timeout_seconds": 0}, "timeout_seconds"),
    ("service", {"timeout_seconds": 3601}, "timeout_seconds"),
    ("service", {"max_concurrency": 0}, "max_concurrency"),
    ("service", {"max_concurrency": 1001}, "max_concurrency"),
    ("service", {"min_instance_count": 3, "max_instance_count": 2}, "min_instance_count"),
    ("service", {"cpu": "3"}, "cpu"),
    ("service", {"memory": "512MB"}, "memory"),
    ("service", {"env": {"1BAD": "x"}}, "env key"),
    ("service", {"env": {"GOOD": 1}}, "env['GOOD']"),
    ("service", {"labels": {"Team": "x"}}, "labels key"),
    ("service", {"deletion_protection": "false"}, "deletion_protection"),
    ("service", {"image": "  "}, "image"),
    # ingress
    ("service", {"ingress": "INGRESS_TRAFFIC_PUBLIC"}, "ingress"),
    ("service", {"ingress": "internal"}, "ingress"),
    # runtime account
    ("service", {"service_account_email":
                 "123456-compute@developer.gserviceaccount.com"}, "service_account"),
    # dispatch deadline
    ("pattern", {"dispatch_deadline_seconds": 14}, "dispatch_deadline_seconds"),
    ("pattern", {"dispatch_deadline_seconds": 1801}, "dispatch_deadline_seconds"),
    ("pattern", {"dispatch_deadline_seconds": 700,
                 "service": {"timeout_seconds": 600}}, "dispatch_deadline_seconds"),
    # members
    ("pattern", {"enqueuers": ["allUsers"]}, "enqueuers[0]"),
    ("pattern", {"enqueuers": ["allAuthenticatedUsers"]}, "enqueuers[0]"),
    ("pattern", {"enqueuers": ["alice@example.com"]}, "enqueuers[0]"),
    ("pattern", {"enqueuers": ["user:"]}, "enqueuers[0]"),
    ("pattern", {"enqueuers": ["serviceAccount:no-at-sign"]}, "enqueuers[0]"),
    ("pattern", {"enqueuers": ["principal:not-a-uri"]}, "enqueuers[0]"),
    ("pattern", {"enqueuers": ["user:a@example.com "]}, "enqueuers[0]"),
    ("pattern", {"enqueuers": "user:a@example.com"}, "enqueuers"),
    # same location, pattern arguments
    ("pattern", {"queue": {"location": "europe-west1"}}, "key"),
    ("pattern", {"queue": {"max_attempts": 0}}, "max_attempts"),
    ("pattern", {"queue_name": "a b"}, "queue_name"),
    ("pattern", {"service": {"timeout_seconds": True}},
     "timeout_seconds"),
    ("pattern", {"service": {"env": {"1X": "y"}}}, "env key"),
    ("pattern", {"service": {"env": {"WORKER_PROJECT_ID": "p"}}},
     "service.env['WORKER_PROJECT_ID']"),
    ("pattern", {"image": ""}, "image"),
    ("pattern", {"queue": {"rate": 5}}, "key"),
    ("pattern", {"service": {"name": "other"}}, "key"),
    ("pattern", {"project": "My Project"}, "project"),
    ("pattern", {"name": "w" * 50}, "name"),
    ("pattern", {"invoker_account_id": "inv"}, "invoker_account_id"),
    ("service", {"runtime_account_id": "Run"}, "runtime_account_id"),
    ("pattern", {"audience": ""}, "audience"),
    ("pattern", {"task_path": "tasks"}, "task_path"),
    ("pattern", {"queue_level_routing": "yes"}, "queue_level_routing"),
    # wrong types
    ("service", {"name": None}, "name"),
    ("service", {"name": 42}, "name"),
    ("service", {"timeout_seconds": "600"}, "timeout_seconds"),
    ("service", {"cpu": 1}, "cpu"),
    ("service", {"env": ["A=1"]}, "env"),
    ("service", {"secret_env": ["TOKEN"]}, "secret_env"),
    ("service", {"secret_env": {"TOKEN": SecretEnv(secret="api-token")}, "env": {"TOKEN": "x"}},
     "secret_env['TOKEN']"),
    ("service", {"startup_probe": {"path": "/healthz"}}, "startup_probe"),
    ("service", {"image_managed_externally": "yes"}, "image_managed_externally"),
    ("service", {"custom_audiences": "https://aud.example"}, "custom_audiences"),
    ("service", {"custom_audiences": [""]}, "custom_audiences[0]"),
    ("service", {"project": 123}, "project"),
    ("service", {"container_port": 0}, "container_port"),
    ("service", {"min_instance_count": -1}, "min_instance_count"),
    ("service", {"max_instance_count": 0}, "max_instance_count"),
    ("queue", {"max_concurrent_dispatches": 10.5}, "max_concurrent_dispatches"),
    ("queue", {"log_sampling_ratio": math.inf}, "log_sampling_ratio"),
    ("queue", {"project": "Bad Project"}, "project"),
    ("queue", {"routing": "worker.run.app"}, "routing"),
    ("queue", {"routing": QueueRouting(host="w.run.app", path="tasks", **_ROUTING)}, "routing.path"),
    ("queue", {"routing": QueueRouting(host="w.run.app", service_account_email="nobody",
                                       audience="a")}, "routing.service_account_email"),
    ("invoker", {"account_id": None}, "account_id"),
    ("invoker", {"display_name": ""}, "display_name"),
    ("invoker", {"description": 7}, "description"),
    ("pattern", {"dispatch_deadline_seconds": True}, "dispatch_deadline_seconds"),
    ("pattern", {"enable_apis": "false"}, "enable_apis"),
    ("pattern", {"service": ["timeout_seconds"]}, "service"),
    ("pattern", {"enqueuers": None}, "enqueuers"),
    ("service", {"cpu": "8", "memory": "512Mi"}, "memory"),
    ("service", {"cpu": "1", "memory": "8Gi"}, "memory"),
    ("service", {"memory": "64Mi"}, "memory"),
    ("service", {"cpu": "0.5"}, "cpu"),
    ("service", {"labels": {"team": "UPPER VALUE!"}}, "labels['team']"),
    ("service", {"labels": {"team": "x" * 64}}, "labels['team']"),
    ("service", {"labels": {"team": "équipe-É"}}, "labels['team']"),  # non-ASCII capital
    ("service", {"labels": {"é" * 64: "x"}}, "labels key"),
    ("service", {"labels": {"1team": "x"}}, "labels key"),
    ("service", {"labels": {"run.googleapis.com/x": "y"}}, "labels key"),
    ("service", {"labels": {f"k{i}": "v" for i in range(64)}}, "labels"),
    # names Cloud Run reserves, and its env limits
    ("service", {"env": {"PORT": "8081"}}, "env key"),
    ("service", {"env": {"K_SERVICE": "x"}}, "env key"),
    ("service", {"env": {"K_REVISION": "x"}}, "env key"),
    ("service", {"env": {"K_CONFIGURATION": "x"}}, "env key"),
    ("service", {"env": {f"V{i}": "x" for i in range(1001)}}, "env"),
    ("service", {"env": {"BIG": "é" * 16385}}, "env['BIG']"),
    ("service", {"env": {"X" * 32769: "x"}}, "env key"),
    ("service", {"custom_audiences": ["a" * 32767]}, "custom_audiences"),
    ("service", {"timeout_seconds": 600.5}, "timeout_seconds"),
    # service account byte limits
    ("invoker", {"display_name": "é" * 51}, "display_name"),
    ("invoker", {"description": "x" * 257}, "description"),
    ("invoker", {"description": "é" * 129}, "description"),
    # member forms
    ("grant", {"member": "deleted:user:a@example.com?uid=1"}, "member"),
    ("grant", {"member": "serviceAccount:p.svc.id.goog"}, "member"),
    ("queue", {"max_attempts": 10**20}, "max_attempts"),
    ("queue", {"max_doublings": 2**53 + 1}, "max_doublings"),
    ("queue", {"max_backoff_seconds": -8.1e298}, "max_backoff_seconds"),
    # empty strings, white space, unicode
    ("queue", {"name": " jobs"}, "name"),
    ("queue", {"name": "jöbs"}, "name"),
    ("queue", {"location": ""}, "location"),
    ("service", {"location": "us-central1 "}, "location"),
    ("service", {"image": ""}, "image"),
    ("service", {"name": "worker\n"}, "name"),
    ("invoker", {"account_id": "invöker-1"}, "account_id"),
    ("invoker", {"account_id": "\tinvoker"}, "account_id"),
    ("pattern", {"enqueuers": ["user:\u00e4lice@example.com\u200b"]}, "enqueuers[0]"),
    ("pattern", {"enqueuers": ["user: a@example.com"]}, "enqueuers[0]"),
    ("pattern", {"audience": " "}, "audience"),
    ("pattern", {"project": ""}, "project"),
    ("pattern", {"name": "wörker"}, "name"),
    # token-valued edge cases
    ("service", {"name": Lazy(lambda: cdk.Fn.lower("x") + " BAD NAME", "<token>+' BAD NAME'")},
     "name"),
    ("grant", {"member": PUBLIC_GLUED_TO_TOKEN}, "member"),
    ("grant", {"member": "allUsers"}, "member"),
    ("pattern", {"dispatch_deadline_seconds": 10, "service": {
        "timeout_seconds": NUMBER_TOKEN}}, "dispatch_deadline_seconds"),
    ("queue", {"max_attempts": 0, "max_dispatches_per_second": NUMBER_TOKEN}, "max_attempts"),
    # environment tables (stacks/environments.toml)
    ("environment", {"max_atempts": 3}, "[dev] key"),
    ("environment", {"max_attempts": "3"}, "[dev.queue] max_attempts"),
    ("environment", {"deletion_protection": "false"}, "[dev.service] deletion_protection"),
    ("environment", {"enqueuers": ["allUsers"]}, "[dev] enqueuers[0]"),
    ("environment", {"enqueuers": "user:a@example.com"}, "[dev] enqueuers"),
    ("environment", {"queue_name": "tasks_dev"}, "[dev] queue_name"),
    ("environment", {"memory": "1GB"}, "[dev.service] memory"),
    ("environment", {"labels": {"Env": "dev"}}, "[dev.service] labels key"),
    ("environment", {"timeout_seconds": 300, "dispatch_deadline_seconds": 600},
     "[dev] dispatch_deadline_seconds"),
    ("environment", {"max_dispatches_per_second": 0}, "[dev.queue] max_dispatches_per_second"),
    ("environment", {"service_name": "Tasks-Worker"}, "[dev] service_name"),
    # deploy settings (environment variables)
    ("deploy", {"GOOGLE_CLOUD_PROJECT": "My Project"}, "GOOGLE_CLOUD_PROJECT"),
    ("deploy", {"GOOGLE_CLOUD_REGION": "mars"}, "GOOGLE_CLOUD_REGION"),
    ("deploy", {"TF_STATE_BUCKET": "Bad Bucket"}, "TF_STATE_BUCKET"),
    ("deploy", {"TF_STATE_PREFIX": "/abs"}, "TF_STATE_PREFIX"),
    ("deploy", {"TASK_ENQUEUERS": "allAuthenticatedUsers"}, "TASK_ENQUEUERS[0]"),
    ("deploy", {"TASK_ENQUEUERS": "alice@example.com"}, "TASK_ENQUEUERS[0]"),
]

# (target, keywords): each must synthesize, policy check included
VALID: list[tuple[str, dict[str, Any]]] = [
    ("service", {"name": "w"}),
    ("service", {"name": "w" * 49}),
    ("service", {"timeout_seconds": 1}),
    ("service", {"timeout_seconds": 3600}),
    ("service", {"max_concurrency": 1}),
    ("service", {"max_concurrency": 1000}),
    ("service", {"min_instance_count": 2, "max_instance_count": 2}),
    ("service", {"ingress": "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"}),
    ("service", {"ingress": "INGRESS_TRAFFIC_ALL"}),
    ("queue", {"name": "q" * 100}),
    ("queue", {"name": "Q-1"}),
    ("queue", {"max_dispatches_per_second": 500}),
    ("queue", {"max_dispatches_per_second": 0.001}),
    ("queue", {"max_concurrent_dispatches": 1}),
    ("queue", {"max_concurrent_dispatches": 5000}),
    ("queue", {"max_attempts": -1}),
    ("queue", {"max_attempts": 1}),
    ("queue", {"min_backoff_seconds": 0.001, "max_backoff_seconds": 0.001}),
    ("queue", {"max_doublings": 1}),
    ("queue", {"name": "q" * 93, "name_suffix": True}),
    ("queue", {"min_backoff_seconds": 5, "max_backoff_seconds": 5}),
    ("queue", {"max_retry_duration_seconds": 0}),
    ("queue", {"log_sampling_ratio": 0}),
    ("queue", {"log_sampling_ratio": 1}),
    ("invoker", {"account_id": "a" * 6}),
    ("invoker", {"account_id": "a" * 30}),
    ("import", {"email": "legacy-invoker@example-project.iam.gserviceaccount.com"}),
    ("import", {"email": "123-compute@developer.gserviceaccount.com"}),
    ("pattern", {"dispatch_deadline_seconds": 15}),
    ("pattern", {"dispatch_deadline_seconds": 1800,
                 "service": {"timeout_seconds": 1800}}),
    ("pattern", {"dispatch_deadline_seconds": 600, "service": {"timeout_seconds": 600}}),
    ("pattern", {"enqueuers": ["user:a@example.com", "group:g@example.com",
                               "domain:example.com",
                               "serviceAccount:s@p.iam.gserviceaccount.com",
                               "principal://iam.googleapis.com/projects/1/x",
                               "principalSet://iam.googleapis.com/projects/1/y"]}),
    ("pattern", {"location": "europe-west1", "queue": {"max_attempts": 3}}),
    ("service", {"custom_audiences": ["https://aud.example", "tasks"]}),
    ("service", {"cpu": "6", "memory": "4Gi"}),
    ("service", {"cpu": "8", "memory": "32Gi"}),
    ("service", {"cpu": "1", "memory": "128Mi"}),
    ("service", {"cpu": "2", "memory": "8Gi", "labels": {"team": "", "zone": "ü-1_x"}}),
    ("queue", {"max_attempts": 2147483647, "max_doublings": 2147483647}),
    ("service", {"name": Lazy(lambda: "w-" + cdk.Fn.lower("X"), "'w-'+<token>")}),
    ("service", {"container_port": 65535, "min_instance_count": 0}),
    ("service", {"project": "other-project-1"}),
    ("queue", {"routing": QueueRouting(host="w.run.app", **_ROUTING)}),
    ("queue", {"max_retry_duration_seconds": 0.5, "max_doublings": 1}),
    ("invoker", {"description": "signs task tokens", "display_name": "Tasks"}),
    ("invoker", {"description": "é" * 128, "display_name": "é" * 50}),
    ("invoker", {"project": "example.com:legacy-project"}),
    ("service", {"labels": {f"k{i}": "v" for i in range(63)}}),
    ("service", {"labels": {"équipe": "données-été", "かいはつ": "開発"}}),
    ("service", {"env": {f"V{i}": "x" for i in range(1000)}}),
    ("service", {"env": {"BIG": "é" * 16384, "PORTS": "1", "K_SERVICES": "x"}}),
    ("service", {"timeout_seconds": 600.0, "max_instance_count": 5000}),
    ("service", {"custom_audiences": ["https://a.example", "https://a.example"]}),
    ("grant", {"member": "serviceAccount:my-proj.svc.id.goog[tasks/enqueuer]"}),
    ("pattern", {"project": "example.com:legacy-project"}),
    ("grant", {"member": "principalSet://iam.googleapis.com/projects/1/x"}),
    ("queue", {"name": TEXT_TOKEN, "max_attempts": NUMBER_TOKEN,
               "max_dispatches_per_second": NUMBER_TOKEN}),
    ("service", {"name": TEXT_TOKEN, "timeout_seconds": NUMBER_TOKEN}),
    ("pattern", {"dispatch_deadline_seconds": NUMBER_TOKEN}),
    ("pattern", {"service": {"timeout_seconds": NUMBER_TOKEN}}),
    ("environment", {"timeout_seconds": 900, "dispatch_deadline_seconds": 900}),
    ("environment", {"enqueuers": ["group:ops@example.com"], "labels": {"env": "dev"}}),
    ("deploy", {"GOOGLE_CLOUD_REGION": "europe-west1", "TF_STATE_BUCKET": "my-state.bucket_1",
                "TASK_ENQUEUERS": "user:a@example.com, group:g@example.com"}),
]


def case_id(index: int, case: tuple) -> str:
    return f"{case[0]}-{case[2] if len(case) > 2 else 'ok'}-{index}"


@dataclass
class CaseOutcome:
    ok: bool
    detail: str


def run_invalid(target: str, kwargs: Mapping[str, Any], parameter: str,
                outdir: Path) -> CaseOutcome:
    """Build the case in a fresh App writing to ``outdir``; the call must raise the error,
    declare nothing, and a synth after it must write none of it."""
    app = cdk.App(outdir=str(outdir))
    subject = TARGETS[target].setup(app)
    before = _declared(app)
    types_before = {getattr(c, "terraform_resource_type", None) for c in app.node.find_all()}
    try:
        TARGETS[target].call(subject, _realize(kwargs))
    except ConfigurationError as error:
        if error.parameter != parameter:
            return CaseOutcome(False, f"named {error.parameter!r}, expected {parameter!r}")
        if not str(error).startswith(f"{parameter} must be ") or " was given" not in str(error):
            return CaseOutcome(False, f"message shape: {error}")
        leftovers = sorted(set(_declared(app)) - set(before))
        if leftovers:
            return CaseOutcome(False, f"half-created: {leftovers}")
        app.synth()
        leaked = _synthesized_resources(outdir) - types_before
        if leaked:
            return CaseOutcome(False, f"synthesized after the error: {sorted(leaked)}")
        return CaseOutcome(True, str(error))
    except Exception as error:  # noqa: BLE001 - a jsii/typeguard/Terraform error is the failure
        return CaseOutcome(False, f"{type(error).__name__} instead of ConfigurationError: {error}")
    return CaseOutcome(False, "accepted")


def _synthesized_resources(outdir: Path) -> set[str]:
    """Resource types in every stack file under ``outdir``."""
    types: set[str] = set()
    for path in outdir.glob("stacks/*/cdk.tf.json"):
        types |= set(json.loads(path.read_text()).get("resource", {}))
    return types


def _declared(app: cdk.App) -> list[str]:
    """Paths of every construct in ``app``."""
    return [c.node.path for c in app.node.find_all() if c is not app]


def run_valid(target: str, kwargs: Mapping[str, Any], outdir: Path) -> CaseOutcome:
    """Build and synthesize (validations on); a stack file must be written."""
    app = cdk.App(outdir=str(outdir))
    try:
        TARGETS[target].call(TARGETS[target].setup(app), _realize(kwargs))
        app.synth()
    except Exception as error:  # noqa: BLE001 - any refusal of a valid value is the failure
        return CaseOutcome(False, f"{type(error).__name__}: {error}")
    written = list(outdir.glob("stacks/*/cdk.tf.json"))
    return CaseOutcome(bool(written), f"{len(written)} stack file(s)")


@dataclass
class InfraInputsResult:
    invalid: int
    rejected: int
    valid: int
    accepted: int
    failures: list[str]


def run_all() -> InfraInputsResult:
    failures: list[str] = []
    rejected = accepted = 0
    with tempfile.TemporaryDirectory() as tmp:
        for index, (target, kwargs, parameter) in enumerate(INVALID):
            outcome = run_invalid(target, kwargs, parameter, Path(tmp) / f"i{index}")
            rejected += outcome.ok
            if not outcome.ok:
                failures.append(f"invalid {case_id(index, (target, kwargs, parameter))}: "
                                f"{outcome.detail}")
        for index, (target, kwargs) in enumerate(VALID):
            outcome = run_valid(target, kwargs, Path(tmp) / f"v{index}")
            accepted += outcome.ok
            if not outcome.ok:
                failures.append(f"valid {case_id(index, (target, kwargs))}: {outcome.detail}")
    return InfraInputsResult(len(INVALID), rejected, len(VALID), accepted, failures)
