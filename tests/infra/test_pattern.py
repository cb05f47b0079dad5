"""CloudTasksToCloudRun: the wiring between queue, invoker and service."""

import pytest

from constructs_lib import CloudTasksToCloudRun, QueueOptions, ServiceOptions
from tests.infra.tfjson import PROJECT, one, resolve, resources, synth

CI = "serviceAccount:ci@example-project.iam.gserviceaccount.com"


def build(stack, **kwargs):
    kwargs.setdefault("project", PROJECT)
    kwargs.setdefault("name", "orders")
    return CloudTasksToCloudRun(stack, "tasks", **kwargs)


def test_composes_service_queue_invoker_and_apis(stack):
    build(stack)
    tf = synth(stack)
    assert one(tf, "google_cloud_run_v2_service")["name"] == "orders"
    assert one(tf, "google_cloud_tasks_queue")["name"] == "orders"
    accounts = {a["account_id"] for a in resources(tf, "google_service_account")}
    assert accounts == {"orders-invoker", "orders-run"}
    apis = resources(tf, "google_project_service")
    assert sorted(a["service"] for a in apis) == [
        "cloudtasks.googleapis.com", "iam.googleapis.com", "run.googleapis.com",
        "storage.googleapis.com"]
    assert all(a["disable_on_destroy"] is False for a in apis)


def test_only_the_invoker_may_call_only_this_service(stack):
    pattern = build(stack)
    invoker_member = resolve(stack, pattern.invoker.member)
    service_name = resolve(stack, pattern.service.name)
    tf = synth(stack)
    grant = one(tf, "google_cloud_run_v2_service_iam_member")
    assert grant["role"] == "roles/run.invoker"
    assert grant["member"] == invoker_member
    assert grant["name"] == service_name
    assert resources(tf, "google_project_iam_member") == []
    assert resources(tf, "google_cloud_tasks_queue_iam_member") == []


def test_worker_verification_settings_in_service_env(stack):
    pattern = build(stack)
    invoker_email = resolve(stack, pattern.invoker.email)
    tf = synth(stack)
    service = one(tf, "google_cloud_run_v2_service")
    env = {e["name"]: e["value"] for e in service["template"]["containers"][0]["env"]}
    assert env["WORKER_AUDIENCE"] == pattern.audience
    assert env["WORKER_INVOKER_EMAIL"] == invoker_email
    assert env["WORKER_PROJECT_ID"] == PROJECT  # trace correlation in the worker's logs
    # the audience is one Cloud Run accepts: listed among the custom audiences
    assert service["custom_audiences"] == [pattern.audience]
    assert pattern.audience == "https://orders.us-central1.example-project.tasks.invalid"
    # no cycle: the service's env never refers to the service itself
    assert "google_cloud_run_v2_service" not in str(env)


def test_enqueuers_get_enqueue_and_act_as(stack):
    pattern = build(stack, enqueuers=[CI, "group:ops@example.com"])
    invoker_name = resolve(stack, pattern.invoker.name)
    tf = synth(stack)
    enqueue = resources(tf, "google_cloud_tasks_queue_iam_member")
    act_as = resources(tf, "google_service_account_iam_member")
    assert sorted(g["member"] for g in enqueue) == ["group:ops@example.com", CI]
    assert {g["role"] for g in enqueue} == {"roles/cloudtasks.enqueuer"}
    assert sorted(g["member"] for g in act_as) == ["group:ops@example.com", CI]
    assert {g["role"] for g in act_as} == {"roles/iam.serviceAccountUser"}
    # act-as is on the invoker account, not the runtime account
    assert {g["service_account_id"] for g in act_as} == {invoker_name}


def test_options_reach_the_children(stack):
    build(stack, location="europe-west1", queue_name="orders-q",
          dispatch_deadline_seconds=900, audience="https://orders.example.com",
          service=ServiceOptions(timeout_seconds=900, env={"MODE": "fast"}),
          queue=QueueOptions(max_attempts=3))
    tf = synth(stack)
    service = one(tf, "google_cloud_run_v2_service")
    queue = one(tf, "google_cloud_tasks_queue")
    assert service["location"] == queue["location"] == "europe-west1"
    assert service["template"]["timeout"] == "900s"
    assert service["custom_audiences"] == ["https://orders.example.com"]
    env = {e["name"]: e["value"] for e in service["template"]["containers"][0]["env"]}
    assert env["MODE"] == "fast"
    assert queue["name"] == "orders-q"
    assert queue["retry_config"]["max_attempts"] == 3


def test_values_for_the_sample_app(stack):
    pattern = build(stack, dispatch_deadline_seconds=300)
    assert resolve(stack, pattern.service_url).endswith(".uri}")
    assert resolve(stack, pattern.queue_path).endswith(".id}")
    assert resolve(stack, pattern.invoker_email).endswith(".email}")
    assert pattern.dispatch_deadline_seconds == 300
    assert resolve(stack, pattern.task_url).endswith(".uri}/tasks")


def test_queue_level_routing_is_opt_in(stack):
    pattern = build(stack, queue_level_routing=True)
    target = one(synth(stack), "google_cloud_tasks_queue")["http_target"]
    assert target["oidc_token"]["audience"] == pattern.audience
    assert target["oidc_token"]["service_account_email"].endswith(".email}")
    assert target["uri_override"]["host"].startswith("${trimprefix(google_cloud_run_v2_service.")
    assert target["uri_override"]["path_override"] == {"path": "/tasks"}


def test_apis_can_be_left_to_the_platform(stack):
    build(stack, enable_apis=False)
    tf = synth(stack)
    assert resources(tf, "google_project_service") == []
    assert "depends_on" not in one(tf, "google_cloud_run_v2_service")


def test_resources_wait_for_their_apis(stack):
    pattern = build(stack)
    api_addresses = sorted(f"google_project_service.{resolve(stack, api.friendly_unique_id)}"
                           for api in pattern.apis)
    tf = synth(stack)
    for resource_type in ("google_cloud_run_v2_service", "google_cloud_tasks_queue"):
        # bare addresses: Terraform refuses "${...}" interpolations in depends_on
        assert sorted(one(tf, resource_type)["depends_on"]) == api_addresses
    for account in resources(tf, "google_service_account"):
        assert sorted(account["depends_on"]) == api_addresses


def test_several_patterns_declare_each_api_once(stack):
    first = build(stack, name="orders")
    second = CloudTasksToCloudRun(stack, "invoices", project=PROJECT, name="invoices",
                                  location="europe-west1")
    tf = synth(stack)
    apis = resources(tf, "google_project_service")
    assert sorted(a["service"] for a in apis) == [
        "cloudtasks.googleapis.com", "iam.googleapis.com", "run.googleapis.com",
        "storage.googleapis.com"]
    assert [a.node.path for a in first.apis] == [a.node.path for a in second.apis]
    services = resources(tf, "google_cloud_run_v2_service")
    assert services[0]["depends_on"] == services[1]["depends_on"]


@pytest.mark.parametrize("key", ["WORKER_AUDIENCE", "WORKER_INVOKER_EMAIL"])
def test_managed_env_cannot_be_overridden(stack, key):
    with pytest.raises(ValueError, match=key):
        build(stack, service=ServiceOptions(env={key: "x"}))


LEGACY = "legacy-invoker@example-project.iam.gserviceaccount.com"


def test_an_imported_invoker_is_used_and_granted_without_creating_an_account(stack):
    from constructs_lib import InvokerServiceAccount

    legacy = InvokerServiceAccount.from_email(stack, "legacy", email=LEGACY)
    pattern = build(stack, invoker=legacy, enqueuers=[CI])
    tf = synth(stack)
    accounts = {a["account_id"] for a in resources(tf, "google_service_account")}
    assert accounts == {"orders-run"}  # the runtime account only
    assert one(tf, "google_cloud_run_v2_service_iam_member")["member"] == (
        f"serviceAccount:{LEGACY}")
    act_as = one(tf, "google_service_account_iam_member")
    assert act_as["service_account_id"] == f"projects/example-project/serviceAccounts/{LEGACY}"
    assert act_as["member"] == CI
    env = {e["name"]: e.get("value") for e in
           one(tf, "google_cloud_run_v2_service")["template"]["containers"][0]["env"]}
    assert env["WORKER_INVOKER_EMAIL"] == LEGACY
    assert pattern.invoker_email == LEGACY


def test_an_invoker_of_another_project_is_refused(stack):
    from constructs_lib import InvokerServiceAccount

    other = InvokerServiceAccount.from_email(
        stack, "other", email="invoker@other-project-1.iam.gserviceaccount.com")
    with pytest.raises(ValueError, match="invoker must be an account of the queue's project"):
        build(stack, invoker=other)


def test_invoker_and_invoker_account_id_are_never_both(stack):
    from constructs_lib import InvokerServiceAccount

    legacy = InvokerServiceAccount.from_email(stack, "legacy", email=LEGACY)
    with pytest.raises(ValueError, match="invoker_account_id must be left unset"):
        build(stack, invoker=legacy, invoker_account_id="legacy-invoker")


def test_secrets_are_read_by_the_runtime_account_only_and_their_api_enabled(stack):
    from constructs_lib import SecretEnv

    pattern = build(stack, service=ServiceOptions(secret_env={
        "DB": SecretEnv(secret="db-password"), "DB_OLD": SecretEnv(secret="db-password",
                                                                   version="2"),
        "PEER": SecretEnv(secret="projects/shared-secrets-1/secrets/peer-key")}))
    runtime_member = resolve(stack, pattern.service.runtime_account.member)
    tf = synth(stack)
    grants = resources(tf, "google_secret_manager_secret_iam_member")
    assert sorted((g["secret_id"], g.get("project")) for g in grants) == [
        ("db-password", PROJECT), ("peer-key", "shared-secrets-1")]
    assert {g["role"] for g in grants} == {"roles/secretmanager.secretAccessor"}
    assert {g["member"] for g in grants} == {runtime_member}
    assert "secretmanager.googleapis.com" in {
        a["service"] for a in resources(tf, "google_project_service")}
    service = one(tf, "google_cloud_run_v2_service")
    assert any(d.startswith("google_secret_manager_secret_iam_member.")
               for d in service["depends_on"])  # the revision reads them at start
    env = {e["name"]: e for e in service["template"]["containers"][0]["env"]}
    assert env["DB_OLD"]["value_source"] == {
        "secret_key_ref": {"secret": "db-password", "version": "2"}}
    assert "value" not in env["DB"]
