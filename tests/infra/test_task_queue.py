"""TaskQueue: rate limits, retry policy, logging, routing and grants."""

import pytest

from constructs_lib import QueueOptions, QueueRouting, TaskQueue
from constructs_lib._framework import FRAMEWORK
from tests.infra.tfjson import one, resolve, resources, synth


def test_defaults_are_explicit(stack):
    TaskQueue(stack, "queue", name="jobs")
    queue = one(synth(stack), "google_cloud_tasks_queue")
    assert queue["name"] == "jobs"
    assert queue["location"] == "us-central1"
    assert queue["rate_limits"] == {"max_dispatches_per_second": 100,
                                    "max_concurrent_dispatches": 50}
    assert queue["retry_config"] == {"max_attempts": 10, "min_backoff": "1s",
                                     "max_backoff": "300s", "max_doublings": 5,
                                     "max_retry_duration": "0s"}
    assert queue["stackdriver_logging_config"] == {"sampling_ratio": 1}
    assert "http_target" not in queue


def test_settings_reach_the_queue(stack):
    TaskQueue(stack, "queue", name="Jobs-2", location="europe-west1", options=QueueOptions(
        max_dispatches_per_second=0.5, max_concurrent_dispatches=5000, max_attempts=-1,
        min_backoff_seconds=0.1, max_backoff_seconds=3600,
        max_doublings=1, max_retry_duration_seconds=86400, log_sampling_ratio=0.25))
    queue = one(synth(stack), "google_cloud_tasks_queue")
    assert queue["rate_limits"] == {"max_dispatches_per_second": 0.5,
                                    "max_concurrent_dispatches": 5000}
    assert queue["retry_config"] == {"max_attempts": -1, "min_backoff": "0.1s",
                                     "max_backoff": "3600s", "max_doublings": 1,
                                     "max_retry_duration": "86400s"}
    assert queue["stackdriver_logging_config"] == {"sampling_ratio": 0.25}


def test_no_logging_is_no_logging_block(stack):
    """The provider drops a 0 ratio and the API returns no block: writing one would show a
    change on every plan; leaving it out means "no logs" (queue.proto)."""
    TaskQueue(stack, "queue", name="jobs", options=QueueOptions(log_sampling_ratio=0))
    assert "stackdriver_logging_config" not in one(synth(stack), "google_cloud_tasks_queue")


def test_no_retry_limit_is_written_exactly_as_0s(stack):
    """The provider only matches the API's omitted max_retry_duration against "0s"."""
    TaskQueue(stack, "queue", name="jobs",
              options=QueueOptions(max_retry_duration_seconds=0.0))
    queue = one(synth(stack), "google_cloud_tasks_queue")
    assert queue["retry_config"]["max_retry_duration"] == "0s"


def test_path_is_the_queue_id_attribute(stack):
    queue = TaskQueue(stack, "queue", name="jobs")
    assert "google_cloud_tasks_queue." in resolve(stack, queue.path)
    assert resolve(stack, queue.path).endswith(".id}")


def test_grant_enqueue_is_additive_on_this_queue(stack):
    queue = TaskQueue(stack, "queue", name="jobs")
    queue.grant_enqueue("user:dev@example.com")
    queue.grant_enqueue("user:dev@example.com")
    grant = one(synth(stack), "google_cloud_tasks_queue_iam_member")
    assert grant["role"] == "roles/cloudtasks.enqueuer"
    assert grant["member"] == "user:dev@example.com"
    assert grant["name"].startswith("${google_cloud_tasks_queue.")


def test_queue_level_routing_sets_http_target(stack):
    TaskQueue(stack, "queue", name="jobs", routing=QueueRouting(
        host="worker-abc-uc.a.run.app", service_account_email="inv@p.iam.gserviceaccount.com",
        audience="https://aud.example", path="/tasks"))
    target = one(synth(stack), "google_cloud_tasks_queue")["http_target"]
    assert target["http_method"] == "POST"
    assert target["oidc_token"] == {"service_account_email": "inv@p.iam.gserviceaccount.com",
                                    "audience": "https://aud.example"}
    assert target["uri_override"]["host"] == "worker-abc-uc.a.run.app"
    assert target["uri_override"]["scheme"] == "HTTPS"
    assert target["uri_override"]["path_override"] == {"path": "/tasks"}
    assert target["uri_override"]["uri_override_enforce_mode"] == "ALWAYS"


@pytest.mark.parametrize("host", ["https://worker.run.app", "worker.run.app/tasks", ""])
def test_routing_host_must_be_bare(stack, host):
    with pytest.raises(ValueError, match="routing.host"):
        TaskQueue(stack, "queue", name="jobs", routing=QueueRouting(
            host=host, service_account_email="inv@p.iam.gserviceaccount.com",
            audience="https://aud.example"))
    assert resources(synth(stack, validate=False), "google_cloud_tasks_queue") == []


@pytest.mark.parametrize(("seconds", "duration"), [
    (1000000.5, "1000000.5s"), (1e-7, "0.0000001s"), (0.1, "0.1s"), (86400, "86400s")])
def test_durations_are_protobuf_durations_never_exponents(stack, seconds, duration):
    TaskQueue(stack, "queue", name="jobs", options=QueueOptions(
        min_backoff_seconds=1e-9, max_backoff_seconds=seconds))
    assert one(synth(stack), "google_cloud_tasks_queue")["retry_config"]["max_backoff"] == duration


def test_name_suffix_makes_the_name_new_after_each_destroy(stack):
    from constructs_lib import TaskQueue

    queue = TaskQueue(stack, "q", name="orders", options=QueueOptions(name_suffix=True))
    tf = synth(stack)
    suffix = one(tf, "random_id")
    assert (suffix["prefix"], suffix["byte_length"], suffix["keepers"]) == (
        "orders-", 3, {"name": "orders"})
    assert one(tf, "google_cloud_tasks_queue")["name"] == resolve(stack, queue.name_suffix.hex)
    assert tf["terraform"]["required_providers"]["random"]["version"] == (
        FRAMEWORK.random_provider)  # 3.7.2 on cdktf, 3.9.1 on cdktn
    assert tf["provider"]["random"] == [{}]


def test_name_suffix_leaves_room_for_itself(stack):
    from constructs_lib import TaskQueue

    TaskQueue(stack, "ok", name="a" * 93, options=QueueOptions(name_suffix=True))
    with pytest.raises(ValueError, match="name must be 1 to 93 characters"):
        TaskQueue(stack, "long", name="a" * 94, options=QueueOptions(name_suffix=True))
