"""Environment settings as data, deploy settings from the environment, stack outputs."""

from __future__ import annotations

import json
import warnings

import cdktf
import pytest

from constructs_lib import ConfigurationError
from stacks import (
    OUTPUT_NAMES,
    DeploySettings,
    PlaceholderProjectWarning,
    TasksStack,
    load_environments,
)
from stacks.settings import parse_environments
from tests.infra.tfjson import one


def synth_env(env_name: str, deploy: DeploySettings) -> dict:
    stack = TasksStack(cdktf.Testing.app(), load_environments()[env_name], deploy)
    return json.loads(cdktf.Testing.synth(stack, True))


DEPLOY = DeploySettings(project="example-project")


def test_dev_and_prod_exist_and_differ_where_it_matters():
    envs = load_environments()
    assert {"dev", "prod"} <= set(envs)
    dev, prod = envs["dev"], envs["prod"]
    assert dev.deletion_protection is False and prod.deletion_protection is True
    assert prod.max_instance_count > dev.max_instance_count
    assert prod.max_attempts > dev.max_attempts
    assert dev.service_name != prod.service_name


@pytest.mark.parametrize("env_name", ["dev", "prod"])
def test_stack_outputs_have_stable_names(env_name):
    tf = synth_env(env_name, DEPLOY)
    assert sorted(tf["output"]) == sorted(OUTPUT_NAMES)
    assert tf["output"]["dispatch_deadline_seconds"]["value"] == 600
    assert tf["output"]["audience"]["value"].startswith(f"https://tasks-worker-{env_name}.")


def test_environment_values_reach_the_resources():
    dev, prod = synth_env("dev", DEPLOY), synth_env("prod", DEPLOY)
    assert one(dev, "google_cloud_run_v2_service")["deletion_protection"] is False
    assert one(prod, "google_cloud_run_v2_service")["deletion_protection"] is True
    # dev sets queue_name_suffix: the name is tasks-dev-<random hex kept in state>
    suffix = one(dev, "random_id")
    assert (suffix["prefix"], suffix["byte_length"]) == ("tasks-dev-", 3)
    assert one(dev, "google_cloud_tasks_queue")["name"].startswith("${random_id.")
    assert one(prod, "google_cloud_tasks_queue")["name"] == "tasks-prod"
    assert "random_id" not in prod["resource"]
    assert one(prod, "google_cloud_tasks_queue")["retry_config"]["max_attempts"] == 20


def test_local_backend_by_default_and_gcs_with_one_prefix_per_stack():
    assert synth_env("dev", DEPLOY)["terraform"]["backend"] == {
        "local": {"path": "../../../terraform.dev.tfstate"}}
    gcs = DeploySettings(project="example-project", state_bucket="my-tf-state",
                         state_prefix="platform/tasks")
    assert synth_env("prod", gcs)["terraform"]["backend"] == {
        "gcs": {"bucket": "my-tf-state", "prefix": "platform/tasks/prod"}}


def test_project_region_image_and_enqueuers_from_environment():
    deploy = DeploySettings.from_environ({
        "GOOGLE_CLOUD_PROJECT": "acme-prod-1", "GOOGLE_CLOUD_REGION": "europe-west1",
        "WORKER_IMAGE": "europe-docker.pkg.dev/acme/w/worker:1",
        "TASK_ENQUEUERS": "serviceAccount:api@acme-prod-1.iam.gserviceaccount.com, "
                          "group:ops@acme.com",
    })
    tf = synth_env("dev", deploy)
    assert tf["provider"]["google"][0] == {"project": "acme-prod-1", "region": "europe-west1"}
    service = one(tf, "google_cloud_run_v2_service")
    assert service["location"] == "europe-west1"
    assert service["template"]["containers"][0]["image"] == "europe-docker.pkg.dev/acme/w/worker:1"
    members = sorted(g["member"] for g in
                     tf["resource"]["google_cloud_tasks_queue_iam_member"].values())
    assert members == ["group:ops@acme.com",
                       "serviceAccount:api@acme-prod-1.iam.gserviceaccount.com"]


def test_unset_project_gives_placeholder_and_warning():
    with pytest.warns(PlaceholderProjectWarning, match="GOOGLE_CLOUD_PROJECT is not set"):
        deploy = DeploySettings.from_environ({})
    assert deploy.is_placeholder
    assert deploy.region == "us-central1"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not DeploySettings.from_environ({"GOOGLE_CLOUD_PROJECT": "acme-1x"}).is_placeholder


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
    ({"dev": {"service_name": "w", "max_atempts": 3}}, "[dev] key"),
    ({"Dev": {"service_name": "w"}}, "environment name"),
    ({"dev": {"queue_name": "q"}}, "[dev] service_name"),
    ({"dev": {"service_name": "w", "enqueuers": "user:a@b.c"}}, "[dev] enqueuers"),
    ({"dev": "not a table"}, "[dev]"),
])
def test_bad_environment_files_are_named(data, parameter):
    with pytest.raises(ConfigurationError) as caught:
        parse_environments(data)
    assert caught.value.parameter == parameter


def test_bad_environment_values_fail_before_synth():
    envs = parse_environments({"dev": {"service_name": "w1", "max_attempts": 0}})
    with pytest.raises(ConfigurationError, match="max_attempts must be"):
        TasksStack(cdktf.Testing.app(), envs["dev"], DEPLOY)
