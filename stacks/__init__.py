"""The deployable stacks: one per environment in ``environments.toml``."""

from .app import build_app
from .deploy_settings import DeploySettings, PlaceholderProjectWarning
from .settings import EnvironmentSettings, load_environments
from .tasks_stack import OUTPUT_NAMES, TasksStack

__all__ = [
    "OUTPUT_NAMES",
    "DeploySettings",
    "EnvironmentSettings",
    "PlaceholderProjectWarning",
    "TasksStack",
    "build_app",
    "load_environments",
]
