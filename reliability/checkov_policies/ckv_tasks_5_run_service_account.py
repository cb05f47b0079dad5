"""CKV_TASKS_5: a Cloud Run v2 service runs as a dedicated service account. With no
template.service_account it runs as the default compute account, which holds Editor on
the project; naming that account (or the google_compute_default_service_account data
source) is the same."""

from __future__ import annotations

from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck
from ckv_tasks_support import (
    DEFAULT_COMPUTE_DATA_SOURCE,
    DEFAULT_COMPUTE_SUFFIX,
    first,
    is_reference,
)


class RunServiceDedicatedAccount(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Ensure a Cloud Run v2 service runs as a dedicated service account, "
            "not the default compute account",
            id="CKV_TASKS_5",
            categories=(CheckCategories.IAM,),
            supported_resources=("google_cloud_run_v2_service",),
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        self.evaluated_keys = ["template/[0]/service_account"]
        templates = [t for t in (conf.get("template") or []) if isinstance(t, dict)]
        account = first(templates[0], "service_account") if templates else None
        if not account:
            self.details = ["no template.service_account: runs as the default compute account"]
            return CheckResult.FAILED
        account = str(account).strip()
        if is_reference(account):
            if DEFAULT_COMPUTE_DATA_SOURCE in account:
                self.details = [f"service_account {account} is the default compute account"]
                return CheckResult.FAILED
            return CheckResult.PASSED  # a reference to an account declared elsewhere
        if account.endswith(DEFAULT_COMPUTE_SUFFIX):
            self.details = [f"service_account {account!r} is the default compute account"]
            return CheckResult.FAILED
        return CheckResult.PASSED


check = RunServiceDedicatedAccount()
