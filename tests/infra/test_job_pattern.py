"""CloudTasksToCloudRunJob: tasks that start a Cloud Run job through jobs.run."""

from __future__ import annotations

import pytest

from constructs_lib import (
    CloudTasksToCloudRunJob,
    InvokerServiceAccount,
    JobOptions,
    QueueOptions,
    SecretEnv,
    WorkerJob,
)
from tests.infra.tfjson import PROJECT, one, resolve, resources, synth

CI = "serviceAccount:ci@example-project.iam.gserviceaccount.com"


def build(stack, **kwargs):
    kwargs.setdefault("project", PROJECT)
    kwargs.setdefault("name", "reindex")
    return CloudTasksToCloudRunJob(stack, "reindex", **kwargs)


def test_the_invoker_may_run_this_job_with_overrides_and_nothing_else(stack):
    pattern = build(stack, enqueuers=[CI])
    invoker_member = resolve(stack, pattern.invoker.member)
    job_name = resolve(stack, pattern.job.name)
    tf = synth(stack)
    grant = one(tf, "google_cloud_run_v2_job_iam_member")
    assert (grant["role"], grant["member"], grant["name"]) == (
        "roles/run.jobsExecutorWithOverrides", invoker_member, job_name)
    assert resources(tf, "google_project_iam_member") == []
    assert resources(tf, "google_cloud_run_v2_service_iam_member") == []
    enqueue = one(tf, "google_cloud_tasks_queue_iam_member")
    act_as = one(tf, "google_service_account_iam_member")
    assert (enqueue["member"], enqueue["role"]) == (CI, "roles/cloudtasks.enqueuer")
    assert (act_as["member"], act_as["role"]) == (CI, "roles/iam.serviceAccountUser")
    assert act_as["service_account_id"] == resolve(stack, pattern.invoker.name)
    accounts = {a["account_id"] for a in resources(tf, "google_service_account")}
    assert accounts == {"reindex-job", "reindex-job-invoker"}


def test_the_run_url_is_the_admin_apis_jobs_run(stack):
    pattern = build(stack, location="europe-west1")
    url = resolve(stack, pattern.run_url)
    assert url.startswith(
        "https://run.googleapis.com/v2/projects/example-project/locations/europe-west1/jobs/"
        "${google_cloud_run_v2_job.")
    assert url.endswith(".name}:run")


def test_job_options_reach_the_template(stack):
    build(stack, image="img:2", job=JobOptions(
        command=["python", "-m", "app.job"], task_count=8, parallelism=2,
        task_timeout_seconds=7200.0, max_retries=0, cpu="2", memory="4Gi",
        env={"MODE": "full"}, deletion_protection=False, labels={"team": "search"}),
        queue=QueueOptions(max_dispatches_per_second=1))
    tf = synth(stack)
    job = one(tf, "google_cloud_run_v2_job")
    template = job["template"]
    task = template["template"]
    container = task["containers"][0]
    assert (template["task_count"], template["parallelism"]) == (8, 2)
    assert (task["timeout"], task["max_retries"]) == ("7200s", 0)  # 0 is sent, not dropped
    assert container["command"] == ["python", "-m", "app.job"]
    assert container["image"] == "img:2"
    assert container["resources"]["limits"] == {"cpu": "2", "memory": "4Gi"}
    assert container["env"] == [{"name": "MODE", "value": "full"}]
    assert job["deletion_protection"] is False and job["labels"] == {"team": "search"}
    assert one(tf, "google_cloud_tasks_queue")["rate_limits"]["max_dispatches_per_second"] == 1


def test_parallelism_left_out_means_as_many_as_possible(stack):
    build(stack)
    template = one(synth(stack), "google_cloud_run_v2_job")["template"]
    assert "parallelism" not in template
    assert template["task_count"] == 1


def test_job_secrets_are_read_by_its_runtime_account_only(stack):
    pattern = build(stack, job=JobOptions(secret_env={"TOKEN": SecretEnv(secret="api-token")}))
    member = resolve(stack, pattern.job.runtime_account.member)
    grant = one(synth(stack), "google_secret_manager_secret_iam_member")
    assert (grant["secret_id"], grant["member"]) == ("api-token", member)


def test_an_imported_invoker_signs_the_tasks(stack):
    legacy = InvokerServiceAccount.from_email(
        stack, "legacy", email="legacy-starter@example-project.iam.gserviceaccount.com")
    pattern = build(stack, invoker=legacy)
    tf = synth(stack)
    assert {a["account_id"] for a in resources(tf, "google_service_account")} == {"reindex-job"}
    assert pattern.invoker_email == "legacy-starter@example-project.iam.gserviceaccount.com"


def test_a_job_on_the_default_compute_account_fails_the_synth(stack):
    pattern = build(stack)
    pattern.job.resource.add_override(
        "template.template.service_account", "123-compute@developer.gserviceaccount.com")
    with pytest.raises(Exception, match="default compute account"):
        synth(stack)


@pytest.mark.parametrize(("options", "parameter"), [
    ({"task_count": 0}, "task_count"),
    ({"task_count": 10001}, "task_count"),
    ({"task_count": 2, "parallelism": 3}, "parallelism"),
    ({"parallelism": 0}, "parallelism"),
    ({"max_retries": -1}, "max_retries"),
    ({"max_retries": 11}, "max_retries"),
    ({"task_timeout_seconds": 0}, "task_timeout_seconds"),
    ({"task_timeout_seconds": 604801}, "task_timeout_seconds"),
    ({"env": {"CLOUD_RUN_TASK_INDEX": "3"}}, "env key"),
    ({"command": "python -m app.job"}, "command"),
    ({"cpu": "8", "memory": "1Gi"}, "memory"),
])
def test_bad_job_options_are_refused_by_name(options, parameter):
    with pytest.raises(ValueError) as caught:
        JobOptions(**options)
    assert caught.value.parameter == parameter


@pytest.mark.parametrize("options", [
    {"task_count": 10000, "parallelism": 10000}, {"max_retries": 10},
    {"task_timeout_seconds": 604800}, {"max_retries": 0}, {"task_count": 1, "parallelism": 1},
])
def test_boundary_job_options_are_accepted(options):
    assert JobOptions(**options)


def test_the_job_alone_is_a_building_block(stack):
    job = WorkerJob(stack, "export", name="export", options=JobOptions(task_count=3))
    job.grant_run("group:ops@example.com")
    job.grant_run("group:ops@example.com")  # once
    tf = synth(stack)
    assert one(tf, "google_cloud_run_v2_job_iam_member")["member"] == "group:ops@example.com"
    assert one(tf, "google_service_account")["account_id"] == "export-job"
