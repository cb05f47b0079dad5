"""Fixtures for infrastructure tests: a fresh stack and its synthesized JSON.

Tests look resources up by type and by values, never by generated logical ids.
"""

from __future__ import annotations

import cdktf
import pytest

import constructs_lib  # noqa: F401 - lazy provider loading before any provider import
from cdktf_cdktf_provider_google.provider import GoogleProvider

PROJECT = "example-project"


@pytest.fixture
def stack() -> cdktf.TerraformStack:
    """A user's own empty stack with a google provider."""
    app = cdktf.Testing.app()
    stack = cdktf.TerraformStack(app, "test")
    GoogleProvider(stack, "google", project=PROJECT, region="us-central1")
    return stack
