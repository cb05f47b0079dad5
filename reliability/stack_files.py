"""Synthesized stack files for scanners: the shipped stacks, and a deliberately bad one.

The bad stack is built with the project's constructs and then broken through escape
hatches; the project's own synth-time policy check would refuse it, so it is synthesized
with validations skipped. Used by ``tests/reliability/test_checkov.py`` and
``python -m reliability``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROJECT = "example-project"
DEFAULT_COMPUTE = "123456789012-compute@developer.gserviceaccount.com"
EXAMPLE_ENQUEUERS = {
    "TASK_ENQUEUERS": f"serviceAccount:api@{PROJECT}.iam.gserviceaccount.com,group:ops@example.com",
}
"""``environ`` for :func:`synthesize_shipped`: stacks with enqueuer grants (the shipped
configuration has none), so the enqueue and actAs checks have something to look at."""


def synthesize_shipped(out: Path, *, environ: Mapping[str, str] | None = None) -> list[Path]:
    """Every stack main.py synthesizes, written under ``out``. ``environ``: extra environment
    variables for main.py (such as :data:`EXAMPLE_ENQUEUERS`), over this process's own."""
    out.mkdir(parents=True, exist_ok=True)
    # The shipped stacks as a fresh clone synthesizes them: none of the caller's targets.
    env = {k: v for k, v in os.environ.items()
           if k not in ("CDKTF_OUTDIR", "GOOGLE_CLOUD_PROJECT", "GOOGLE_CLOUD_REGION",
                        "WORKER_IMAGE", "TF_STATE_BUCKET", "TF_STATE_PREFIX", "TASK_ENQUEUERS")}
    env.update(environ or {})
    env["JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"] = "20"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, str(ROOT / "main.py")], cwd=out, env=env, capture_output=True,
        text=True, timeout=300, check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"main.py failed:\n{done.stderr}")
    return sorted((out / "cdktf.out" / "stacks").glob("*/cdk.tf.json"))


def synthesize_bad(out: Path) -> tuple[Path, dict[str, set[str]]]:
    """The broken stack's cdk.tf.json and, per custom check, the resources that must fail it."""
    from constructs_lib import CloudTasksToCloudRun
    from constructs_lib._framework import (
        CloudRunV2ServiceIamBinding,
        CloudTasksQueueIamPolicy,
        GoogleProvider,
        ProjectIamMember,
        ServiceAccountIamBinding,
        cdk,
    )

    app = cdk.App(outdir=str(out), skip_validation=True)
    stack = cdk.TerraformStack(app, "bad")
    GoogleProvider(stack, "google", project=PROJECT, region="us-central1")
    pattern = CloudTasksToCloudRun(stack, "tasks", project=PROJECT, name="orders")

    def address(resource) -> str:
        return f"{resource.terraform_resource_type}.{resource.friendly_unique_id}"

    # CKV_TASKS_1: public invoker, additive (escape hatch) and authoritative binding.
    public_invoker = pattern.service.grant_invoke("user:someone@example.com")
    public_invoker.add_override("member", "allUsers")
    invoker_binding = CloudRunV2ServiceIamBinding(
        stack, "public-invoker-binding", project=PROJECT, location="us-central1",
        name=pattern.service.name, role="roles/run.invoker",
        members=["user:someone@example.com", "allAuthenticatedUsers"],
    )
    # CKV_TASKS_2: public enqueuer, additive (escape hatch) and a literal IAM policy.
    public_enqueuer = pattern.queue.grant_enqueue("group:ops@example.com")
    public_enqueuer.add_override("member", "allAuthenticatedUsers")
    queue_policy = CloudTasksQueueIamPolicy(
        stack, "public-queue-policy", project=PROJECT, location="us-central1",
        name=pattern.queue.name,
        policy_data=json.dumps({"bindings": [
            {"role": "roles/cloudtasks.enqueuer", "members": ["allUsers"]},
        ]}),
    )
    # CKV_TASKS_3: public actAs on the invoker (escape hatch), public token creator.
    public_act_as = pattern.invoker.grant_act_as("user:dev@example.com")
    public_act_as.add_override("member", "allUsers")
    token_binding = ServiceAccountIamBinding(
        stack, "public-token-creator", service_account_id=pattern.invoker.resource.name,
        role="roles/iam.serviceAccountTokenCreator", members=["allAuthenticatedUsers"],
    )
    # CKV_TASKS_4: run.invoker for every service in the project.
    project_invoker = ProjectIamMember(
        stack, "project-invoker", project=PROJECT, role="roles/run.invoker",
        member=pattern.invoker.member,
    )
    # CKV_TASKS_5 and CKV_TASKS_6: default compute account, invoker IAM check off.
    service = pattern.service.resource
    service.add_override("template.service_account", DEFAULT_COMPUTE)
    service.add_override("invoker_iam_disabled", True)

    app.synth()
    path = out / "stacks" / "bad" / "cdk.tf.json"
    expected = {
        "CKV_TASKS_1": {address(public_invoker), address(invoker_binding)},
        "CKV_TASKS_2": {address(public_enqueuer), address(queue_policy)},
        "CKV_TASKS_3": {address(public_act_as), address(token_binding)},
        "CKV_TASKS_4": {address(project_invoker)},
        "CKV_TASKS_5": {address(service)},
        "CKV_TASKS_6": {address(service)},
    }
    return path, expected
