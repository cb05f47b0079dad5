"""Terraform judges every stack this repository synthesizes (``main.py``'s App, one stack
per environment in the environments file, local and GCS backends)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from stacks import DeploySettings, build_app, load_environments
from tests.terraform import judge

ENVIRONMENTS = sorted(load_environments())
DEPLOYS = {
    "local-backend": DeploySettings(project="example-project", image="example.com/worker:1"),
    "placeholders": DeploySettings(),
    "gcs-backend-and-enqueuers": DeploySettings(
        project="example-project", region="europe-west1", state_bucket="acme-tf-state",
        image="europe-docker.pkg.dev/example-project/apps/worker:1",
        extra_enqueuers=("serviceAccount:ci@example-project.iam.gserviceaccount.com",)),
}


@pytest.fixture(scope="module", params=sorted(DEPLOYS))
def synthesized(request, tmp_path_factory) -> Path:
    outdir = tmp_path_factory.mktemp(request.param)
    build_app(deploy=DEPLOYS[request.param], outdir=str(outdir), notices=io.StringIO()).synth()
    return outdir


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_terraform_accepts_every_environment_stack(synthesized, env_name):
    verdict = judge(synthesized / "stacks" / env_name / "cdk.tf.json")
    assert verdict.accepted, "\n\n".join(verdict.configuration_errors) or verdict.output
