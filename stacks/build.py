"""Build the framework's App (the root of the construct tree, cdktf's or cdktn's): one
TasksStack per environment."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import TextIO

from constructs_lib._framework import App

from .deploy_settings import DeploySettings, placeholder_message
from .settings import EnvironmentSettings, load_environments
from .tasks_stack import TasksStack


def build_app(
    *,
    environments: Mapping[str, EnvironmentSettings] | None = None,
    deploy: DeploySettings | None = None,
    outdir: str | None = None,
    notices: TextIO | None = None,
) -> App:
    """Return an App holding every environment's stack (not yet synthesized). Every
    target is resolved (and refused) before the first stack; placeholders are reported
    once, in one line on ``notices`` (default: stdout, which cdktf shows as is)."""
    environments = load_environments() if environments is None else environments
    deploy = DeploySettings.from_environ() if deploy is None else deploy
    targets = {name: deploy.target(env) for name, env in environments.items()}
    message = placeholder_message(targets)
    if message:
        (notices or sys.stdout).write(message + "\n")
    app = App(outdir=outdir) if outdir else App()
    for name, env in environments.items():
        TasksStack(app, env, deploy, targets[name])
    return app
