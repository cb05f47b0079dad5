"""Synth-time policy check over a whole stack, escape hatches included.

:class:`PolicyCheck` is a cdktf validation: at every synth it reads the stack's final
Terraform JSON (after ``add_override`` and hand-written resources) and fails the synth,
before any file is written, when it finds

* a public member (``allUsers`` / ``allAuthenticatedUsers``) in any IAM resource;
* ``roles/run.invoker`` granted at project level (it lets the member call every service);
* a Cloud Run service on the default compute account (or with no account, which means the
  same), or with the invoker IAM check disabled (which makes it public).

The pure function :func:`find_violations` does the work, so it can also run on a
``cdk.tf.json`` read from disk.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import jsii
from cdktf import TerraformStack
from constructs import Construct, IValidation

from .validation import PUBLIC_MEMBERS

RUN_INVOKER_ROLE = "roles/run.invoker"
DEFAULT_COMPUTE_SUFFIX = "-compute@developer.gserviceaccount.com"
PROJECT_IAM_TYPES = (
    "google_project_iam_member",
    "google_project_iam_binding",
    "google_project_iam_policy",
)


def find_violations(terraform: Mapping[str, Any]) -> list[str]:
    """Every policy violation in a synthesized stack (``cdk.tf.json`` as a dict)."""
    problems: list[str] = []
    for resource_type, name, config in _resources(terraform):
        where = f"{resource_type}.{name}"
        if "_iam_" in resource_type:
            problems.extend(_iam_violations(where, resource_type, config))
        if resource_type == "google_cloud_run_v2_service":
            problems.extend(_service_violations(where, config))
    return problems


def _resources(terraform: Mapping[str, Any]) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    for resource_type, instances in sorted((terraform.get("resource") or {}).items()):
        for name, config in sorted((instances or {}).items()):
            yield resource_type, name, config or {}


def _iam_violations(where: str, resource_type: str, config: Mapping[str, Any]) -> list[str]:
    problems = []
    members = list(config.get("members") or [])
    if config.get("member") is not None:
        members.append(config["member"])
    policy = config.get("policy_data")
    if isinstance(policy, str):
        members.extend(_policy_members(policy))
    for member in members:
        if isinstance(member, str) and member.strip() in PUBLIC_MEMBERS:
            problems.append(
                f"{where} grants {config.get('role', 'a role')} to the public member "
                f"{member.strip()!r}: only named principals may be granted access"
            )
    roles = [config.get("role")]
    if isinstance(policy, str):
        roles.extend(_policy_roles(policy))
    if resource_type in PROJECT_IAM_TYPES and RUN_INVOKER_ROLE in roles:
        problems.append(
            f"{where} grants {RUN_INVOKER_ROLE} at project level, which lets the member "
            "call every Cloud Run service in the project: grant it on one service "
            "(WorkerService.grant_invoke)"
        )
    return problems


def _policy_bindings(policy: str) -> list[Mapping[str, Any]]:
    try:
        return list(json.loads(policy).get("bindings") or [])
    except (ValueError, AttributeError):
        return []  # an unresolved reference: judged where it is defined


def _policy_members(policy: str) -> list[str]:
    members = [m for b in _policy_bindings(policy) for m in (b.get("members") or [])]
    # A policy we cannot parse still must not smuggle a public member through.
    members.extend(p for p in PUBLIC_MEMBERS if f'"{p}"' in policy and p not in members)
    return members


def _policy_roles(policy: str) -> list[str]:
    roles = [b.get("role") for b in _policy_bindings(policy)]
    if RUN_INVOKER_ROLE in policy and RUN_INVOKER_ROLE not in roles:
        roles.append(RUN_INVOKER_ROLE)
    return roles


def _service_violations(where: str, config: Mapping[str, Any]) -> list[str]:
    problems = []
    template = config.get("template") or {}
    if isinstance(template, list):
        template = template[0] if template else {}
    account = template.get("service_account")
    if not account:
        problems.append(
            f"{where} has no template.service_account, so it runs as the default compute "
            "account (Editor on the project): give it a dedicated account"
        )
    elif isinstance(account, str) and account.endswith(DEFAULT_COMPUTE_SUFFIX):
        problems.append(
            f"{where} runs as the default compute account {account!r}: give it a "
            "dedicated account"
        )
    if config.get("invoker_iam_disabled") in (True, "true"):
        problems.append(
            f"{where} sets invoker_iam_disabled, which lets anyone call it: keep the "
            "run.invoker check on"
        )
    return problems


@jsii.implements(IValidation)
class PolicyCheck:
    """The cdktf validation that runs :func:`find_violations` on its stack at synth."""

    def __init__(self, stack: TerraformStack) -> None:
        self._stack = stack

    def validate(self) -> list[str]:
        return [f"policy: {problem}" for problem in find_violations(self._stack.to_terraform())]

    @staticmethod
    def apply_to(scope: Construct) -> TerraformStack:
        """Attach the check to ``scope``'s stack once; return the stack."""
        stack = TerraformStack.of(scope)
        if not getattr(stack, "_constructs_lib_policy", False):
            stack.node.add_validation(PolicyCheck(stack))
            stack._constructs_lib_policy = True  # noqa: SLF001 - marker on the Python proxy
        return stack
