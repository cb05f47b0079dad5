"""The hashicorp/random provider, for names that must change when an environment is rebuilt.

A ``random_id`` keeps its value in state: it is the same on every plan and new only after
a destroy (or when its keepers change), which is exactly what a name needs whose old value
is blocked for a while after deletion (a Cloud Tasks queue's, up to 7 days).
"""

from __future__ import annotations

from constructs import Construct

from ._framework import RandomId, RandomProvider, TerraformStack

__all__ = ["RandomId", "ensure_random_provider"]


def ensure_random_provider(scope: Construct) -> RandomProvider:
    """The stack's ``random`` provider (pinned in required_providers), declared once; one the
    user declared before is reused."""
    stack = TerraformStack.of(scope)
    for child in stack.node.children:
        if isinstance(child, RandomProvider):
            return child
    return RandomProvider(stack, "random")
