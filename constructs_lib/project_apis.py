"""ProjectApis: the Google APIs a stack enables, each declared once per project.

Two patterns in one stack need the same APIs; declaring them twice would give one API two
owners in Terraform. ``ProjectApis.of(scope, project)`` returns the one instance for that
project at the stack's root, so its addresses do not depend on which pattern came first.
"""

from __future__ import annotations

from constructs import Construct

from . import defaults
from ._framework import ProjectService, TerraformStack, newer_provider_fields
from .ids import identity, short_hash
from .validation import PROJECT_ID, PROJECT_ID_TEXT, check_string, is_token


class ProjectApis(Construct):
    """``google_project_service`` resources of one project; never disabled on destroy
    (another stack, or the console, may rely on the API)."""

    def __init__(self, scope: Construct, id_: str, *, project: str) -> None:
        check_string("project", project, pattern=PROJECT_ID, allowed=PROJECT_ID_TEXT)
        super().__init__(scope, id_)
        self.project = project
        self._services: dict[str, ProjectService] = {}

    @staticmethod
    def of(scope: Construct, project: str) -> ProjectApis:
        """The stack's instance for ``project``, created on first use."""
        stack = TerraformStack.of(scope)
        check_string("project", project, pattern=PROJECT_ID, allowed=PROJECT_ID_TEXT)
        key = project if not is_token(project) else short_hash(identity(stack, project))
        id_ = f"apis-{key}"
        existing = stack.node.try_find_child(id_)
        if isinstance(existing, ProjectApis):
            return existing
        return ProjectApis(stack, id_, project=project)

    def enable(self, service: str) -> ProjectService:
        """The ``google_project_service`` for ``service`` (``run.googleapis.com``), once."""
        if service not in self._services:
            self._services[service] = ProjectService(
                self, service.split(".")[0], project=self.project, service=service,
                disable_on_destroy=False,
                **newer_provider_fields(deletion_policy=defaults.DELETION_POLICY),
            )
        return self._services[service]


def shared_apis(scope: Construct, project: str, services: tuple[str, ...],
                enabled: bool = True) -> list[ProjectService]:
    """The stack's ``google_project_service`` for each of ``services`` in ``project``
    (shared with every other pattern), or none when the platform enables them."""
    if not enabled:
        return []
    apis = ProjectApis.of(scope, project)
    return [apis.enable(service) for service in services]
