"""Environment settings as data, each environment's target, deploy fallbacks, outputs."""

from __future__ import annotations

import io
import json

import pytest

from constructs_lib import ConfigurationError, QueueOptions, ServiceOptions
from constructs_lib._framework import cdk
from stacks import (
    JOB_OUTPUT_NAMES,
    OUTPUT_NAMES,
    STORE_OUTPUT_NAMES,
    DeploySettings,
    TasksStack,
    build_app,
    load_environments,
    parse_environments,
)
from tests.infra.tfjson import one

ENVIRONMENTS = load_environments()
DEPLOY = DeploySettings(project="example-project")


def synth(env, deploy: DeploySettings = DEPLOY) -> dict:
    stack = TasksStack(cdk.Testing.app(), env, deploy)
    return json.loads(cdk.Testing.synth(stack, True))


def strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return []


def test_the_shipped_dev_and_prod_differ_where_it_matters():
    dev, prod = ENVIRONMENTS["dev"], ENVIRONMENTS["prod"]
    assert dev.service.deletion_protection is False and prod.service.deletion_protection
    assert prod.service.max_instance_count > dev.service.max_instance_count
    assert prod.queue.max_attempts > dev.queue.max_attempts
    assert dev.queue.name_suffix and not prod.queue.name_suffix


@pytest.mark.parametrize("env_name", sorted(ENVIRONMENTS))
def test_stack_outputs_have_stable_names(env_name):
    tf = synth(ENVIRONMENTS[env_name], DeploySettings(project="example-project",
                                                      image="example.com/worker:1"))
    env = ENVIRONMENTS[env_name]
    expected = [*OUTPUT_NAMES, *STORE_OUTPUT_NAMES, *(JOB_OUTPUT_NAMES if env.job else ())]
    assert sorted(tf["output"]) == sorted(expected)
    assert tf["output"]["task_url"]["value"].endswith(".uri}/tasks")
    assert tf["output"]["audience"]["value"].startswith(
        f"https://{ENVIRONMENTS[env_name].service_name}.")


def test_environment_tables_reach_the_resources():
    envs = parse_environments({"staging": {
        "service_name": "tasks-worker-staging", "queue_name": "tasks-staging",
        "service": {"deletion_protection": False, "memory": "2Gi", "labels": {"env": "stg"}},
        "queue": {"max_attempts": 7, "log_sampling_ratio": 0.5},
    }})
    tf = synth(envs["staging"])
    service = one(tf, "google_cloud_run_v2_service")
    queue = one(tf, "google_cloud_tasks_queue")
    assert service["deletion_protection"] is False
    assert service["labels"] == {"env": "stg"}
    assert service["template"]["containers"][0]["resources"]["limits"]["memory"] == "2Gi"
    assert queue["name"] == "tasks-staging"
    assert queue["retry_config"]["max_attempts"] == 7
    assert queue["stackdriver_logging_config"] == {"sampling_ratio": 0.5}
    assert isinstance(envs["staging"].service, ServiceOptions)
    assert isinstance(envs["staging"].queue, QueueOptions)


def test_each_environment_names_only_its_own_project():
    envs = parse_environments({
        "dev": {"service_name": "w-dev", "project": "acme-tasks-dev",
                "service": {"deletion_protection": False}},
        "prod": {"service_name": "w-prod", "project": "acme-tasks-prod", "region": "europe-west1",
                 "image": "europe-docker.pkg.dev/acme/w/worker:2"},
    })
    deploy = DeploySettings(project="fallback-project")
    for name, own, other in (("dev", "acme-tasks-dev", "acme-tasks-prod"),
                             ("prod", "acme-tasks-prod", "acme-tasks-dev")):
        tf = synth(envs[name], deploy)
        text = strings(tf)
        assert not any(other in s or "fallback-project" in s for s in text), name
        projects = {body.get("project") for by_name in tf["resource"].values()
                    for body in by_name.values() if isinstance(body.get("project"), str)
                    and not body["project"].startswith("${")}
        assert projects == {own}
        assert tf["provider"]["google"][0]["project"] == own
        assert own in tf["output"]["audience"]["value"]
    prod = synth(envs["prod"], deploy)
    assert one(prod, "google_cloud_run_v2_service")["location"] == "europe-west1"
    assert one(prod, "google_cloud_run_v2_service")["template"]["containers"][0]["image"] == (
        "europe-docker.pkg.dev/acme/w/worker:2")


def test_environment_variables_are_the_fallback():
    deploy = DeploySettings.from_environ({
        "GOOGLE_CLOUD_PROJECT": "acme-prod-1", "GOOGLE_CLOUD_REGION": "europe-west1",
        "WORKER_IMAGE": "europe-docker.pkg.dev/acme/w/worker:1",
        "TASK_ENQUEUERS": "serviceAccount:api@acme-prod-1.iam.gserviceaccount.com, "
                          "group:ops@acme.com",
    })
    tf = synth(ENVIRONMENTS["dev"], deploy)
    assert tf["provider"]["google"][0] == {"project": "acme-prod-1", "region": "europe-west1"}
    service = one(tf, "google_cloud_run_v2_service")
    assert service["template"]["containers"][0]["image"] == (
        "europe-docker.pkg.dev/acme/w/worker:1")
    members = {g["member"] for g in
               tf["resource"]["google_cloud_tasks_queue_iam_member"].values()}
    assert members == {"group:ops@acme.com",
                       "serviceAccount:api@acme-prod-1.iam.gserviceaccount.com"}


def test_a_protected_environment_refuses_the_placeholder_image():
    envs = parse_environments({"prod": {"service_name": "w-prod", "project": "acme-prod-1"}})
    with pytest.raises(ConfigurationError) as caught:
        DeploySettings().target(envs["prod"])
    assert caught.value.parameter == "[prod] image"
    assert "WORKER_IMAGE" in str(caught.value)
    allowed = parse_environments({"prod": {"service_name": "w-prod", "project": "acme-prod-1",
                                           "allow_placeholder_image": True}})
    assert DeploySettings().target(allowed["prod"]).placeholder_image


def test_placeholders_are_reported_once_in_plain_words():
    notices = io.StringIO()
    build_app(deploy=DeploySettings(), notices=notices)
    lines = notices.getvalue().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("warning: no project for ")
    assert "GOOGLE_CLOUD_PROJECT" in lines[0] and "WORKER_IMAGE" in lines[0]
    quiet = io.StringIO()
    build_app(deploy=DeploySettings(project="acme-1x", image="example.com/w:1"), notices=quiet)
    assert quiet.getvalue() == ""


def test_local_backend_by_default_and_gcs_with_one_prefix_per_stack():
    assert synth(ENVIRONMENTS["dev"])["terraform"]["backend"] == {
        "local": {"path": "../../../terraform.dev.tfstate"}}
    gcs = DeploySettings(project="example-project", state_bucket="my-tf-state",
                         state_prefix="platform/tasks", image="example.com/w:1")
    assert synth(ENVIRONMENTS["prod"], gcs)["terraform"]["backend"] == {
        "gcs": {"bucket": "my-tf-state", "prefix": "platform/tasks/prod"}}


@pytest.mark.parametrize(("environ", "parameter"), [
    ({"GOOGLE_CLOUD_PROJECT": "Acme Prod"}, "GOOGLE_CLOUD_PROJECT"),
    ({"GOOGLE_CLOUD_PROJECT": "acme-prod", "GOOGLE_CLOUD_REGION": "Mars"}, "GOOGLE_CLOUD_REGION"),
    ({"GOOGLE_CLOUD_PROJECT": "acme-prod", "TF_STATE_BUCKET": "Bad Bucket"}, "TF_STATE_BUCKET"),
    ({"GOOGLE_CLOUD_PROJECT": "acme-prod", "TASK_ENQUEUERS": "allUsers"}, "TASK_ENQUEUERS[0]"),
])
def test_bad_deploy_settings_are_named(environ, parameter):
    with pytest.raises(ConfigurationError) as caught:
        DeploySettings.from_environ(environ)
    assert caught.value.parameter == parameter


@pytest.mark.parametrize(("data", "parameter"), [
    ({}, "environments"),
    ({"dev": {"service_name": "w", "max_attempts": 3}}, "[dev] key"),
    ({"dev": {"service_name": "w", "queue": {"max_atempts": 3}}}, "[dev.queue] key"),
    ({"dev": {"service_name": "w", "queue": {"max_attempts": 0}}}, "[dev.queue] max_attempts"),
    ({"dev": {"service_name": "w", "service": {"memory": "1GB"}}}, "[dev.service] memory"),
    ({"dev": {"service_name": "w", "service": {"secret_env": {"T": {"secret": "a b"}}}}},
     "[dev.service] secret_env['T'] secret"),
    ({"dev": {"service_name": "w", "project": "Acme"}}, "[dev] project"),
    ({"dev": {"service_name": "w", "region": "mars"}}, "[dev] region"),
    ({"Dev": {"service_name": "w"}}, "environment name"),
    ({"dev": {"queue_name": "q"}}, "[dev] service_name"),
    ({"dev": {"service_name": "w", "enqueuers": "user:a@b.c"}}, "[dev] enqueuers"),
    ({"dev": {"service_name": "w", "enqueuers": ["allUsers"]}}, "[dev] enqueuers[0]"),
    ({"dev": "not a table"}, "[dev]"),
])
def test_bad_environment_files_are_named(data, parameter):
    with pytest.raises(ConfigurationError) as caught:
        parse_environments(data)
    assert caught.value.parameter == parameter


def test_cross_setting_errors_are_named_as_the_table_key():
    envs = parse_environments({"dev": {"service_name": "w1", "dispatch_deadline_seconds": 900,
                                       "service": {"timeout_seconds": 600,
                                                   "deletion_protection": False}}})
    with pytest.raises(ConfigurationError) as caught:
        TasksStack(cdk.Testing.app(), envs["dev"], DEPLOY)
    assert caught.value.parameter == "[dev] dispatch_deadline_seconds"
