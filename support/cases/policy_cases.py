"""Escape hatches that must not get past the synth-time policy check, as data.

Each case builds the shipped pattern in a user's stack, then breaks the policy the way a
hurried engineer would: ``add_override`` on a generated resource, or a resource written by
hand next to the pattern. The synth must fail with a message naming the resource and the
rule, and write no stack file. ``tests/infra/test_policy.py`` runs every case;
``python -m reliability`` counts them for the report.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import constructs_lib  # noqa: F401 - lazy provider loading first
from constructs_lib import CloudTasksToCloudRun, WorkerService
from constructs_lib._framework import (
    CloudRunV2ServiceIamMember,
    CloudRunV2ServiceIamPolicy,
    CloudTasksQueueIamBinding,
    DataGoogleComputeDefaultServiceAccount,
    DataGoogleIamPolicy,
    DataGoogleIamPolicyBinding,
    GoogleProvider,
    ProjectIamBinding,
    ProjectIamMember,
    ProjectIamPolicy,
    cdk,
)

PROJECT = "example-project"
CALLER = "serviceAccount:caller@example-project.iam.gserviceaccount.com"
Breaker = Callable[[cdk.TerraformStack, CloudTasksToCloudRun], None]


def _public_invoker_override(stack, tasks):
    tasks.service.grant_invoke(CALLER).add_override("member", "allUsers")


def _public_enqueuer_override(stack, tasks):
    tasks.queue.grant_enqueue(CALLER).add_override("member", "allAuthenticatedUsers")


def _public_act_as_override(stack, tasks):
    tasks.invoker.grant_act_as(CALLER).add_override("member", "allUsers")


def _public_invoker_by_hand(stack, tasks):
    CloudRunV2ServiceIamMember(stack, "hand", name=tasks.service.name, location="us-central1",
                               role="roles/run.invoker", member="allUsers")


def _public_enqueuer_binding_by_hand(stack, tasks):
    CloudTasksQueueIamBinding(stack, "hand", name=tasks.queue.name, location="us-central1",
                              role="roles/cloudtasks.enqueuer",
                              members=[CALLER, "allAuthenticatedUsers"])


def _project_invoker_member(stack, tasks):
    ProjectIamMember(stack, "hand", project=PROJECT, role="roles/run.invoker", member=CALLER)


def _project_invoker_binding(stack, tasks):
    ProjectIamBinding(stack, "hand", project=PROJECT, role="roles/run.invoker",
                      members=[CALLER])


def _project_invoker_role_override(stack, tasks):
    member = ProjectIamMember(stack, "hand", project=PROJECT, role="roles/viewer",
                              member=CALLER)
    member.add_override("role", "roles/run.invoker")


def _policy_document(stack, role: str, members: list[str]) -> DataGoogleIamPolicy:
    return DataGoogleIamPolicy(stack, "document", binding=[
        DataGoogleIamPolicyBinding(role=role, members=members)])


def _public_invoker_via_policy_document(stack, tasks):
    document = _policy_document(stack, "roles/run.invoker", ["allUsers"])
    CloudRunV2ServiceIamPolicy(stack, "hand", name=tasks.service.name, location="us-central1",
                               policy_data=document.policy_data)


def _project_invoker_via_policy_document(stack, tasks):
    document = _policy_document(stack, "roles/run.invoker", [CALLER])
    ProjectIamPolicy(stack, "hand", project=PROJECT, policy_data=document.policy_data)


def _building_block_on_default_account(stack, worker):
    worker.resource.add_override(
        "template.service_account", "123456789012-compute@developer.gserviceaccount.com")


def _default_compute_account(stack, tasks):
    tasks.service.resource.add_override(
        "template.service_account", "123456789012-compute@developer.gserviceaccount.com")


def _default_account_from_data_source(stack, tasks):
    default = DataGoogleComputeDefaultServiceAccount(stack, "default-account")
    tasks.service.resource.add_override("template.service_account", default.email)


def _app_engine_default_account(stack, tasks):
    tasks.service.resource.add_override(
        "template.service_account", f"{PROJECT}@appspot.gserviceaccount.com")


def _no_service_account(stack, tasks):
    tasks.service.resource.add_override("template.service_account", None)


def _invoker_check_disabled(stack, tasks):
    tasks.service.resource.add_override("invoker_iam_disabled", True)


@dataclass(frozen=True)
class PolicyCase:
    name: str
    breaker: Breaker
    expected: str  # part of the message the synth must fail with
    pattern: bool = True  # False: a stack built from WorkerService alone


CASES = [
    PolicyCase("public invoker via add_override", _public_invoker_override,
               "google_cloud_run_v2_service_iam_member"),
    PolicyCase("public enqueuer via add_override", _public_enqueuer_override,
               "public member 'allAuthenticatedUsers'"),
    PolicyCase("public actAs via add_override", _public_act_as_override,
               "google_service_account_iam_member"),
    PolicyCase("public invoker written by hand", _public_invoker_by_hand,
               "public member 'allUsers'"),
    PolicyCase("public member in an authoritative binding", _public_enqueuer_binding_by_hand,
               "google_cloud_tasks_queue_iam_binding"),
    PolicyCase("project-level run.invoker member", _project_invoker_member,
               "roles/run.invoker at project level"),
    PolicyCase("project-level run.invoker binding", _project_invoker_binding,
               "roles/run.invoker at project level"),
    PolicyCase("role overridden to run.invoker", _project_invoker_role_override,
               "roles/run.invoker at project level"),
    PolicyCase("service moved to the default compute account", _default_compute_account,
               "runs as the default compute account"),
    PolicyCase("default compute account through its data source",
               _default_account_from_data_source, "runs as the default compute account"),
    PolicyCase("App Engine default account", _app_engine_default_account,
               "runs as the default compute account"),
    PolicyCase("service account removed", _no_service_account, "no template.service_account"),
    PolicyCase("invoker IAM check disabled", _invoker_check_disabled, "invoker_iam_disabled"),
    PolicyCase("public invoker through a data.google_iam_policy document",
               _public_invoker_via_policy_document, "data.google_iam_policy.document"),
    PolicyCase("project-level run.invoker through a policy document",
               _project_invoker_via_policy_document, "roles/run.invoker at project level"),
    PolicyCase("building block alone on the default compute account",
               _building_block_on_default_account, "runs as the default compute account",
               pattern=False),
]


@dataclass
class PolicyOutcome:
    ok: bool
    detail: str


def run_case(case: PolicyCase, outdir: Path) -> PolicyOutcome:
    """Synthesize the broken stack: it must fail, readably, and write nothing."""
    app = cdk.App(outdir=str(outdir))
    stack = cdk.TerraformStack(app, "broken")
    GoogleProvider(stack, "google", project=PROJECT)
    if case.pattern:
        built = CloudTasksToCloudRun(stack, "tasks", project=PROJECT, name="orders")
    else:
        built = WorkerService(stack, "worker", name="orders")
    case.breaker(stack, built)
    try:
        app.synth()
    except Exception as error:  # noqa: BLE001 - the validation error is what we want
        message = str(error)
        written = list(outdir.glob("stacks/*/cdk.tf.json"))
        if case.expected not in message or "policy: " not in message:
            return PolicyOutcome(False, f"unexpected message: {message}")
        if written:
            return PolicyOutcome(False, f"stack file written: {written}")
        return PolicyOutcome(True, next(line.strip() for line in message.splitlines()
                                        if "policy: " in line))
    return PolicyOutcome(False, "synth succeeded")


def run_all() -> tuple[int, int, list[str]]:
    """(cases, refused as required, failures)."""
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        for index, case in enumerate(CASES):
            outcome = run_case(case, Path(tmp) / str(index))
            if not outcome.ok:
                failures.append(f"{case.name}: {outcome.detail}")
    return len(CASES), len(CASES) - len(failures), failures
