"""The workflow teams copy runs the README's test command and lets Terraform, with the
provider schema, validate every synthesized stack."""

from __future__ import annotations

from pathlib import Path

import yaml

WORKFLOW = Path(__file__).resolve().parents[2] / ".github" / "workflows" / "ci.yml"


def _steps() -> list[dict]:
    return yaml.safe_load(WORKFLOW.read_text())["jobs"]["test"]["steps"]


def test_workflow_installs_terraform_before_the_tests():
    steps = _steps()
    uses = [step.get("uses", "") for step in steps]
    runs = [step.get("run", "") for step in steps]
    setup = next(i for i, u in enumerate(uses) if u.startswith("hashicorp/setup-terraform@"))
    tests = next(i for i, r in enumerate(runs) if r.strip() == "make test")
    assert setup < tests


def test_workflow_validates_every_synthesized_stack_after_synth():
    runs = [step.get("run", "") for step in _steps()]
    synth = next(i for i, r in enumerate(runs) if r.strip() == "make synth")
    validate = next(i for i, r in enumerate(runs) if "terraform" in r and "validate" in r)
    assert synth < validate
    script = runs[validate]
    assert "cdktf.out/stacks/*/" in script
    assert "init -backend=false" in script
    assert "set -euo pipefail" in script  # one failing stack fails the job
