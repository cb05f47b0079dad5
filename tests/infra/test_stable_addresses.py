"""Day 2: an everyday edit changes only what it is about.

Each case is a pair of configurations and the exact resources expected to appear,
disappear or change; every other resource must keep its address *and* its body. A moved
address is a destroy and a create in ``terraform plan`` (for IAM, the old and the new grant
of one member overlap during apply and the member can end without it).
Resources are named here by what they are (type and member or name), never by logical id.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from constructs_lib import (
    AlertOptions,
    CloudTasksToCloudRun,
    DeadLetterOptions,
    QueueOptions,
    ServiceOptions,
    defaults,
)
from constructs_lib._framework import cdk
from constructs_lib.buckets import derived_bucket_name
from tests.infra.tfjson import PROJECT

A = "serviceAccount:a@example-project.iam.gserviceaccount.com"
B = "group:b@example.com"
C = "user:c@example.com"
D = "domain:example.com"
QUEUE_IAM = "google_cloud_tasks_queue_iam_member"
ACT_AS = "google_service_account_iam_member"
RUN_IAM = "google_cloud_run_v2_service_iam_member"
BUCKET = "google_storage_bucket"
BUCKET_IAM = "google_storage_bucket_iam_member"
POLICY = "google_monitoring_alert_policy"
CHANNEL = "projects/example-project/notificationChannels/42"
RUNTIME = "serviceAccount:orders-run"


def _bucket(service: str, suffix: str) -> str:
    return derived_bucket_name(None, project=PROJECT, service_name=service, suffix=suffix)


DL_ORDERS = _bucket("orders", defaults.DEAD_LETTER_BUCKET_SUFFIX)
DL_INVOICES = _bucket("invoices", defaults.DEAD_LETTER_BUCKET_SUFFIX)
TN_INVOICES = _bucket("invoices", defaults.TASK_NAME_BUCKET_SUFFIX)


@dataclass(frozen=True)
class Config:
    enqueuers: tuple[str, ...] = (A, B, C)
    invokers: tuple[str, ...] = ()  # extra grant_invoke members on the service
    queue_options: dict[str, Any] = field(default_factory=dict)
    service_options: dict[str, Any] = field(default_factory=dict)
    second_pattern: bool = False
    dead_letters: dict[str, Any] | None = None  # DeadLetterOptions keywords
    alerts: dict[str, Any] | None = None  # AlertOptions keywords
    replayers: tuple[str, ...] = ()


def synthesized(config: Config) -> dict[str, dict[str, Any]]:
    """address -> body of every resource, from a fresh stack built from ``config``."""
    from constructs_lib._framework import GoogleProvider

    stack = cdk.TerraformStack(cdk.Testing.app(), "day2")
    GoogleProvider(stack, "google", project=PROJECT, region="us-central1")
    pattern = CloudTasksToCloudRun(
        stack, "tasks", project=PROJECT, name="orders", enqueuers=list(config.enqueuers),
        queue=QueueOptions(**config.queue_options),
        service=ServiceOptions(**config.service_options),
        dead_letters=None if config.dead_letters is None else DeadLetterOptions(
            **config.dead_letters),
        alerts=None if config.alerts is None else AlertOptions(**config.alerts))
    for member in config.replayers:
        pattern.grant_replay(member)
    for member in config.invokers:
        pattern.service.grant_invoke(member)
    if config.second_pattern:
        CloudTasksToCloudRun(stack, "invoices", project=PROJECT, name="invoices")
    terraform = json.loads(cdk.Testing.synth(stack, True))
    return {f"{rtype}.{name}": body
            for rtype, by_name in terraform["resource"].items()
            for name, body in by_name.items()}


def what(address: str, resources: dict[str, dict[str, Any]]) -> tuple[str, str]:
    """A resource by its type and what it is about: the member of a grant (an account of
    the same stack by its account id), else its name."""
    body = resources[address]
    rtype = address.split(".")[0]
    member = body.get("member")
    if isinstance(member, str) and member.startswith("${google_service_account."):
        account = resources[member[2:].rsplit(".", 1)[0]]
        member = f"serviceAccount:{account['account_id']}"
    if rtype == BUCKET_IAM:  # one member holds a role on each bucket: the role tells them
        role = body["role"]
        if role.startswith("${google_project_iam_custom_role."):
            role = resources[role[2:].rsplit(".", 1)[0]]["title"]
        member = f"{role} {member}"
    return rtype, (member or body.get("name") or body.get("account_id") or body.get("service")
                   or body.get("display_name") or body.get("title"))


def plan(before: Config, after: Config) -> dict[str, set[tuple[str, str]]]:
    old, new = synthesized(before), synthesized(after)
    return {
        "added": {what(a, new) for a in new.keys() - old.keys()},
        "removed": {what(a, old) for a in old.keys() - new.keys()},
        "changed": {what(a, new) for a in old.keys() & new.keys() if old[a] != new[a]},
    }


CASES = {
    "remove the first of three enqueuers": (
        Config(), Config(enqueuers=(B, C)),
        {"removed": {(QUEUE_IAM, A), (ACT_AS, A)}}),
    "remove the last of three enqueuers": (
        Config(), Config(enqueuers=(A, B)),
        {"removed": {(QUEUE_IAM, C), (ACT_AS, C)}}),
    "add an enqueuer in front": (
        Config(), Config(enqueuers=(D, A, B, C)),
        {"added": {(QUEUE_IAM, D), (ACT_AS, D)}}),
    "reorder the enqueuers": (Config(), Config(enqueuers=(C, A, B)), {}),
    "list an enqueuer twice": (Config(), Config(enqueuers=(A, B, C, A)), {}),
    "remove the first of three extra invokers": (
        Config(invokers=(A, B, C)), Config(invokers=(B, C)),
        {"removed": {(RUN_IAM, A)}}),
    "add an invoker in front": (
        Config(invokers=(B,)), Config(invokers=(A, B)),
        {"added": {(RUN_IAM, A)}}),
    # the worker reads the queue's limits from its environment: the service follows
    "change the retry policy": (
        Config(), Config(queue_options={"max_attempts": 3}),
        {"changed": {("google_cloud_tasks_queue", "orders"),
                     ("google_cloud_run_v2_service", "orders")}}),
    "change the memory": (
        Config(), Config(service_options={"memory": "1Gi"}),
        {"changed": {("google_cloud_run_v2_service", "orders")}}),
    "add a second pattern to the stack": (
        Config(), Config(second_pattern=True),
        {"added": {("google_cloud_run_v2_service", "invoices"),
                   ("google_cloud_tasks_queue", "invoices"),
                   ("google_service_account", "invoices-run"),
                   ("google_service_account", "invoices-invoker"),
                   (RUN_IAM, "serviceAccount:invoices-invoker"),
                   (BUCKET, DL_INVOICES), (BUCKET, TN_INVOICES),
                   (BUCKET_IAM, "roles/storage.objectCreator serviceAccount:invoices-run"),
                   (BUCKET_IAM, "roles/storage.objectUser serviceAccount:invoices-run")}}),
    "change the dead-letter retention": (
        Config(), Config(dead_letters={"retention_days": 90}),
        {"changed": {(BUCKET, DL_ORDERS)}}),
    "turn alerts on": (
        Config(), Config(alerts={"enabled": True, "notification_channels": [CHANNEL]}),
        {"added": {("google_logging_metric", "dead-letters/orders"),
                   (POLICY, "orders: queue backlog"), (POLICY, "orders: failing attempts"),
                   (POLICY, "orders: dispatch lag"), (POLICY, "orders: dead letters"),
                   ("google_project_service", "monitoring.googleapis.com"),
                   ("google_project_service", "logging.googleapis.com")}}),
    "change an alert threshold": (
        Config(alerts={"enabled": True, "notification_channels": [CHANNEL]}),
        Config(alerts={"enabled": True, "notification_channels": [CHANNEL],
                       "backlog_threshold": 50}),
        {"changed": {(POLICY, "orders: queue backlog")}}),
    "opt out of the dead-letter store": (
        Config(), Config(dead_letters={"enabled": False}),
        {"removed": {(BUCKET, DL_ORDERS),
                     (BUCKET_IAM, f"roles/storage.objectCreator {RUNTIME}")},
         # its WORKER_DEAD_LETTER_BUCKET leaves the service's environment
         "changed": {("google_cloud_run_v2_service", "orders")}}),
    "let a person replay dead letters": (
        Config(), Config(replayers=(B,)),
        {"added": {("google_project_iam_custom_role", "Dead-letter replay"),
                   (BUCKET_IAM, f"Dead-letter replay {B}")}}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_an_edit_changes_only_what_it_is_about(case):
    before, after, expected = CASES[case]
    assert plan(before, after) == {"added": set(), "removed": set(), "changed": set(),
                                   **expected}
