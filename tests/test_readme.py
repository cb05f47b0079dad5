"""The Python examples marked ``<!-- readme-test -->`` in the README and docs/ run as written."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest

from constructs_lib._framework import FRAMEWORK, cdk
from stacks import DeploySettings, TasksStack, parse_environments

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DEPLOY = ROOT / "docs" / "deploy.md"
BLOCK = re.compile(r"<!-- readme-test -->\s*```python\n(.*?)```", re.DOTALL)
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
EXAMPLES = [(f"{page.relative_to(ROOT)} example {number}", source)
            for page in PAGES
            for number, source in enumerate(BLOCK.findall(page.read_text(encoding="utf-8")), 1)]


def migrated(source: str) -> str:
    """``source`` as the migration guide (docs/cdktn.md, step 2) has a cdktn user write it:
    the framework and provider packages renamed, nothing else."""
    if FRAMEWORK.name == "cdktf":
        return source
    source = source.replace("cdktf_cdktf_provider_google", FRAMEWORK.google)
    source = source.replace("cdktf_cdktf_provider_random", FRAMEWORK.random)
    return re.sub(r"\bcdktf\b", FRAMEWORK.core, source)


def test_the_smallest_example_comes_first_and_synthesizes_one_pattern():
    where, source = EXAMPLES[0]
    assert where == "README.md example 1"
    assert source.count("CloudTasksToCloudRun(") == 1 and "app.synth()" in source


@pytest.mark.parametrize(("where", "example"), EXAMPLES, ids=[w for w, _ in EXAMPLES])
def test_readme_example_runs(where, example, tmp_path):
    # The jsii kernel keeps the working directory it started in, so the only change made
    # to an example is where its App writes (and, on cdktn, the imports the migration
    # guide changes: docs/cdktn.md).
    source = migrated(example).replace(
        f"{FRAMEWORK.core}.App()", f"{FRAMEWORK.core}.App(outdir={str(tmp_path)!r})")
    code = compile(source, where, "exec")
    exec(code, {"__name__": "readme_example"})  # noqa: S102 - our own docs
    if "app.synth()" in example:
        assert list(tmp_path.glob("stacks/*/cdk.tf.json"))


TOML_BLOCK = re.compile(r"<!-- readme-test-toml -->\s*```toml\n(.*?)```", re.DOTALL)


def test_the_deploy_pages_environment_table_synthesizes_a_stack_of_its_own_project():
    (source,) = TOML_BLOCK.findall(DEPLOY.read_text(encoding="utf-8"))
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


SKELETON = ["Requirements", "The two commands", "The smallest working example", "Constructs",
            "The IAM model", "Environments and deploy", "Day 2", "The sample app", "Benchmarks",
            "Reliability", "cdktn", "Tests", "Dependencies", "Layout"]


def test_the_readme_follows_the_skeleton_in_order():
    headings = re.findall(r"^## (.+)$", README.read_text(encoding="utf-8"), re.MULTILINE)
    assert headings == SKELETON


def test_every_make_target_the_readme_names_exists():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([\w-]+):", makefile, re.MULTILINE))
    named = set(re.findall(r"\bmake ([\w-]+)", README.read_text(encoding="utf-8")))
    assert {"synth", "test", "test-cdktn"} <= named
    assert named <= targets
