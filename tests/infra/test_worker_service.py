"""WorkerService: what it declares, by resource type and value."""

import dataclasses

import pytest

from constructs_lib import InvokerServiceAccount, ServiceOptions, WorkerService
from tests.infra.tfjson import one, resources, synth


def test_private_by_default_with_dedicated_runtime_account(stack):
    WorkerService(stack, "worker", name="orders-worker")
    tf = synth(stack)
    service = one(tf, "google_cloud_run_v2_service")
    account = one(tf, "google_service_account")
    assert service["ingress"] == "INGRESS_TRAFFIC_INTERNAL_ONLY"
    assert service["deletion_protection"] is True  # written explicitly
    assert account["account_id"] == "orders-worker-run"
    assert service["template"]["service_account"].startswith("${google_service_account.")
    assert service["template"]["service_account"].endswith(".email}")
    # nobody may call it until grant_invoke is used
    assert resources(tf, "google_cloud_run_v2_service_iam_member") == []
    assert "invoker_iam_disabled" not in service


def test_settings_reach_the_template(stack):
    WorkerService(
        stack, "worker", name="w1", location="europe-west1", image="img:1",
        options=ServiceOptions(
            timeout_seconds=900, min_instance_count=1, max_instance_count=7,
            max_concurrency=4, cpu="2", memory="2Gi", env={"B": "2", "A": "1"},
            labels={"team": "data"}, deletion_protection=False, ingress="INGRESS_TRAFFIC_ALL",
            container_port=9000),
    )
    service = one(synth(stack), "google_cloud_run_v2_service")
    template = service["template"]
    container = template["containers"][0]
    assert service["location"] == "europe-west1"
    assert service["deletion_protection"] is False
    assert service["ingress"] == "INGRESS_TRAFFIC_ALL"
    assert service["labels"] == {"team": "data"}
    assert template["timeout"] == "900s"
    assert template["scaling"] == {"min_instance_count": 1, "max_instance_count": 7}
    assert template["max_instance_request_concurrency"] == 4
    assert container["image"] == "img:1"
    assert container["resources"]["limits"] == {"cpu": "2", "memory": "2Gi"}
    assert container["ports"] == {"container_port": 9000}
    assert container["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]


def test_given_account_is_used_and_none_is_created(stack):
    runner = InvokerServiceAccount.from_email(
        stack, "runner", email="runner@example-project.iam.gserviceaccount.com")
    WorkerService(stack, "worker", name="w1", service_account=runner)
    tf = synth(stack)
    assert resources(tf, "google_service_account") == []
    assert one(tf, "google_cloud_run_v2_service")["template"]["service_account"] == (
        "runner@example-project.iam.gserviceaccount.com"
    )


def test_grant_invoke_is_additive_and_scoped_to_this_service(stack):
    worker = WorkerService(stack, "worker", name="w1")
    first = worker.grant_invoke("serviceAccount:caller@example-project.iam.gserviceaccount.com")
    again = worker.grant_invoke("serviceAccount:caller@example-project.iam.gserviceaccount.com")
    worker.grant_invoke("group:ops@example.com")
    assert first is again
    tf = synth(stack)
    grants = resources(tf, "google_cloud_run_v2_service_iam_member")
    assert sorted(g["member"] for g in grants) == [
        "group:ops@example.com",
        "serviceAccount:caller@example-project.iam.gserviceaccount.com",
    ]
    for grant in grants:
        assert grant["role"] == "roles/run.invoker"
        assert grant["name"].startswith("${google_cloud_run_v2_service.")
    for resource_type in ("google_cloud_run_v2_service_iam_binding",
                          "google_cloud_run_v2_service_iam_policy",
                          "google_project_iam_member"):
        assert resources(tf, resource_type) == []


def test_runtime_account_id_fits_long_names(stack):
    name = "a" * 40 + "-b"
    WorkerService(stack, "worker", name=name)
    account = one(synth(stack), "google_service_account")
    assert len(account["account_id"]) <= 30
    assert account["account_id"].endswith("-run")


@pytest.mark.parametrize("member", ["allUsers", "allAuthenticatedUsers"])
def test_grant_invoke_refuses_public_members(stack, member):
    worker = WorkerService(stack, "worker", name="w1")
    with pytest.raises(ValueError, match="member must be an IAM member"):
        worker.grant_invoke(member)


def test_timeout_is_whole_seconds_as_the_api_returns_it(stack):
    WorkerService(stack, "w", name="w1", options=ServiceOptions(timeout_seconds=600.0))
    assert one(synth(stack), "google_cloud_run_v2_service")["template"]["timeout"] == "600s"


def test_custom_audiences_written_once_each_in_order(stack):
    WorkerService(stack, "w", name="w1", custom_audiences=["b", "a", "b"])
    assert one(synth(stack), "google_cloud_run_v2_service")["custom_audiences"] == ["b", "a"]


def test_member_case_is_one_grant(stack):
    """IAM compares user:/group:/serviceAccount: members case-insensitively (the provider's
    iamMemberCaseDiffSuppress): one resource, one address."""
    service = WorkerService(stack, "w", name="w1")
    first = service.grant_invoke("user:Alice@Example.com")
    assert service.grant_invoke("user:alice@example.com") is first
    principal = "principal://iam.googleapis.com/locations/global/workforcePools/p/subject/A"
    assert service.grant_invoke(principal) is not service.grant_invoke(principal.lower())


def test_a_pipeline_can_own_the_image(stack):
    WorkerService(stack, "w", name="w1", image="europe-docker.pkg.dev/p/r/w:1",
                  options=ServiceOptions(image_managed_externally=True))
    service = one(synth(stack), "google_cloud_run_v2_service")
    assert service["lifecycle"]["ignore_changes"] == [
        "template[0].containers[0].image", "client", "client_version"]
    assert service["template"]["containers"][0]["image"] == "europe-docker.pkg.dev/p/r/w:1"


def test_the_image_is_terraforms_by_default(stack):
    WorkerService(stack, "w", name="w1")
    assert "lifecycle" not in one(synth(stack), "google_cloud_run_v2_service")


def test_a_startup_probe_is_written_in_full(stack):
    from constructs_lib import StartupProbe

    WorkerService(stack, "w", name="w1", options=ServiceOptions(
        container_port=9000, startup_probe=StartupProbe(period_seconds=5, failure_threshold=6)))
    probe = one(synth(stack), "google_cloud_run_v2_service")["template"]["containers"][0][
        "startup_probe"]
    assert probe == {"http_get": {"path": "/healthz", "port": 9000},
                     "initial_delay_seconds": 0, "period_seconds": 5, "timeout_seconds": 1,
                     "failure_threshold": 6}


def test_no_probe_by_default(stack):
    WorkerService(stack, "w", name="w1")
    container = one(synth(stack), "google_cloud_run_v2_service")["template"]["containers"][0]
    assert "startup_probe" not in container


def test_options_are_frozen_copies(stack):
    env = {"A": "1"}
    options = ServiceOptions(env=env)
    env["B"] = "2"  # changing the caller's dict later changes nothing that was checked
    assert dict(options.env) == {"A": "1"}
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.memory = "1Gi"  # type: ignore[misc]
