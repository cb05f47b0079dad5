"""Shared helpers of the CKV_TASKS_* checks (registers no check itself).

checkov hands a Python check the resource as parsed from Terraform JSON, with every value
wrapped in a list (``{"member": ["allUsers"], "members": [["user:a", "allUsers"]]}``) and
nested blocks as lists of dicts. Values that are references (``${...}``) are left as
strings: they are judged where they are defined, never guessed at here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

PUBLIC_MEMBERS = ("allUsers", "allAuthenticatedUsers")
RUN_INVOKER_ROLE = "roles/run.invoker"
DEFAULT_COMPUTE_SUFFIX = "-compute@developer.gserviceaccount.com"
DEFAULT_COMPUTE_DATA_SOURCE = "google_compute_default_service_account"
CHECK_ID_PREFIX = "CKV_TASKS_"  # the custom range: checkov ships no CKV_TASKS_* check


def iam_resource_types(prefix: str) -> tuple[str, str, str]:
    """The additive, authoritative-per-role and authoritative IAM resources of ``prefix``."""
    return (f"{prefix}_iam_member", f"{prefix}_iam_binding", f"{prefix}_iam_policy")


def flatten(value: Any) -> Iterator[Any]:
    """Every scalar in ``value``, however deeply checkov wrapped it in lists."""
    if isinstance(value, (list, tuple)):
        for item in value:
            yield from flatten(item)
    elif value is not None:
        yield value


def first(conf: dict[str, Any], key: str) -> Any:
    """The single value of ``key`` (checkov wraps it in a list), or None."""
    values = list(flatten(conf.get(key)))
    return values[0] if values else None


def is_reference(value: Any) -> bool:
    return isinstance(value, str) and "${" in value


def _policy_bindings(policy_data: str) -> list[dict[str, Any]]:
    try:
        bindings = json.loads(policy_data).get("bindings") or []
    except (ValueError, AttributeError):
        return []
    return [b for b in bindings if isinstance(b, dict)]


def grants(conf: dict[str, Any]) -> list[tuple[str, str]]:
    """``(role, member)`` pairs an IAM member, binding or policy resource grants.

    ``policy_data`` that is a literal JSON policy is read; one that cannot be read (a
    reference) still yields a public member or the run.invoker role it spells out, so a
    policy cannot smuggle one through.
    """
    role = first(conf, "role")
    role = role if isinstance(role, str) else "?"
    pairs = [(role, m) for m in flatten(conf.get("member")) if isinstance(m, str)]
    pairs += [(role, m) for m in flatten(conf.get("members")) if isinstance(m, str)]
    for policy_data in flatten(conf.get("policy_data")):
        if not isinstance(policy_data, str):
            continue
        bindings = _policy_bindings(policy_data)
        for binding in bindings:
            b_role = binding.get("role") if isinstance(binding.get("role"), str) else "?"
            pairs += [(b_role, m) for m in flatten(binding.get("members")) if isinstance(m, str)]
        if not bindings:  # not a literal policy: look for what it spells out
            if RUN_INVOKER_ROLE in policy_data:
                pairs.append((RUN_INVOKER_ROLE, "(members of an unread policy)"))
            pairs += [("?", p) for p in PUBLIC_MEMBERS if f'"{p}"' in policy_data]
    return pairs


def is_public(member: str) -> bool:
    """``allUsers`` / ``allAuthenticatedUsers`` (whitespace and case ignored)."""
    return member.strip().lower() in {p.lower() for p in PUBLIC_MEMBERS}


def public_grants(conf: dict[str, Any]) -> list[tuple[str, str]]:
    return [(role, member.strip()) for role, member in grants(conf) if is_public(member)]


# --- check base classes (import checkov: only ever loaded inside checkov's virtualenv) -----
from checkov.common.models.enums import CheckCategories, CheckResult  # noqa: E402
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck  # noqa: E402


class NoPublicMemberCheck(BaseResourceCheck):
    """Fails an IAM member, binding or policy resource that grants any role to
    ``allUsers`` or ``allAuthenticatedUsers``."""

    def __init__(self, *, id: str, name: str, resource_prefix: str, what: str) -> None:
        self.what = what
        super().__init__(
            name=name,
            id=id,
            categories=(CheckCategories.IAM,),
            supported_resources=iam_resource_types(resource_prefix),
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        self.evaluated_keys = [k for k in ("member", "members", "policy_data") if k in conf]
        found = public_grants(conf)
        if found:
            self.details = [
                f"{role} on {self.what} granted to the public member {member!r}"
                for role, member in found
            ]
            return CheckResult.FAILED
        return CheckResult.PASSED
