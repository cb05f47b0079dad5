"""InvokerServiceAccount: one account, no project roles, actAs on itself only."""

import pytest

from constructs_lib import InvokerServiceAccount
from tests.infra.tfjson import one, resolve, resources, synth


def test_account_and_act_as_grant(stack):
    invoker = InvokerServiceAccount(stack, "invoker", account_id="tasks-invoker")
    invoker.grant_act_as("serviceAccount:ci@example-project.iam.gserviceaccount.com")
    tf = synth(stack)
    account = one(tf, "google_service_account")
    grant = one(tf, "google_service_account_iam_member")
    assert account["account_id"] == "tasks-invoker"
    assert account["display_name"] == "tasks-invoker"
    assert grant["role"] == "roles/iam.serviceAccountUser"
    assert grant["member"] == "serviceAccount:ci@example-project.iam.gserviceaccount.com"
    assert grant["service_account_id"].startswith("${google_service_account.")
    assert grant["service_account_id"].endswith(".name}")
    assert resources(tf, "google_project_iam_member") == []


def test_attributes_are_references(stack):
    invoker = InvokerServiceAccount(stack, "invoker", account_id="tasks-invoker",
                                    display_name="Task invoker")
    assert resolve(stack, invoker.email).endswith(".email}")
    assert resolve(stack, invoker.member).endswith(".member}")
    assert one(synth(stack), "google_service_account")["display_name"] == "Task invoker"


def test_act_as_refuses_public_member(stack):
    invoker = InvokerServiceAccount(stack, "invoker", account_id="tasks-invoker")
    with pytest.raises(ValueError, match="allAuthenticatedUsers"):
        invoker.grant_act_as("allAuthenticatedUsers")
