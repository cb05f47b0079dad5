"""checkov, with the custom CKV_TASKS_* policies, over every shipped stack and over a stack
made bad on purpose through escape hatches.

checkov runs from its own virtualenv (.venv-checkov). When it is missing the tests fail,
they do not skip: install it with ``bash reliability/checkov_setup.sh``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reliability import checkov_scan
from reliability.checkov_scan import CHECKOV, SETUP_COMMAND, CheckovNotInstalled, scan

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "example-project"
DEFAULT_COMPUTE = "123456789012-compute@developer.gserviceaccount.com"
CUSTOM_IDS = [f"CKV_TASKS_{n}" for n in range(1, 7)]


@pytest.fixture(scope="module")
def checkov() -> Path:
    if not os.access(CHECKOV, os.X_OK):
        pytest.fail(
            f"checkov is not installed: {CHECKOV} is missing. Install it from the repository "
            f"root with `{SETUP_COMMAND}` (it puts requirements-checkov.txt into "
            ".venv-checkov; `make setup` runs it too).",
            pytrace=False,
        )
    return CHECKOV


@pytest.fixture(scope="module")
def shipped_stacks(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Every stack main.py synthesizes, written to a scratch directory."""
    out = tmp_path_factory.mktemp("shipped")
    env = {k: v for k, v in os.environ.items() if k != "CDKTF_OUTDIR"}
    env["JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"] = "20"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, str(ROOT / "main.py")], cwd=out, env=env, capture_output=True,
        text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr
    files = sorted((out / "cdktf.out" / "stacks").glob("*/cdk.tf.json"))
    assert {"dev", "prod"} <= {f.parent.name for f in files}, files
    return files


@pytest.fixture(scope="module")
def bad_stack(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, set[str]]]:
    """A stack built with the project's constructs, then broken through escape hatches;
    returns its cdk.tf.json and, per custom check, the resources that must fail it.

    The project's synth-time PolicyCheck refuses this stack, so the app skips validations.
    """
    import cdktf

    # constructs_lib first: it makes the provider package load only the submodules used.
    from constructs_lib import CloudTasksToCloudRun  # noqa: I001
    from cdktf_cdktf_provider_google.cloud_run_v2_service_iam_binding import (
        CloudRunV2ServiceIamBinding,
    )
    from cdktf_cdktf_provider_google.cloud_tasks_queue_iam_policy import CloudTasksQueueIamPolicy
    from cdktf_cdktf_provider_google.project_iam_member import ProjectIamMember
    from cdktf_cdktf_provider_google.provider import GoogleProvider
    from cdktf_cdktf_provider_google.service_account_iam_binding import ServiceAccountIamBinding

    out = tmp_path_factory.mktemp("bad")
    app = cdktf.App(outdir=str(out), skip_validation=True)
    stack = cdktf.TerraformStack(app, "bad")
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


def test_shipped_stacks_scan_clean(checkov, shipped_stacks):
    results = scan(shipped_stacks, checkov=checkov)
    assert [r.path for r in results] == [str(f) for f in shipped_stacks]
    for result in results:
        assert result.parsing_errors == 0, result.problems
        assert result.failed == [], result.problems
        assert result.load_errors == [], result.load_errors
        # The custom policies really ran on this stack: its service and invoker grant.
        assert result.custom_results > 0, result.problems
        assert {"CKV_TASKS_1", "CKV_TASKS_5", "CKV_TASKS_6"} <= set(result.custom_check_ids)
        assert result.ok, result.problems


def test_bad_stack_fails_every_custom_check_on_the_right_resource(checkov, bad_stack):
    path, expected = bad_stack
    text = path.read_text()
    assert '"allUsers"' in text and DEFAULT_COMPUTE in text  # the escape hatches landed
    (result,) = scan([path], checkov=checkov)

    assert result.parsing_errors == 0
    assert not result.ok
    failed: dict[str, set[str]] = {}
    for finding in result.failed:
        failed.setdefault(finding.check_id, set()).add(finding.resource)
    custom_failed = {k: v for k, v in failed.items() if k.startswith("CKV_TASKS_")}
    assert custom_failed == expected
    # Each failure says why, and the grants the pattern made itself still pass.
    assert all(f.details for f in result.failed if f.custom)
    passed = {(f.check_id, f.resource) for f in result.passed}
    clean_invoke = [r for c, r in passed if c == "CKV_TASKS_1"]
    assert clean_invoke, "the pattern's own invoker grant should pass CKV_TASKS_1"


def test_cli_exits_1_and_names_the_failures(checkov, bad_stack, capsys):
    path, _ = bad_stack
    assert checkov_scan.main([str(path)]) == 1
    out = capsys.readouterr().out
    assert out.startswith("FAIL bad:")
    for check_id in CUSTOM_IDS:
        assert f"failed {check_id} " in out


def test_policies_that_did_not_load_are_not_a_green_scan(checkov, shipped_stacks, tmp_path):
    empty = tmp_path / "policies"
    empty.mkdir()
    (empty / "__init__.py").write_text("")
    (empty / "ckv_tasks_broken.py").write_text("import no_such_module_here\n")
    (result,) = scan(shipped_stacks[:1], checkov=checkov, policies_dir=empty)
    assert result.failed == [] and result.parsing_errors == 0
    assert result.custom_results == 0
    assert not result.ok
    assert any("ckv_tasks_broken" in p for p in result.problems), result.problems
    assert any("no CKV_TASKS_* check produced a result" in p for p in result.problems)


def test_missing_checkov_says_how_to_install(tmp_path):
    stack = tmp_path / "cdk.tf.json"
    stack.write_text("{}")
    with pytest.raises(CheckovNotInstalled, match="reliability/checkov_setup.sh"):
        scan([stack], checkov=tmp_path / "no-checkov")
