"""Build the cdktf App: one TasksStack per environment."""

from __future__ import annotations

from collections.abc import Mapping

from cdktf import App

from .deploy_settings import DeploySettings
from .settings import EnvironmentSettings, load_environments
from .tasks_stack import TasksStack


def build_app(
    *,
    environments: Mapping[str, EnvironmentSettings] | None = None,
    deploy: DeploySettings | None = None,
    outdir: str | None = None,
) -> App:
    """Return an App holding every environment's stack (not yet synthesized)."""
    environments = load_environments() if environments is None else environments
    deploy = DeploySettings.from_environ() if deploy is None else deploy
    app = App(outdir=outdir) if outdir else App()
    for env in environments.values():
        TasksStack(app, env, deploy)
    return app
