"""The deployable stacks: one per environment in ``environments.toml``.

Names are imported on first use, so ``from stacks import node_runtime`` can set node's
flags before anything starts the jsii kernel.
"""

from importlib import import_module
from typing import Any

_EXPORTS = {
    "OUTPUT_NAMES": "outputs",
    "pattern_outputs": "outputs",
    "job_outputs": "outputs",
    "JOB_OUTPUT_NAMES": "outputs",
    "STORE_OUTPUT_NAMES": "outputs",
    "TasksStack": "tasks_stack",
    "DeploySettings": "deploy_settings",
    "Target": "deploy_settings",
    "EnvironmentSettings": "settings",
    "load_environments": "settings",
    "parse_environments": "settings",
    "build_app": "build",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
