"""Derived names that cannot collide, and a synth that refuses two resources with one name."""

from __future__ import annotations

import re

import pytest

from constructs_lib import CloudTasksToCloudRun
from constructs_lib.ids import fitted_id
from constructs_lib.policy import find_name_collisions
from constructs_lib.validation import ACCOUNT_ID
from tests.infra.tfjson import PROJECT, resources, synth


def account_ids(stack) -> set[str]:
    return {a["account_id"] for a in resources(synth(stack), "google_service_account")}


def test_names_that_fit_are_kept_whole(stack):
    CloudTasksToCloudRun(stack, "tasks", project=PROJECT, name="tasks-worker-dev")
    assert account_ids(stack) == {"tasks-worker-dev-invoker", "tasks-worker-dev-run"}


def test_long_names_sharing_a_prefix_get_distinct_ids(stack):
    for region in ("eu", "us"):
        CloudTasksToCloudRun(stack, region, project=PROJECT,
                             name=f"orders-processing-worker-{region}")
    ids = account_ids(stack)
    assert len(ids) == 4  # before: both invokers were orders-processing-work-invoker
    for account_id in ids:
        assert re.fullmatch(ACCOUNT_ID, account_id), account_id
        assert len(account_id) <= 30


def test_a_cut_id_is_stable_across_versions():
    # Changing this derivation renames (replaces) deployed accounts: the value is pinned.
    assert fitted_id("orders-processing-worker-eu", "-invoker") == "orders-processi-57282f-invoker"
    assert fitted_id("orders-processing-worker-eu", "-run") == "orders-processing-w-57282f-run"


def test_two_patterns_with_one_queue_name_fail_the_synth(stack):
    CloudTasksToCloudRun(stack, "a", project=PROJECT, name="orders", queue_name="shared")
    CloudTasksToCloudRun(stack, "b", project=PROJECT, name="invoices", queue_name="shared")
    with pytest.raises(Exception) as caught:
        synth(stack)
    message = str(caught.value)
    assert "names: google_cloud_tasks_queue." in message
    assert "name='shared'" in message


def test_one_name_in_two_projects_or_locations_is_fine():
    def queue(project, location):
        return {"name": "q", "project": project, "location": location}

    terraform = {"resource": {"google_cloud_tasks_queue": {
        "a": queue("p-one", "us-central1"), "b": queue("p-two", "us-central1"),
        "c": queue("p-one", "europe-west1")}}}
    assert find_name_collisions(terraform) == []
    terraform["resource"]["google_cloud_tasks_queue"]["d"] = queue("p-one", "us-central1")
    assert len(find_name_collisions(terraform)) == 1
