"""The README's Python examples marked ``<!-- readme-test -->`` run as written."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest

from constructs_lib._framework import FRAMEWORK, cdk
from stacks import DeploySettings, TasksStack, parse_environments

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"<!-- readme-test -->\s*```python\n(.*?)```", re.DOTALL)
EXAMPLES = BLOCK.findall(README.read_text(encoding="utf-8"))


def migrated(source: str) -> str:
    """``source`` as the migration guide (docs/cdktn.md, step 2) has a cdktn user write it:
    the framework and provider packages renamed, nothing else."""
    if FRAMEWORK.name == "cdktf":
        return source
    source = source.replace("cdktf_cdktf_provider_google", FRAMEWORK.google)
    source = source.replace("cdktf_cdktf_provider_random", FRAMEWORK.random)
    return re.sub(r"\bcdktf\b", FRAMEWORK.core, source)


def test_readme_has_examples():
    assert len(EXAMPLES) >= 3


@pytest.mark.parametrize("index", range(len(EXAMPLES)))
def test_readme_example_runs(index, tmp_path):
    # The jsii kernel keeps the working directory it started in, so the only change made
    # to an example is where its App writes (and, on cdktn, the imports the migration
    # guide changes: docs/cdktn.md).
    source = migrated(EXAMPLES[index]).replace(
        f"{FRAMEWORK.core}.App()", f"{FRAMEWORK.core}.App(outdir={str(tmp_path)!r})")
    code = compile(source, f"README.md example {index + 1}", "exec")
    exec(code, {"__name__": f"readme_example_{index}"})  # noqa: S102 - our own docs
    if "app.synth()" in EXAMPLES[index]:
        assert list(tmp_path.glob("stacks/*/cdk.tf.json"))


TOML_BLOCK = re.compile(r"<!-- readme-test-toml -->\s*```toml\n(.*?)```", re.DOTALL)


def test_readme_environment_table_synthesizes_a_stack_of_its_own_project():
    (source,) = TOML_BLOCK.findall(README.read_text(encoding="utf-8"))
    environments = parse_environments(tomllib.loads(source))
    (name, env), = environments.items()
    stack = TasksStack(cdk.Testing.app(), env, DeploySettings(project="another-project"))
    terraform = json.loads(cdk.Testing.synth(stack, True))
    assert terraform["provider"]["google"][0] == {"project": "acme-tasks-staging",
                                                  "region": "europe-west1"}
    assert "another-project" not in json.dumps(terraform)
    grant = next(iter(terraform["resource"]["google_secret_manager_secret_iam_member"].values()))
    assert (grant["secret_id"], grant["role"]) == ("db-password",
                                                   "roles/secretmanager.secretAccessor")
    service = next(iter(terraform["resource"]["google_cloud_run_v2_service"].values()))
    assert service["template"]["containers"][0]["startup_probe"]["http_get"]["path"] == (
        "/healthz")
