"""Read synthesized Terraform JSON by resource type and value, never by logical id."""

from __future__ import annotations

import json
from typing import Any

from constructs_lib._framework import cdk

PROJECT = "example-project"
"""The project of the ``stack`` fixture's google provider (tests/infra/conftest.py)."""


def synth(stack: cdk.TerraformStack, *, validate: bool = True) -> dict[str, Any]:
    """The stack's Terraform JSON, with validations (the policy check) run."""
    return json.loads(cdk.Testing.synth(stack, validate))


def resources(terraform: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    """Every resource of ``resource_type``, in logical-id order (ids themselves unused)."""
    by_id = terraform.get("resource", {}).get(resource_type, {})
    return [by_id[key] for key in sorted(by_id)]


def one(terraform: dict[str, Any], resource_type: str) -> dict[str, Any]:
    found = resources(terraform, resource_type)
    assert len(found) == 1, f"expected one {resource_type}, found {len(found)}"
    return found[0]


def resolve(stack: cdk.TerraformStack, value: Any) -> Any:
    """What ``value`` (a token) becomes in the synthesized JSON, read through an output."""
    probe = f"probe_{len(stack.node.children)}"
    cdk.TerraformOutput(stack, probe, value=value)
    return synth(stack, validate=False)["output"][probe]["value"]
