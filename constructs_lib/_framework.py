"""The one module that imports the CDK framework and the provider packages.

The library, the stacks and the tests run on either framework with one source tree:

* ``cdktf`` (the default): ``cdktf`` 0.21.0, ``cdktf-cdktf-provider-google`` 16.12.1
  (google provider 6.50.0), ``cdktf-cdktf-provider-random`` 12.0.1 (random 3.7.2);
* ``cdktn`` (CDK Terrain, the maintained fork): ``cdktn`` 0.24.0, ``cdktn-provider-google``
  21.1.0 (google 8.7.0), ``cdktn-provider-random`` 15.0.1 (random 3.9.1).

The framework is ``CONSTRUCTS_LIB_FRAMEWORK`` (``cdktf`` or ``cdktn``) when set, else the one
whose three packages are installed; with both installed, the one the application imported
already, else cdktf (``_choice.choose``). Neither installed, or the asked one missing:
:class:`FrameworkNotInstalled` says what to install.

Everything else imports framework names from here (``from constructs_lib._framework import
TerraformStack, CloudRunV2Service``), never from ``cdktf``/``cdktn`` directly. The
``if TYPE_CHECKING:`` block below is both what a type checker reads (the cdktf packages:
both frameworks generate the same classes and signatures) and, read at import time, the
list of names this module serves from the chosen framework's packages: a provider
submodule is imported when one of its names is first asked for, so a stack loads only
the submodules it uses. To use another provider class, add it to that block.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ._choice import (
    DEFAULT,
    ENV_VAR,
    FRAMEWORKS,
    Framework,
    FrameworkNotInstalled,
    choose,
)

FRAMEWORK: Framework = choose()
NAME: str = FRAMEWORK.name

if TYPE_CHECKING:
    import cdktf as cdk
    from cdktf import (
        App,
        DefaultTokenResolver,
        Fn,
        GcsBackend,
        ITerraformDependable,
        LocalBackend,
        StringConcat,
        TerraformOutput,
        TerraformResource,
        TerraformResourceLifecycle,
        TerraformStack,
        Testing,
        Token,
        Tokenization,
    )
    from cdktf_cdktf_provider_google.cloud_run_v2_job import (
        CloudRunV2Job,
        CloudRunV2JobTemplate,
        CloudRunV2JobTemplateTemplate,
        CloudRunV2JobTemplateTemplateContainers,
        CloudRunV2JobTemplateTemplateContainersEnv,
        CloudRunV2JobTemplateTemplateContainersEnvValueSource,
        CloudRunV2JobTemplateTemplateContainersEnvValueSourceSecretKeyRef,
        CloudRunV2JobTemplateTemplateContainersResources,
    )
    from cdktf_cdktf_provider_google.cloud_run_v2_job_iam_member import CloudRunV2JobIamMember
    from cdktf_cdktf_provider_google.cloud_run_v2_service import (
        CloudRunV2Service,
        CloudRunV2ServiceTemplate,
        CloudRunV2ServiceTemplateContainers,
        CloudRunV2ServiceTemplateContainersEnv,
        CloudRunV2ServiceTemplateContainersEnvValueSource,
        CloudRunV2ServiceTemplateContainersEnvValueSourceSecretKeyRef,
        CloudRunV2ServiceTemplateContainersPorts,
        CloudRunV2ServiceTemplateContainersResources,
        CloudRunV2ServiceTemplateContainersStartupProbe,
        CloudRunV2ServiceTemplateContainersStartupProbeHttpGet,
        CloudRunV2ServiceTemplateScaling,
    )
    from cdktf_cdktf_provider_google.cloud_run_v2_service_iam_binding import (
        CloudRunV2ServiceIamBinding,
    )
    from cdktf_cdktf_provider_google.cloud_run_v2_service_iam_member import (
        CloudRunV2ServiceIamMember,
    )
    from cdktf_cdktf_provider_google.cloud_run_v2_service_iam_policy import (
        CloudRunV2ServiceIamPolicy,
    )
    from cdktf_cdktf_provider_google.cloud_tasks_queue import (
        CloudTasksQueue,
        CloudTasksQueueHttpTarget,
        CloudTasksQueueHttpTargetOidcToken,
        CloudTasksQueueHttpTargetUriOverride,
        CloudTasksQueueHttpTargetUriOverridePathOverride,
        CloudTasksQueueRateLimits,
        CloudTasksQueueRetryConfig,
        CloudTasksQueueStackdriverLoggingConfig,
    )
    from cdktf_cdktf_provider_google.cloud_tasks_queue_iam_binding import (
        CloudTasksQueueIamBinding,
    )
    from cdktf_cdktf_provider_google.cloud_tasks_queue_iam_member import CloudTasksQueueIamMember
    from cdktf_cdktf_provider_google.cloud_tasks_queue_iam_policy import CloudTasksQueueIamPolicy
    from cdktf_cdktf_provider_google.data_google_compute_default_service_account import (
        DataGoogleComputeDefaultServiceAccount,
    )
    from cdktf_cdktf_provider_google.data_google_iam_policy import (
        DataGoogleIamPolicy,
        DataGoogleIamPolicyBinding,
    )
    from cdktf_cdktf_provider_google.logging_metric import (
        LoggingMetric,
        LoggingMetricMetricDescriptor,
    )
    from cdktf_cdktf_provider_google.monitoring_alert_policy import (
        MonitoringAlertPolicy,
        MonitoringAlertPolicyConditions,
        MonitoringAlertPolicyConditionsConditionThreshold,
        MonitoringAlertPolicyConditionsConditionThresholdAggregations,
        MonitoringAlertPolicyConditionsConditionThresholdTrigger,
        MonitoringAlertPolicyDocumentation,
    )
    from cdktf_cdktf_provider_google.project_iam_binding import ProjectIamBinding
    from cdktf_cdktf_provider_google.project_iam_custom_role import ProjectIamCustomRole
    from cdktf_cdktf_provider_google.project_iam_member import ProjectIamMember
    from cdktf_cdktf_provider_google.project_iam_policy import ProjectIamPolicy
    from cdktf_cdktf_provider_google.project_service import ProjectService
    from cdktf_cdktf_provider_google.provider import GoogleProvider
    from cdktf_cdktf_provider_google.pubsub_topic import PubsubTopic
    from cdktf_cdktf_provider_google.secret_manager_secret_iam_member import (
        SecretManagerSecretIamMember,
    )
    from cdktf_cdktf_provider_google.service_account import ServiceAccount
    from cdktf_cdktf_provider_google.service_account_iam_binding import (
        ServiceAccountIamBinding,
    )
    from cdktf_cdktf_provider_google.service_account_iam_member import ServiceAccountIamMember
    from cdktf_cdktf_provider_google.storage_bucket import (
        StorageBucket,
        StorageBucketLifecycleRule,
        StorageBucketLifecycleRuleAction,
        StorageBucketLifecycleRuleCondition,
        StorageBucketSoftDeletePolicy,
        StorageBucketVersioning,
    )
    from cdktf_cdktf_provider_google.storage_bucket_iam_member import StorageBucketIamMember
    from cdktf_cdktf_provider_random.id import Id as RandomId
    from cdktf_cdktf_provider_random.provider import RandomProvider
else:
    cdk: ModuleType = importlib.import_module(FRAMEWORK.core)


def _exports(framework: Framework) -> dict[str, tuple[str, str]]:
    """Exported name -> (module of ``framework``, attribute), read from the block above."""
    packages = {FRAMEWORKS[DEFAULT].core: framework.core,
                FRAMEWORKS[DEFAULT].google: framework.google,
                FRAMEWORKS[DEFAULT].random: framework.random}
    tree = ast.parse(Path(__file__).read_text(encoding="utf-8"))
    block = next(node for node in tree.body if isinstance(node, ast.If)
                 and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING")
    exports: dict[str, tuple[str, str]] = {}
    for node in block.body:
        if isinstance(node, ast.ImportFrom) and node.module:
            root, _, rest = node.module.partition(".")
            module = packages[root] + (f".{rest}" if rest else "")
            for alias in node.names:
                exports[alias.asname or alias.name] = (module, alias.name)
    return exports


_EXPORTS = _exports(FRAMEWORK)
__all__ = ["DEFAULT", "ENV_VAR", "FRAMEWORK", "FRAMEWORKS", "Framework", "FrameworkNotInstalled",
           "NAME", "cdk", "choose", "newer_provider_fields", "provider_module", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    """Serve an exported name from the chosen framework, importing its module on first use."""
    target = _EXPORTS.get(name)
    if target is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(target[0]), target[1])
    globals()[name] = value
    return value


def newer_provider_fields(**fields: Any) -> dict[str, Any]:
    """``fields`` on a google provider that has them (8.x, cdktn), nothing on 6.50.0 (cdktf):
    for fields 8.x added, written so both frameworks declare the same infrastructure."""
    return dict(fields) if FRAMEWORK.google_provider_major >= 8 else {}


def provider_module(submodule: str, *, provider: str = "google") -> ModuleType:
    """A provider submodule of the chosen framework (``provider_module("storage_bucket")``),
    for code that needs a class not listed above."""
    package = {"google": FRAMEWORK.google, "random": FRAMEWORK.random}[provider]
    return importlib.import_module(f"{package}.{submodule}")
