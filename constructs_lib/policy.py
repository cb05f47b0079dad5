"""Synth-time policy check over a whole stack, escape hatches included.

:class:`PolicyCheck` is a cdktf validation: at every synth it reads the stack's final
Terraform JSON (after ``add_override`` and hand-written resources) and fails the synth,
before any file is written, when it finds

* a public member (``allUsers`` / ``allAuthenticatedUsers``) in any IAM resource;
* ``roles/run.invoker`` granted at project, folder or organization level (it lets the
  member call every service);
* a public member in a ``data.google_iam_policy`` document (how ``_iam_policy`` resources
  are usually written);
* a Cloud Run service on the default compute account (or with no account, which means the
  same), or with the invoker IAM check disabled (which makes it public).

It also refuses two resources that would take one name in one project (service accounts,
Cloud Run services and jobs, queues): :func:`find_name_collisions`.

The pure functions :func:`find_violations` and :func:`find_name_collisions` do the work, so
they can also run on a ``cdk.tf.json`` read from disk.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterator, Mapping
from typing import Any

import jsii
from constructs import Construct, IValidation

from ._framework import TerraformResource, TerraformStack
from .validation import PUBLIC_MEMBERS, ConfigurationError, check_non_empty

RUN_INVOKER_ROLE = "roles/run.invoker"
# Rule names, as written in an exception (PolicyCheck.allow).
PUBLIC_MEMBER = "public-member"
PROJECT_INVOKER = "project-level-invoker"
DEFAULT_ACCOUNT = "default-service-account"
INVOKER_IAM_DISABLED = "invoker-iam-disabled"
RULES = (PUBLIC_MEMBER, PROJECT_INVOKER, DEFAULT_ACCOUNT, INVOKER_IAM_DISABLED)
EXCEPTIONS_KEY = "constructs_lib_policy_exceptions"
DEFAULT_COMPUTE_SUFFIX = "-compute@developer.gserviceaccount.com"
PROJECT_IAM_TYPES = (
    "google_project_iam_member",
    "google_project_iam_binding",
    "google_project_iam_policy",
    "google_folder_iam_member",
    "google_folder_iam_binding",
    "google_folder_iam_policy",
    "google_organization_iam_member",
    "google_organization_iam_binding",
    "google_organization_iam_policy",
)


def find_violations(terraform: Mapping[str, Any],
                    owned: Collection[str] | None = None) -> list[str]:
    """Every policy violation in a synthesized stack (``cdk.tf.json`` as a dict).

    ``owned``: addresses (``type.name``) the library declared. Given, only those are
    checked, with every IAM resource or policy document that grants on them, and any
    project-, folder- or organization-level ``run.invoker`` (it reaches their services);
    the user's unrelated resources are left alone. ``None``: the whole stack.
    Resources may carry a written exception (:meth:`PolicyCheck.allow`).
    """
    policies = _data_policies(terraform)
    problems: list[str] = []
    checked_policies: set[str] = set() if owned is not None else set(policies)
    for resource_type, name, config in _resources(terraform):
        where = f"{resource_type}.{name}"
        if owned is not None and not _concerns(where, resource_type, config, owned, policies):
            continue
        allowed = _exceptions(config)
        if "_iam_" in resource_type:
            checked_policies |= _referenced_policies(config)
            problems.extend(p for rule, p in _iam_violations(where, resource_type, config,
                                                              policies) if rule not in allowed)
        if resource_type in ("google_cloud_run_v2_service", "google_cloud_run_v2_job"):
            problems.extend(p for rule, p in _service_violations(where, config)
                            if rule not in allowed)
    for name in sorted(checked_policies & set(policies)):
        for role, member in _public_grants(policies[name]):
            problems.insert(0, _public_message(f"data.google_iam_policy.{name}", role, member))
    return problems


def _concerns(where: str, resource_type: str, config: Mapping[str, Any],
              owned: Collection[str], policies: Mapping[str, list[Binding]]) -> bool:
    """Whether a resource is the library's, grants on the library's, or grants
    ``run.invoker`` above the level of one service."""
    if where in owned:
        return True
    if "_iam_" not in resource_type:
        return False
    if resource_type in PROJECT_IAM_TYPES and any(
            role == RUN_INVOKER_ROLE for role, _ in _bindings(config, policies)):
        return True
    text = json.dumps(config)
    return any(f"${{{address}." in text for address in owned)


def _referenced_policies(config: Mapping[str, Any]) -> set[str]:
    policy = config.get("policy_data")
    reference = _DATA_POLICY_REF.match(policy.strip()) if isinstance(policy, str) else None
    return {reference.group(1)} if reference else set()


def _exceptions(config: Mapping[str, Any]) -> set[str]:
    """Rules a resource is exempted from, as written in its ``//`` comment block."""
    comment = config.get("//")
    if not isinstance(comment, Mapping):
        return set()
    return set((comment.get(EXCEPTIONS_KEY) or {}).keys())


def _resources(terraform: Mapping[str, Any]) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    for resource_type, instances in sorted((terraform.get("resource") or {}).items()):
        for name, config in sorted((instances or {}).items()):
            yield resource_type, name, config or {}


Binding = tuple[Any, list[Any]]  # (role, members)


def _data_policies(terraform: Mapping[str, Any]) -> dict[str, list[Binding]]:
    """``data.google_iam_policy`` documents: the usual way to write an ``_iam_policy``."""
    found = {}
    for name, config in ((terraform.get("data") or {}).get("google_iam_policy") or {}).items():
        blocks = (config or {}).get("binding") or []
        blocks = [blocks] if isinstance(blocks, Mapping) else blocks
        found[name] = [(b.get("role"), list(b.get("members") or [])) for b in blocks]
    return found


_DATA_POLICY_REF = re.compile(r"^\$\{data\.google_iam_policy\.([^.}]+)\.policy_data\}$")


def _bindings(config: Mapping[str, Any], policies: Mapping[str, list[Binding]]) -> list[Binding]:
    """(role, members) pairs a resource grants: member/members, or its policy document."""
    bindings: list[Binding] = []
    members = list(config.get("members") or [])
    if config.get("member") is not None:
        members.append(config["member"])
    if members or config.get("role") is not None:
        bindings.append((config.get("role"), members))
    policy = config.get("policy_data")
    if isinstance(policy, str):
        reference = _DATA_POLICY_REF.match(policy.strip())
        if reference:
            bindings.extend(policies.get(reference.group(1), []))
        else:
            bindings.extend(_literal_policy(policy))
    return bindings


def _literal_policy(policy: str) -> list[Binding]:
    try:
        document = json.loads(policy)
        return [(b.get("role"), list(b.get("members") or []))
                for b in (document.get("bindings") or [])]
    except (ValueError, AttributeError):
        # Not JSON we can read (an expression): still, no public member or invoker role
        # may be smuggled through it.
        members = [p for p in PUBLIC_MEMBERS if f'"{p}"' in policy]
        role = RUN_INVOKER_ROLE if RUN_INVOKER_ROLE in policy else None
        return [(role, members)] if members or role else []


def _public_grants(bindings: list[Binding]) -> Iterator[tuple[Any, str]]:
    for role, members in bindings:
        for member in members:
            if isinstance(member, str) and member.strip() in PUBLIC_MEMBERS:
                yield role, member.strip()


def _public_message(where: str, role: Any, member: str) -> str:
    return (f"{where} grants {role or 'a role'} to the public member {member!r}: only "
            "named principals may be granted access")


def _iam_violations(where: str, resource_type: str, config: Mapping[str, Any],
                    policies: Mapping[str, list[Binding]]) -> list[tuple[str, str]]:
    bindings = _bindings(config, policies)
    problems = [(PUBLIC_MEMBER, _public_message(where, role, member))
                for role, member in _public_grants(bindings)]
    if resource_type in PROJECT_IAM_TYPES and any(r == RUN_INVOKER_ROLE for r, _ in bindings):
        problems.append((PROJECT_INVOKER,
            f"{where} grants {RUN_INVOKER_ROLE} at project level, which lets the member "
            "call every Cloud Run service in the project: grant it on one service "
            "(WorkerService.grant_invoke)"))
    return problems


def _is_default_account(account: str) -> bool:
    """The Compute Engine or App Engine default account, literally or through the
    ``google_compute_default_service_account`` / ``google_app_engine_default_service_account``
    data sources."""
    return (account.endswith((DEFAULT_COMPUTE_SUFFIX, "@appspot.gserviceaccount.com"))
            or "data.google_compute_default_service_account." in account
            or "data.google_app_engine_default_service_account." in account)


def _first(block: Any) -> Mapping[str, Any]:
    """A nested block, written as an object or a one-element list."""
    if isinstance(block, list):
        block = block[0] if block else {}
    return block if isinstance(block, Mapping) else {}


def _service_violations(where: str, config: Mapping[str, Any]) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    template = _first(config.get("template"))
    if "template" in template:  # a job: template.template holds the task's settings
        template = _first(template.get("template"))
    account = template.get("service_account")
    if not account:
        problems.append((DEFAULT_ACCOUNT,
            f"{where} has no template.service_account, so it runs as the default compute "
            "account (Editor on the project): give it a dedicated account"))
    elif isinstance(account, str) and _is_default_account(account):
        problems.append((DEFAULT_ACCOUNT,
            f"{where} runs as the default compute account {account!r} (or another "
            "default account): give it a dedicated account"))
    if config.get("invoker_iam_disabled") in (True, "true"):
        problems.append((INVOKER_IAM_DISABLED,
            f"{where} sets invoker_iam_disabled, which lets anyone call it: keep the "
            "run.invoker check on"))
    return problems


# Resources whose name must be unique per project (and location): two of them in one stack
# pass every per-resource check and then fail at apply, the second with "already exists".
UNIQUE_NAMES = {
    "google_service_account": ("account_id",),
    "google_cloud_run_v2_service": ("location", "name"),
    "google_cloud_run_v2_job": ("location", "name"),
    "google_cloud_tasks_queue": ("location", "name"),
}


def find_name_collisions(terraform: Mapping[str, Any],
                         owned: Collection[str] | None = None) -> list[str]:
    """Resources of one stack that would take the same name in the same project (with
    ``owned``: only collisions that involve one of those)."""
    seen: dict[tuple[Any, ...], str] = {}
    problems = []
    for resource_type, name, config in _resources(terraform):
        keys = UNIQUE_NAMES.get(resource_type)
        if keys is None:
            continue
        # No project means the provider's project: all such resources share it.
        key = (resource_type, config.get("project"), *(config.get(k) for k in keys))
        where = f"{resource_type}.{name}"
        if key in seen:
            if owned is not None and where not in owned and seen[key] not in owned:
                continue
            shown = ", ".join(f"{k}={config.get(k)!r}" for k in keys)
            problems.append(
                f"{where} and {seen[key]} both declare {shown} in project "
                f"{config.get('project') or '(the provider default)'}: give one of them "
                "another name (apply would fail with 'already exists')")
        else:
            seen[key] = where
    return problems


@jsii.implements(IValidation)
class PolicyCheck:
    """The cdktf validation that runs :func:`find_violations` at synth: over what the
    library declared (and every grant on it), or over the whole stack when asked."""

    def __init__(self, stack: TerraformStack, *, whole_stack: bool = False) -> None:
        self._stack = stack
        self._owners: list[Construct] = []
        self.whole_stack = whole_stack

    def validate(self) -> list[str]:
        terraform = self._stack.to_terraform()
        owned = None if self.whole_stack else self.owned_addresses()
        return ([f"policy: {problem}" for problem in find_violations(terraform, owned)]
                + [f"names: {problem}" for problem in find_name_collisions(terraform, owned)])

    def owned_addresses(self) -> set[str]:
        """``type.name`` of every resource under a construct of the library."""
        found = set()
        for owner in self._owners:
            for child in owner.node.find_all():
                if isinstance(child, TerraformResource):
                    found.add(f"{child.terraform_resource_type}.{child.friendly_unique_id}")
        return found

    @staticmethod
    def apply_to(scope: Construct, *, whole_stack: bool = False) -> PolicyCheck:
        """Guard ``scope`` (a construct of the library, or a stack) at every synth: the
        stack's one check, attached on first use. ``whole_stack=True`` (an explicit
        opt-in) checks every resource of the stack, the user's own included."""
        stack = TerraformStack.of(scope)
        check = getattr(stack, "_constructs_lib_policy", None)
        if check is None:
            check = PolicyCheck(stack)
            stack.node.add_validation(check)
            stack._constructs_lib_policy = check  # type: ignore[attr-defined]  # marker on the Python proxy
        if whole_stack:
            check.whole_stack = True
        if scope is not stack and scope not in check._owners:
            check._owners.append(scope)
        return check

    @staticmethod
    def allow(resource: TerraformResource, rule: str, *, reason: str) -> None:
        """A deliberate exception for one resource: ``rule`` (one of :data:`RULES`) is not
        applied to it. Written into the synthesized JSON, in the resource's ``//``
        comment block, with the reason, so every reviewer of the stack sees it."""
        if rule not in RULES:
            raise ConfigurationError("rule", "one of " + ", ".join(RULES), rule)
        check_non_empty("reason", reason)
        resource.add_override(f"//.{EXCEPTIONS_KEY}.{rule}", reason)
