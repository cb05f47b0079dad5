"""Fixtures for infrastructure tests: a fresh stack and its synthesized JSON.

Tests look resources up by type and by values, never by generated logical ids.
"""

from __future__ import annotations

import pytest

from constructs_lib._framework import GoogleProvider, cdk
from tests.infra.tfjson import PROJECT


@pytest.fixture
def stack() -> cdk.TerraformStack:
    """A user's own empty stack with a google provider."""
    app = cdk.Testing.app()
    stack = cdk.TerraformStack(app, "test")
    GoogleProvider(stack, "google", project=PROJECT, region="us-central1")
    return stack
