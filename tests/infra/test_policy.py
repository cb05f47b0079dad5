"""The synth-time policy check, exercised through escape hatches."""

from __future__ import annotations

import json
from pathlib import Path

import cdktf
import pytest

from cdktf_cdktf_provider_google.cloud_run_v2_service_iam_member import (
    CloudRunV2ServiceIamMember,
)
from cdktf_cdktf_provider_google.project_iam_member import ProjectIamMember
from cdktf_cdktf_provider_google.provider import GoogleProvider
from constructs_lib import CloudTasksToCloudRun, PolicyCheck, find_violations
from tests.infra.conftest import PROJECT
from tests.infra.tfjson import synth


def pattern(stack) -> CloudTasksToCloudRun:
    return CloudTasksToCloudRun(stack, "tasks", project=PROJECT, name="orders")


def policy_error(stack) -> str:
    with pytest.raises(Exception) as caught:
        synth(stack)
    return str(caught.value)


def test_clean_pattern_passes(stack):
    pattern(stack)
    assert synth(stack)["resource"]


def test_public_invoker_through_add_override_fails(stack):
    tasks = pattern(stack)
    grant = tasks.service.grant_invoke("group:ops@example.com")
    grant.add_override("member", "allUsers")
    message = policy_error(stack)
    assert "policy: google_cloud_run_v2_service_iam_member." in message
    assert "public member 'allUsers'" in message


def test_public_enqueuer_and_act_as_through_add_override_fail(stack):
    tasks = pattern(stack)
    tasks.queue.grant_enqueue("group:ops@example.com").add_override(
        "member", "allAuthenticatedUsers")
    tasks.invoker.grant_act_as("group:ops@example.com").add_override("member", "allUsers")
    message = policy_error(stack)
    assert "google_cloud_tasks_queue_iam_member." in message
    assert "google_service_account_iam_member." in message


def test_project_level_run_invoker_added_by_hand_fails(stack):
    pattern(stack)
    ProjectIamMember(stack, "too-wide", project=PROJECT, role="roles/run.invoker",
                     member="serviceAccount:x@example-project.iam.gserviceaccount.com")
    message = policy_error(stack)
    assert "grants roles/run.invoker at project level" in message


def test_public_member_added_by_hand_fails(stack):
    tasks = pattern(stack)
    CloudRunV2ServiceIamMember(stack, "public", name=tasks.service.name,
                               location="us-central1", role="roles/run.invoker",
                               member="allUsers")
    assert "public member 'allUsers'" in policy_error(stack)


def test_service_moved_to_default_compute_account_fails(stack):
    tasks = pattern(stack)
    tasks.service.resource.add_override(
        "template.service_account", "123456789-compute@developer.gserviceaccount.com")
    assert "runs as the default compute account" in policy_error(stack)


def test_service_without_account_fails(stack):
    tasks = pattern(stack)
    tasks.service.resource.add_override("template.service_account", None)
    assert "no template.service_account" in policy_error(stack)


def test_invoker_check_disabled_fails(stack):
    tasks = pattern(stack)
    tasks.service.resource.add_override("invoker_iam_disabled", True)
    assert "invoker_iam_disabled" in policy_error(stack)


def test_failed_policy_writes_no_stack_output(tmp_path: Path):
    app = cdktf.App(outdir=str(tmp_path))
    bad = cdktf.TerraformStack(app, "bad")
    GoogleProvider(bad, "google", project=PROJECT)
    tasks = CloudTasksToCloudRun(bad, "tasks", project=PROJECT, name="orders")
    tasks.service.grant_invoke("user:a@example.com").add_override("member", "allUsers")
    with pytest.raises(Exception, match="public member 'allUsers'"):
        app.synth()
    assert not (tmp_path / "stacks" / "bad" / "cdk.tf.json").exists()


def test_check_can_guard_any_stack(stack):
    PolicyCheck.apply_to(stack)
    PolicyCheck.apply_to(stack)  # attached once
    ProjectIamMember(stack, "wide", project=PROJECT, role="roles/run.invoker",
                     member="user:a@example.com")
    message = policy_error(stack)
    assert message.count("at project level") == 1


def test_find_violations_reads_policies_and_bindings():
    terraform = {"resource": {
        "google_project_iam_policy": {"p": {"policy_data": json.dumps(
            {"bindings": [{"role": "roles/run.invoker", "members": ["user:a@example.com"]}]})}},
        "google_cloud_tasks_queue_iam_binding": {"b": {
            "role": "roles/cloudtasks.enqueuer", "members": ["user:a@x.com", "allUsers"]}},
        "google_cloud_run_v2_service": {"s": {"template": [{"service_account": "a@b.c"}]}},
    }}
    problems = find_violations(terraform)
    assert len(problems) == 2
    assert any("google_project_iam_policy.p grants roles/run.invoker" in p for p in problems)
    assert any("google_cloud_tasks_queue_iam_binding.b" in p for p in problems)
