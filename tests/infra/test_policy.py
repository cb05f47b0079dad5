"""The synth-time policy check, exercised through escape hatches
(cases in ``support/cases/policy_cases.py``)."""

from __future__ import annotations

import json

import pytest

from constructs_lib import CloudTasksToCloudRun, PolicyCheck, find_violations
from constructs_lib._framework import ProjectIamMember
from support.cases.policy_cases import CASES, run_case
from tests.infra.tfjson import PROJECT, synth


def test_clean_pattern_passes(stack):
    CloudTasksToCloudRun(stack, "tasks", project=PROJECT, name="orders")
    assert synth(stack)["resource"]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_escape_hatch_fails_the_synth_readably_and_writes_nothing(case, tmp_path):
    outcome = run_case(case, tmp_path)
    assert outcome.ok, outcome.detail
    assert outcome.detail.startswith("[broken] policy: ")


def test_message_names_resource_rule_and_fix(tmp_path):
    outcome = run_case(CASES[0], tmp_path)
    assert "grants roles/run.invoker to the public member 'allUsers'" in outcome.detail
    assert "only named principals may be granted access" in outcome.detail


def test_check_can_guard_any_stack(stack):
    PolicyCheck.apply_to(stack)
    PolicyCheck.apply_to(stack)  # attached once
    ProjectIamMember(stack, "wide", project=PROJECT, role="roles/run.invoker",
                     member="user:a@example.com")
    with pytest.raises(Exception) as caught:
        synth(stack)
    assert str(caught.value).count("at project level") == 1


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
