"""The policy check guards what the library owns, and only that (unless asked for more)."""

from __future__ import annotations

import json

import pytest

from constructs_lib import CloudTasksToCloudRun, PolicyCheck
from constructs_lib._framework import (
    CloudRunV2Service,
    CloudRunV2ServiceIamMember,
    CloudRunV2ServiceTemplate,
    CloudRunV2ServiceTemplateContainers,
    ProjectIamMember,
    StorageBucket,
    StorageBucketIamMember,
    cdk,
)
from tests.infra.tfjson import PROJECT, synth
from tests.terraform import judge


def users_public_site(stack) -> None:
    """A user's own public static site and an unrelated public frontend service."""
    bucket = StorageBucket(stack, "site", name="acme-site", location="EU")
    StorageBucketIamMember(stack, "public-read", bucket=bucket.name,
                           role="roles/storage.objectViewer", member="allUsers")
    frontend = CloudRunV2Service(stack, "frontend", name="frontend", location="us-central1",
                                 deletion_protection=False, template=CloudRunV2ServiceTemplate(
                                     containers=[CloudRunV2ServiceTemplateContainers(
                                         image="us-docker.pkg.dev/cloudrun/container/hello")]))
    CloudRunV2ServiceIamMember(stack, "frontend-public", name=frontend.name,
                               location=frontend.location, role="roles/run.invoker",
                               member="allUsers")


def test_a_users_unrelated_public_resources_synthesize(stack):
    CloudTasksToCloudRun(stack, "tasks", project=PROJECT, name="orders")
    users_public_site(stack)
    assert "google_storage_bucket_iam_member" in synth(stack)["resource"]


def test_a_public_invoker_on_the_patterns_service_still_fails(stack):
    tasks = CloudTasksToCloudRun(stack, "tasks", project=PROJECT, name="orders")
    users_public_site(stack)
    CloudRunV2ServiceIamMember(stack, "oops", name=tasks.service.name,
                               location=tasks.service.location, role="roles/run.invoker",
                               member="allAuthenticatedUsers")
    with pytest.raises(Exception) as caught:
        synth(stack)
    message = str(caught.value)
    assert "'allAuthenticatedUsers'" in message
    assert "google_cloud_run_v2_service_iam_member.oops" in message
    assert "frontend" not in message and "public-read" not in message


def test_project_level_invoker_still_fails(stack):
    CloudTasksToCloudRun(stack, "tasks", project=PROJECT, name="orders")
    ProjectIamMember(stack, "wide", project=PROJECT, role="roles/run.invoker",
                     member="user:a@example.com")
    with pytest.raises(Exception, match="at project level"):
        synth(stack)


def test_an_escape_hatch_on_a_library_resource_is_checked(stack):
    tasks = CloudTasksToCloudRun(stack, "tasks", project=PROJECT, name="orders")
    tasks.service.resource.add_override("invoker_iam_disabled", True)
    with pytest.raises(Exception, match="invoker_iam_disabled"):
        synth(stack)


def test_whole_stack_checking_is_an_explicit_opt_in(stack):
    CloudTasksToCloudRun(stack, "tasks", project=PROJECT, name="orders")
    users_public_site(stack)
    PolicyCheck.apply_to(stack, whole_stack=True)
    with pytest.raises(Exception) as caught:
        synth(stack)
    message = str(caught.value)
    assert "google_storage_bucket_iam_member.public-read" in message
    assert "google_cloud_run_v2_service.frontend has no template.service_account" in message


def test_a_deliberate_exception_is_written_into_the_stack(tmp_path):
    from constructs_lib._framework import GoogleProvider

    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.TerraformStack(app, "site")
    GoogleProvider(stack, "google", project=PROJECT)
    CloudTasksToCloudRun(stack, "tasks", project=PROJECT, name="orders")
    users_public_site(stack)
    PolicyCheck.apply_to(stack, whole_stack=True)
    for rid in ("public-read", "frontend-public"):
        resource = next(c for c in stack.node.children if c.node.id == rid)
        PolicyCheck.allow(resource, "public-member", reason="public marketing site")
    frontend = next(c for c in stack.node.children if c.node.id == "frontend")
    PolicyCheck.allow(frontend, "default-service-account", reason="static pages, no APIs")
    app.synth()  # the whole-stack check passes: each public grant carries its exception
    tf = json.loads((tmp_path / "stacks" / "site" / "cdk.tf.json").read_text())
    comment = tf["resource"]["google_storage_bucket_iam_member"]["public-read"]["//"]
    assert comment["constructs_lib_policy_exceptions"] == {
        "public-member": "public marketing site"}
    verdict = judge(tf)  # Terraform reads "//" as a comment
    assert verdict.accepted, verdict.configuration_errors


def test_an_exception_names_a_known_rule_and_a_reason(stack):
    bucket = StorageBucket(stack, "b", name="acme-b", location="EU")
    with pytest.raises(ValueError, match="rule must be one of public-member"):
        PolicyCheck.allow(bucket, "anything-goes", reason="x")
    with pytest.raises(ValueError, match="reason must be"):
        PolicyCheck.allow(bucket, "public-member", reason=" ")
