"""Snapshot of every environment stack's synthesized JSON (review diffs on purpose:
``pytest --snapshot-update``, then read the diff before committing)."""

import json

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from constructs_lib._framework import cdk
from stacks import DeploySettings, TasksStack, load_environments

ENVIRONMENTS = load_environments()
# Fixed inputs: the snapshot must not depend on the machine's environment variables.
DEPLOY = DeploySettings(project="example-project", region="us-central1",
                        image="us-docker.pkg.dev/example-project/apps/worker:1.0.0")


@pytest.fixture
def json_snapshot(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize("env_name", sorted(ENVIRONMENTS))
def test_environment_stack_snapshot(env_name, json_snapshot):
    stack = TasksStack(cdk.Testing.app(), ENVIRONMENTS[env_name], DEPLOY)
    assert json.loads(cdk.Testing.synth(stack, True)) == json_snapshot
