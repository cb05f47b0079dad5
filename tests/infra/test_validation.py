"""Every rule of the limits table: rejected at construction with the parameter named,
the value shown and what is allowed; the boundary values themselves accepted."""

from __future__ import annotations

import cdktf
import pytest

from constructs_lib import (
    CloudTasksToCloudRun,
    ConfigurationError,
    InvokerServiceAccount,
    TaskQueue,
    WorkerService,
)
from tests.infra.conftest import PROJECT
from tests.infra.tfjson import synth

FACTORIES = {
    "service": lambda s, **kw: WorkerService(s, "c", **{"name": "w1", **kw}),
    "queue": lambda s, **kw: TaskQueue(s, "c", **{"name": "q1", **kw}),
    "invoker": lambda s, **kw: InvokerServiceAccount(s, "c", **{"account_id": "invoker", **kw}),
    "pattern": lambda s, **kw: CloudTasksToCloudRun(
        s, "c", **{"project": PROJECT, "name": "w1", **kw}),
}

# (construct, keywords, parameter named in the message)
INVALID = [
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
                 "123456-compute@developer.gserviceaccount.com"}, "service_account_email"),
    ("service", {"service_account_email": "not-an-email"}, "service_account_email"),
    # dispatch deadline
    ("pattern", {"dispatch_deadline_seconds": 14}, "dispatch_deadline_seconds"),
    ("pattern", {"dispatch_deadline_seconds": 1801}, "dispatch_deadline_seconds"),
    ("pattern", {"dispatch_deadline_seconds": 700,
                 "service_options": {"timeout_seconds": 600}}, "dispatch_deadline_seconds"),
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
    ("pattern", {"queue_options": {"location": "europe-west1"}}, "queue_options['location']"),
    ("pattern", {"queue_options": {"max_attempts": 0}}, "max_attempts"),
    ("pattern", {"queue_options": {"rate": 5}}, "queue_options key"),
    ("pattern", {"service_options": {"name": "other"}}, "service_options key"),
    ("pattern", {"project": "My Project"}, "project"),
    ("pattern", {"name": "w" * 50}, "name"),
    ("pattern", {"invoker_account_id": "inv"}, "invoker_account_id"),
    ("service", {"runtime_account_id": "Run"}, "runtime_account_id"),
    ("pattern", {"audience": ""}, "audience"),
    ("pattern", {"task_path": "tasks"}, "task_path"),
    ("pattern", {"queue_level_routing": "yes"}, "queue_level_routing"),
]


@pytest.mark.parametrize(
    ("construct", "kwargs", "parameter"), INVALID,
    ids=[f"{c}-{p}-{i}" for i, (c, _, p) in enumerate(INVALID)],
)
def test_invalid_input_is_rejected_at_construction(stack, construct, kwargs, parameter):
    before = {child.node.id for child in stack.node.children}
    with pytest.raises(ConfigurationError) as caught:
        FACTORIES[construct](stack, **kwargs)
    message = str(caught.value)
    assert message.startswith(f"{parameter} must be "), message
    assert " but " in message and message.endswith(" was given")
    assert caught.value.parameter == parameter
    # nothing half-created: the scope is exactly as before
    assert {child.node.id for child in stack.node.children} == before


def test_error_is_a_value_error_with_the_value_shown(stack):
    with pytest.raises(ValueError, match=r"max_attempts must be -1 or a whole number of at "
                                         r"least 1, but 0 was given"):
        TaskQueue(stack, "q", name="jobs", max_attempts=0)


VALID_BOUNDARIES = [
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
    ("queue", {"min_backoff_seconds": 0, "max_backoff_seconds": 0}),
    ("queue", {"min_backoff_seconds": 5, "max_backoff_seconds": 5}),
    ("queue", {"max_retry_duration_seconds": 0}),
    ("queue", {"log_sampling_ratio": 0}),
    ("queue", {"log_sampling_ratio": 1}),
    ("invoker", {"account_id": "a" * 6}),
    ("invoker", {"account_id": "a" * 30}),
    ("pattern", {"dispatch_deadline_seconds": 15}),
    ("pattern", {"dispatch_deadline_seconds": 1800,
                 "service_options": {"timeout_seconds": 1800}}),
    ("pattern", {"dispatch_deadline_seconds": 600, "service_options": {"timeout_seconds": 600}}),
    ("pattern", {"enqueuers": ["user:a@example.com", "group:g@example.com",
                               "domain:example.com",
                               "serviceAccount:s@p.iam.gserviceaccount.com",
                               "principal://iam.googleapis.com/projects/1/x",
                               "principalSet://iam.googleapis.com/projects/1/y"]}),
    ("pattern", {"queue_options": {"location": "us-central1"}}),
]


@pytest.mark.parametrize(("construct", "kwargs"), VALID_BOUNDARIES,
                         ids=[f"{c}-{i}" for i, (c, _) in enumerate(VALID_BOUNDARIES)])
def test_boundary_values_are_accepted(stack, construct, kwargs):
    FACTORIES[construct](stack, **kwargs)
    assert synth(stack)["resource"]


def test_unresolved_tokens_are_not_judged(stack):
    number = cdktf.Token.as_number(cdktf.Fn.tonumber("5"))
    text = cdktf.Fn.lower("WORKER")
    TaskQueue(stack, "q", name=text, max_attempts=number, max_dispatches_per_second=number)
    WorkerService(stack, "w", name=text, timeout_seconds=number)
    assert synth(stack)["resource"]["google_cloud_tasks_queue"]


def test_token_glued_to_a_public_member_is_refused(stack):
    worker = WorkerService(stack, "w", name="w1")
    with pytest.raises(ConfigurationError):
        worker.grant_invoke(cdktf.Fn.lower("allUsers"[:0]) + "allUsers")
