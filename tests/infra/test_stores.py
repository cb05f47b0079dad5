"""The dead-letter and task-name stores: private buckets, grants with the exact role and
member on the bucket only, retention from the queue's retry window, opt-out, existing
buckets, and refused input."""

from __future__ import annotations

import pytest

from constructs_lib import (
    CloudTasksToCloudRun,
    ConfigurationError,
    DeadLetterOptions,
    DeadLetterStore,
    QueueOptions,
    ServiceOptions,
    TaskNameStore,
    TaskNameStoreOptions,
)
from constructs_lib.buckets import check_bucket_name
from constructs_lib.task_name_store import minimum_retention_days, retry_window_seconds
from tests.infra.tfjson import PROJECT, resolve, resources, synth

BUCKET_IAM = "google_storage_bucket_iam_member"
PROJECT_IAM = ("google_project_iam_member", "google_project_iam_binding",
               "google_project_iam_policy")


def env_of(tf) -> dict[str, str]:
    (service,) = resources(tf, "google_cloud_run_v2_service")
    return {e["name"]: e.get("value") for e in service["template"]["containers"][0]["env"]}


def buckets_by_purpose(tf) -> dict[str, dict]:
    return {b["labels"]["purpose"]: b for b in resources(tf, "google_storage_bucket")}


def test_the_pattern_declares_two_private_buckets_by_default(stack):
    CloudTasksToCloudRun(stack, "tasks", project=PROJECT, name="orders")
    tf = synth(stack)
    buckets = buckets_by_purpose(tf)
    assert set(buckets) == {"dead-letters", "task-names"}
    for bucket in buckets.values():
        assert bucket["uniform_bucket_level_access"] is True
        assert bucket["public_access_prevention"] == "enforced"
        assert bucket["versioning"] == {"enabled": False}
        assert bucket["force_destroy"] is False
        assert bucket["storage_class"] == "STANDARD"
        assert bucket["location"] == "US-CENTRAL1"
        assert bucket["project"] == PROJECT
        check_bucket_name("name", bucket["name"])
        assert PROJECT not in bucket["name"]  # bucket names are public
        (rule,) = bucket["lifecycle_rule"]
        assert rule["action"] == {"type": "Delete"}
        assert rule["condition"]["with_state"] == "ANY"
    assert buckets["dead-letters"]["lifecycle_rule"][0]["condition"]["age"] == 30
    assert buckets["dead-letters"]["soft_delete_policy"] == {
        "retention_duration_seconds": 7 * 86400}
    assert buckets["task-names"]["soft_delete_policy"] == {"retention_duration_seconds": 0}
    env = env_of(tf)
    assert env["WORKER_DEAD_LETTER_BUCKET"] == buckets["dead-letters"]["name"]
    assert env["WORKER_TASK_NAME_BUCKET"] == buckets["task-names"]["name"]
    assert env["WORKER_QUEUE_MAX_ATTEMPTS"] == "10"
    assert env["WORKER_QUEUE_MAX_RETRY_DURATION_SECONDS"] == "0"
    assert "storage.googleapis.com" in {a["service"] for a in
                                        resources(tf, "google_project_service")}


def test_the_runtime_account_gets_exactly_one_role_on_each_bucket(stack):
    pattern = CloudTasksToCloudRun(stack, "tasks", project=PROJECT, name="orders")
    runtime = resolve(stack, pattern.service.runtime_account.member)
    tf = synth(stack)
    buckets = {"${google_storage_bucket." + name + ".name}": body["labels"]["purpose"]
               for name, body in tf["resource"]["google_storage_bucket"].items()}
    grants = {(buckets[g["bucket"]], g["role"], g["member"]) for g in resources(tf, BUCKET_IAM)}
    assert grants == {("dead-letters", "roles/storage.objectCreator", runtime),
                      ("task-names", "roles/storage.objectUser", runtime)}
    assert not set(tf["resource"]) & set(PROJECT_IAM)


def test_replay_is_a_custom_role_on_the_dead_letter_bucket_only(stack):
    pattern = CloudTasksToCloudRun(stack, "tasks", project=PROJECT, name="orders")
    grant = pattern.dead_letters.grant_replay("group:ops@example.com")
    assert pattern.dead_letters.grant_replay("group:OPS@example.com") is grant  # one grant
    tf = synth(stack)
    (role,) = resources(tf, "google_project_iam_custom_role")
    assert sorted(role["permissions"]) == ["storage.objects.get", "storage.objects.list",
                                           "storage.objects.update"]
    (replay,) = [g for g in resources(tf, BUCKET_IAM) if g["member"] == "group:ops@example.com"]
    assert replay["role"].startswith("${google_project_iam_custom_role.")
    buckets = {"${google_storage_bucket." + name + ".name}": body["labels"]["purpose"]
               for name, body in tf["resource"]["google_storage_bucket"].items()}
    assert buckets[replay["bucket"]] == "dead-letters"
    assert not set(tf["resource"]) & set(PROJECT_IAM)


def test_pattern_grant_replay_also_lets_the_member_enqueue(stack):
    pattern = CloudTasksToCloudRun(stack, "tasks", project=PROJECT, name="orders")
    pattern.grant_replay("serviceAccount:ci@example-project.iam.gserviceaccount.com")
    tf = synth(stack)
    members = {g["member"] for g in resources(tf, "google_cloud_tasks_queue_iam_member")}
    assert members == {"serviceAccount:ci@example-project.iam.gserviceaccount.com"}


def test_opting_out_removes_bucket_grant_and_env_var(stack):
    CloudTasksToCloudRun(stack, "tasks", project=PROJECT, name="orders",
                         dead_letters=DeadLetterOptions(enabled=False),
                         task_names=TaskNameStoreOptions(enabled=False))
    tf = synth(stack)
    assert "google_storage_bucket" not in tf["resource"]
    assert BUCKET_IAM not in tf["resource"]
    env = env_of(tf)
    assert "WORKER_DEAD_LETTER_BUCKET" not in env and "WORKER_TASK_NAME_BUCKET" not in env
    assert "storage.googleapis.com" not in {a["service"] for a in
                                            resources(tf, "google_project_service")}


def test_existing_buckets_get_grants_and_nothing_else(stack):
    CloudTasksToCloudRun(stack, "tasks", project=PROJECT, name="orders",
                         dead_letter_bucket="acme-dead-letters",
                         task_name_bucket="acme-task-names")
    tf = synth(stack)
    assert "google_storage_bucket" not in tf["resource"]
    assert {(g["bucket"], g["role"]) for g in resources(tf, BUCKET_IAM)} == {
        ("acme-dead-letters", "roles/storage.objectCreator"),
        ("acme-task-names", "roles/storage.objectUser")}
    env = env_of(tf)
    assert env["WORKER_DEAD_LETTER_BUCKET"] == "acme-dead-letters"
    assert env["WORKER_TASK_NAME_BUCKET"] == "acme-task-names"


def test_explicit_names_and_options_reach_the_bucket(stack):
    CloudTasksToCloudRun(stack, "tasks", project=PROJECT, name="orders", location="europe-west1",
                         dead_letters=DeadLetterOptions(bucket_name="acme-orders-dl",
                                                        retention_days=90,
                                                        soft_delete_retention_days=0,
                                                        force_destroy=True, labels={"t": "x"}))
    (bucket,) = [b for b in resources(synth(stack), "google_storage_bucket")
                 if b["name"] == "acme-orders-dl"]
    assert bucket["name"] == "acme-orders-dl"
    assert bucket["location"] == "EUROPE-WEST1"
    assert bucket["lifecycle_rule"][0]["condition"]["age"] == 90
    assert bucket["soft_delete_policy"] == {"retention_duration_seconds": 0}
    assert bucket["force_destroy"] is True
    assert bucket["labels"] == {"t": "x"}


def test_long_service_names_still_fit_the_bucket_rules(stack):
    name = "a" * 40 + "-worker"
    CloudTasksToCloudRun(stack, "tasks", project=PROJECT, name=name)
    for bucket in resources(synth(stack), "google_storage_bucket"):
        assert len(bucket["name"]) <= 63
        check_bucket_name("name", bucket["name"])


# --- the task-name retention window ------------------------------------------------------

def test_retry_window_follows_the_queue_backoffs():
    # the proto's own example: 10 s doubling 3 times, then +80 s, capped at 300 s
    queue = QueueOptions(max_attempts=8, min_backoff_seconds=10, max_backoff_seconds=300,
                         max_doublings=3)
    backoffs = 10 + 20 + 40 + 80 + 160 + 240 + 300
    assert retry_window_seconds(queue, 60) == backoffs + 8 * 60
    # a retry duration longer than the attempts take: both limits must be reached
    longer = QueueOptions(max_attempts=3, max_retry_duration_seconds=7 * 86400)
    assert retry_window_seconds(longer, 600) == 7 * 86400 + 600
    assert minimum_retention_days(longer, 600) == 9
    # unlimited attempts: a task still dies 31 days after it was created
    assert retry_window_seconds(QueueOptions(max_attempts=-1), 600) == 31 * 86400
    assert minimum_retention_days(QueueOptions(max_attempts=-1), 600) == 32


def test_the_task_name_retention_defaults_to_the_minimum(stack):
    queue = QueueOptions(max_attempts=5, max_retry_duration_seconds=3 * 86400)
    CloudTasksToCloudRun(stack, "tasks", project=PROJECT, name="orders", queue=queue)
    bucket = buckets_by_purpose(synth(stack))["task-names"]
    assert bucket["lifecycle_rule"][0]["condition"]["age"] == minimum_retention_days(
        queue, 600) == 5


def test_a_retention_shorter_than_the_window_is_refused(stack):
    with pytest.raises(ConfigurationError) as caught:
        CloudTasksToCloudRun(stack, "tasks", project=PROJECT, name="orders",
                             queue=QueueOptions(max_attempts=-1),
                             task_names=TaskNameStoreOptions(retention_days=7))
    assert str(caught.value).startswith(
        "task_names.retention_days must be at least 32 days: the queue retries for up to "
        "2678400 s"), str(caught.value)
    assert stack.node.try_find_child("tasks") is None  # nothing half-built


# --- refused input ------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "why"), [
    ("ab", "too short"), ("a" * 64, "too long"), ("Orders", "upper case"),
    ("-orders", "starts with -"), ("orders-", "ends with -"), ("goog-orders", "goog prefix"),
    ("my-google-bucket", "contains google"), ("my-g00gle-bucket", "misspelt google"),
    ("192.168.5.4", "an IP address"), ("a.b..c", "empty dot part"), ("a b", "a space"),
])
def test_bad_bucket_names_are_refused(name, why):
    with pytest.raises(ConfigurationError) as caught:
        DeadLetterOptions(bucket_name=name)
    assert str(caught.value).startswith("bucket_name must be a bucket name: 3 to 63"), why
    assert repr(name) in str(caught.value)


@pytest.mark.parametrize("name", ["abc", "a" * 63, "acme_dead-letters", "dl.example.com"])
def test_good_bucket_names_pass(name):
    assert DeadLetterOptions(bucket_name=name).bucket_name == name


@pytest.mark.parametrize(("options", "message"), [
    ({"retention_days": 0}, "retention_days must be a whole number between 1 and"),
    ({"retention_days": 1.5}, "retention_days must be a whole number between 1 and"),
    ({"soft_delete_retention_days": 3}, "soft_delete_retention_days must be 0 or a whole "
                                        "number between 7 and 90, but 3 was given"),
    ({"soft_delete_retention_days": 91}, "soft_delete_retention_days must be 0 or a whole "
                                         "number between 7 and 90, but 91 was given"),
    ({"force_destroy": "false"}, "force_destroy must be True or False, but 'false' was given"),
    ({"enabled": 1}, "enabled must be True or False, but 1 was given"),
])
def test_bad_store_options_are_refused(options, message):
    for kind in (DeadLetterOptions, TaskNameStoreOptions):
        with pytest.raises(ConfigurationError) as caught:
            kind(**options)
        assert str(caught.value).startswith(message), str(caught.value)


def test_existing_bucket_and_options_together_are_refused(stack):
    with pytest.raises(ConfigurationError) as caught:
        CloudTasksToCloudRun(stack, "tasks", project=PROJECT, name="orders",
                             dead_letters=DeadLetterOptions(retention_days=3),
                             dead_letter_bucket="acme-dead-letters")
    assert str(caught.value).startswith("dead_letters must be left unset when "
                                        "dead_letter_bucket is given")
    with pytest.raises(ConfigurationError) as caught:
        TaskNameStore(stack, "names", project=PROJECT, service_name="orders",
                      options=TaskNameStoreOptions(), existing_bucket="acme-names")
    assert str(caught.value).startswith("options must be left unset when existing_bucket")


def test_a_bad_existing_bucket_is_named_as_given(stack):
    with pytest.raises(ConfigurationError) as caught:
        CloudTasksToCloudRun(stack, "tasks", project=PROJECT, name="orders",
                             task_name_bucket="Bad_Bucket")
    assert str(caught.value).startswith("task_name_bucket must be a bucket name")


def test_the_worker_environment_cannot_override_the_stores(stack):
    for key in ("WORKER_DEAD_LETTER_BUCKET", "WORKER_TASK_NAME_BUCKET",
                "WORKER_QUEUE_MAX_ATTEMPTS", "WORKER_QUEUE_MAX_RETRY_DURATION_SECONDS"):
        with pytest.raises(ConfigurationError) as caught:
            CloudTasksToCloudRun(stack, "tasks", project=PROJECT, name="orders",
                                 service=ServiceOptions(env={key: "x"}))
        assert str(caught.value).startswith(f"service.env[{key!r}] must be left unset")


def test_grants_refuse_public_members(stack):
    store = DeadLetterStore(stack, "dl", project=PROJECT, service_name="orders")
    for member in ("allUsers", "allAuthenticatedUsers"):
        with pytest.raises(ConfigurationError):
            store.grant_write(member)
        with pytest.raises(ConfigurationError):
            store.grant_replay(member)


def test_the_policy_check_refuses_a_public_grant_on_a_store(stack):
    from constructs_lib._framework import StorageBucketIamMember

    store = DeadLetterStore(stack, "dl", project=PROJECT, service_name="orders")
    StorageBucketIamMember(stack, "oops", bucket=store.bucket_name,
                           role="roles/storage.objectViewer", member="allUsers")
    with pytest.raises(Exception) as caught:
        synth(stack)
    assert "public member 'allUsers'" in str(caught.value)
