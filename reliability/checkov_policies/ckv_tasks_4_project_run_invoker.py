"""CKV_TASKS_4: roles/run.invoker is granted on one service, never at project (or folder,
organization) level, where it lets the member call every Cloud Run service in scope."""

from __future__ import annotations

from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck
from ckv_tasks_support import RUN_INVOKER_ROLE, grants, iam_resource_types


class NoProjectLevelRunInvoker(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Ensure roles/run.invoker is not granted at project, folder or "
            "organization level (grant it on the one Cloud Run service)",
            id="CKV_TASKS_4",
            categories=(CheckCategories.IAM,),
            supported_resources=(
                *iam_resource_types("google_project"),
                *iam_resource_types("google_folder"),
                *iam_resource_types("google_organization"),
            ),
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        self.evaluated_keys = [k for k in ("role", "policy_data") if k in conf]
        members = [member for role, member in grants(conf) if role == RUN_INVOKER_ROLE]
        if members:
            self.details = [
                f"{RUN_INVOKER_ROLE} at {self.entity_type.split('_iam_')[0][len('google_'):]} "
                f"level to {', '.join(members) or 'its members'}"
            ]
            return CheckResult.FAILED
        return CheckResult.PASSED


check = NoProjectLevelRunInvoker()
