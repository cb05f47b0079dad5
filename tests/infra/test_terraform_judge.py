"""Terraform judges representative library stacks: ``terraform init -backend=false`` reads
each whole configuration and refuses nothing but the (unreachable) provider download."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from constructs_lib import (
    AlertOptions,
    CloudTasksToCloudRun,
    CloudTasksToCloudRunJob,
    DeadLetterOptions,
    InvokerServiceAccount,
    JobOptions,
    QueueOptions,
    QueueRouting,
    SecretEnv,
    ServiceOptions,
    StartupProbe,
    TaskQueue,
    WorkerService,
)
from constructs_lib._framework import cdk
from tests.infra.tfjson import PROJECT
from tests.terraform import judge

CI = "serviceAccount:ci@example-project.iam.gserviceaccount.com"
OPS = "group:ops@example.com"


def _stack(backend: Callable[[cdk.TerraformStack], object] | None = None):
    from constructs_lib._framework import GoogleProvider

    stack = cdk.TerraformStack(cdk.Testing.app(), "judged")
    GoogleProvider(stack, "google", project=PROJECT, region="us-central1")
    if backend is not None:
        backend(stack)
    return stack


def minimal_pattern():
    stack = _stack()
    CloudTasksToCloudRun(stack, "tasks", project=PROJECT, name="orders")
    return stack


def several_patterns_routing_and_enqueuers():
    stack = _stack()
    CloudTasksToCloudRun(stack, "orders", project=PROJECT, name="orders",
                         enqueuers=[CI, OPS], queue_level_routing=True)
    second = CloudTasksToCloudRun(stack, "invoices", project=PROJECT, name="invoices",
                                  location="europe-west1", enqueuers=[OPS],
                                  queue=QueueOptions(name_suffix=True))
    CloudTasksToCloudRun(stack, "exports", project=PROJECT, name="exports",
                         queue=QueueOptions(name_suffix=True))  # one random provider
    second.grant_enqueue("user:alice@example.com")
    cdk.TerraformOutput(stack, "invoices_queue", value=second.queue_path)
    return stack


def gcs_backend():
    stack = _stack(lambda s: cdk.GcsBackend(s, bucket="acme-tf-state", prefix="tasks/dev"))
    CloudTasksToCloudRun(stack, "tasks", project=PROJECT, name="orders", enqueuers=[CI])
    return stack


def users_own_resources_next_to_the_constructs():
    from constructs_lib._framework import PubsubTopic, StorageBucket

    stack = _stack()
    tasks = CloudTasksToCloudRun(stack, "tasks", project=PROJECT, name="orders")
    bucket = StorageBucket(stack, "exports", name="acme-exports", location="EU",
                           uniform_bucket_level_access=True)
    topic = PubsubTopic(stack, "events", name="order-events", depends_on=[bucket])
    # the user's own escape hatch on a library resource
    tasks.service.resource.add_override("description", f"publishes to {topic.name}")
    tasks.service.grant_invoke(CI)
    cdk.TerraformOutput(stack, "task_url", value=tasks.task_url)
    return stack


def building_blocks_alone():
    stack = _stack()
    invoker = InvokerServiceAccount(stack, "invoker", account_id="blocks-invoker",
                                    project=PROJECT)
    service = WorkerService(stack, "worker", name="blocks", project=PROJECT,
                            options=ServiceOptions(deletion_protection=False))
    service.grant_invoke(invoker.member)
    queue = TaskQueue(stack, "queue", name="blocks", project=PROJECT, routing=QueueRouting(
        host=cdk.Fn.trimprefix(service.uri, "https://"),
        service_account_email=invoker.email, audience="https://blocks.example.com"))
    queue.grant_enqueue(CI)
    invoker.grant_act_as(CI)
    return stack


def secrets_probe_pipeline_image_and_an_imported_invoker():
    stack = _stack()
    legacy = InvokerServiceAccount.from_email(
        stack, "legacy", email="legacy-invoker@example-project.iam.gserviceaccount.com")
    CloudTasksToCloudRun(stack, "tasks", project=PROJECT, name="orders", invoker=legacy,
                         enqueuers=[CI], service=ServiceOptions(
                             secret_env={"DB": SecretEnv(secret="db-password")},
                             startup_probe=StartupProbe(), image_managed_externally=True))
    return stack


def a_job_pattern_next_to_a_service_pattern():
    stack = _stack()
    CloudTasksToCloudRun(stack, "tasks", project=PROJECT, name="orders", enqueuers=[CI])
    CloudTasksToCloudRunJob(stack, "reindex", project=PROJECT, name="reindex", enqueuers=[CI],
                            job=JobOptions(command=["python", "-m", "app.job"], task_count=4,
                                           parallelism=2, max_retries=0,
                                           secret_env={"K": SecretEnv(secret="k")}),
                            queue=QueueOptions(name_suffix=True))
    return stack


def apis_left_to_the_platform():
    stack = _stack()
    CloudTasksToCloudRun(stack, "tasks", project=PROJECT, name="orders", enable_apis=False)
    return stack


def stores_alerts_and_replay():
    stack = _stack()
    orders = CloudTasksToCloudRun(
        stack, "tasks", project=PROJECT, name="orders", queue=QueueOptions(name_suffix=True),
        alerts=AlertOptions(enabled=True, notification_channels=[
            f"projects/{PROJECT}/notificationChannels/1"]))
    orders.grant_replay(OPS)
    CloudTasksToCloudRun(stack, "invoices", project=PROJECT, name="invoices",
                         dead_letter_bucket="acme-invoices-dl",
                         dead_letters=None, task_names=None)
    CloudTasksToCloudRun(stack, "exports", project=PROJECT, name="exports",
                         dead_letters=DeadLetterOptions(enabled=False))
    return stack


STACKS = [stores_alerts_and_replay, minimal_pattern, several_patterns_routing_and_enqueuers, gcs_backend,
          users_own_resources_next_to_the_constructs, building_blocks_alone,
          secrets_probe_pipeline_image_and_an_imported_invoker,
          a_job_pattern_next_to_a_service_pattern, apis_left_to_the_platform]


@pytest.mark.parametrize("build", STACKS, ids=lambda build: build.__name__)
def test_terraform_accepts_library_stack(build):
    terraform = json.loads(cdk.Testing.synth(build(), True))
    verdict = judge(terraform)
    assert verdict.accepted, "\n\n".join(verdict.configuration_errors) or verdict.output


def test_the_judge_refuses_what_terraform_refuses():
    """The check can fail: the interpolated depends_on the first stacks wrote is refused."""
    terraform = json.loads(cdk.Testing.synth(minimal_pattern(), True))
    service = next(iter(terraform["resource"]["google_cloud_run_v2_service"].values()))
    service["depends_on"] = [f"${{{dep}}}" for dep in service["depends_on"]]
    verdict = judge(terraform)
    assert not verdict.accepted
    assert any("Invalid expression" in error and "depends_on" in error
               for error in verdict.configuration_errors), verdict.output


def test_the_judge_refuses_a_malformed_moved_block():
    terraform = json.loads(cdk.Testing.synth(minimal_pattern(), True))
    terraform["moved"] = [{"from": "google_cloud_run_v2_service.a", "to": "not an address"}]
    verdict = judge(terraform)
    assert not verdict.accepted
    assert verdict.configuration_errors, verdict.output
