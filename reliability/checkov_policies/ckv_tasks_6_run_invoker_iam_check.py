"""CKV_TASKS_6: a Cloud Run v2 service keeps its run.invoker IAM check: with
invoker_iam_disabled = true anyone who reaches its ingress may call it, tokens or not."""

from __future__ import annotations

from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck
from ckv_tasks_support import first


class RunServiceInvokerIamCheck(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Ensure a Cloud Run v2 service does not disable its invoker IAM check "
            "(invoker_iam_disabled)",
            id="CKV_TASKS_6",
            categories=(CheckCategories.IAM,),
            supported_resources=("google_cloud_run_v2_service",),
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        self.evaluated_keys = ["invoker_iam_disabled"]
        value = first(conf, "invoker_iam_disabled")
        if value is True or str(value).strip().lower() == "true":
            self.details = ["invoker_iam_disabled is true: the service is callable by anyone"]
            return CheckResult.FAILED
        return CheckResult.PASSED


check = RunServiceInvokerIamCheck()
