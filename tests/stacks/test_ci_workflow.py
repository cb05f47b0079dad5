"""The workflow teams copy runs the README's test command on both frameworks (a matrix:
cdktf and cdktn) and lets Terraform, with the provider schema, validate every synthesized
stack."""

from __future__ import annotations

from pathlib import Path

import yaml

WORKFLOW = Path(__file__).resolve().parents[2] / ".github" / "workflows" / "ci.yml"


def _job() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())["jobs"]["test"]


def _steps() -> list[dict]:
    return _job()["steps"]


def _matrix() -> list[dict]:
    return _job()["strategy"]["matrix"]["include"]


def test_matrix_runs_each_framework_with_its_make_targets():
    rows = {row["framework"]: row for row in _matrix()}
    assert set(rows) == {"cdktf", "cdktn"}
    assert (rows["cdktf"]["test"], rows["cdktf"]["synth"]) == ("make test", "make synth")
    assert (rows["cdktn"]["test"], rows["cdktn"]["synth"]) == ("make test-cdktn",
                                                                "make synth-cdktn")
    assert _job()["strategy"]["fail-fast"] is False  # one framework failing hides no other
    jsii_cache = next(s for s in _steps() if s.get("name") == "jsii package cache")
    assert "matrix.framework" in jsii_cache["with"]["key"]


def test_workflow_installs_terraform_before_the_tests():
    steps = _steps()
    uses = [step.get("uses", "") for step in steps]
    runs = [step.get("run", "") for step in steps]
    setup = next(i for i, u in enumerate(uses) if u.startswith("hashicorp/setup-terraform@"))
    tests = next(i for i, r in enumerate(runs) if r.strip() == "${{ matrix.test }}")
    assert setup < tests


def test_workflow_validates_every_synthesized_stack_after_synth():
    runs = [step.get("run", "") for step in _steps()]
    synth = next(i for i, r in enumerate(runs) if r.strip() == "${{ matrix.synth }}")
    validate = next(i for i, r in enumerate(runs) if "terraform" in r and "validate" in r)
    assert synth < validate
    script = runs[validate]
    assert "cdktf.out/stacks/*/" in script
    assert "init -backend=false" in script
    assert "set -euo pipefail" in script  # one failing stack fails the job
