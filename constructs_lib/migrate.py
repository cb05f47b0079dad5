"""Move a deployed stack's resources to the addresses this version declares, once.

Version 0.1.0 named grants by their position (``enqueuer-0``, ``act-as-1``, ``invoker-0``)
and declared the APIs inside each pattern. This version names grants by role and member
and declares each API once per stack and project. Upgrading without moving the state would
make ``terraform plan`` destroy and re-create every grant and API (and a member can end
without its grant). This module matches the resources recorded in the state with the ones
the new synthesis declares by what they *are* (role, member and the resource they grant on;
project and service for an API), never by position, and prints one
``terraform state mv`` line per resource to move.

    terraform -chdir=cdktf.out/stacks/dev state pull > dev.tfstate
    python -m constructs_lib.migrate --state dev.tfstate --stack cdktf.out/stacks/dev/cdk.tf.json

It reads the raw state (``terraform state pull``, which needs no provider) and writes
nothing: review the lines, then run them in the stack's folder.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# What a resource is, per type: the attributes that identify it (a grant: role, member
# and the resource it is on; an API: project and service).
IDENTITY = {
    "google_cloud_run_v2_service_iam_member": ("role", "member", "name"),
    "google_cloud_tasks_queue_iam_member": ("role", "member", "name"),
    "google_service_account_iam_member": ("role", "member", "service_account_id"),
    "google_project_service": ("project", "service"),
}
_REFERENCE = re.compile(r"^\$\{([A-Za-z0-9_]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_]+)\}$")


@dataclass(frozen=True)
class Moves:
    """State moves that keep every matched resource, and what could not be matched."""

    moves: tuple[tuple[str, str], ...]
    unmatched_old: tuple[str, ...]  # in the state, no longer declared: plan destroys them
    unmatched_new: tuple[str, ...]  # declared, not in the state: plan creates them

    def commands(self) -> list[str]:
        return [f"terraform state mv '{old}' '{new}'" for old, new in self.moves]


def _state_resources(state: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """address -> attributes of the root module's managed, single-instance resources."""
    found = {}
    for resource in state.get("resources") or []:
        if resource.get("mode") != "managed" or resource.get("module"):
            continue
        instances = resource.get("instances") or []
        if len(instances) == 1 and "index_key" not in instances[0]:
            found[f"{resource['type']}.{resource['name']}"] = instances[0].get("attributes", {})
    return found


def _config_resources(stack: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {f"{rtype}.{name}": body
            for rtype, by_name in (stack.get("resource") or {}).items()
            for name, body in (by_name or {}).items()}


def _normal(value: Any) -> Any:
    """Resource names compare by their last segment (state may hold the full path)."""
    return value.rsplit("/", 1)[-1] if isinstance(value, str) else value


def _identity(attributes: Mapping[str, Any], keys: Sequence[str],
              lookup: Mapping[str, Mapping[str, Any]] | None) -> tuple[Any, ...] | None:
    values = []
    for key in keys:
        value = attributes.get(key)
        if lookup is not None and isinstance(value, str) and "${" in value:
            reference = _REFERENCE.match(value)
            if reference is None:
                return None  # an expression this tool cannot evaluate: leave it alone
            rtype, name, attribute = reference.groups()
            value = (lookup.get(f"{rtype}.{name}") or {}).get(attribute)
            if value is None:
                return None
        values.append(_normal(value))
    return tuple(values)


def plan_moves(state: Mapping[str, Any], stack: Mapping[str, Any]) -> Moves:
    """Pair each resource only the state has with the one only the stack declares that is
    the same thing; anything ambiguous or unknown is left unmatched (never guessed)."""
    old = _state_resources(state)
    new = _config_resources(stack)
    old_only = sorted(old.keys() - new.keys())
    new_only = sorted(new.keys() - old.keys())
    moves = []
    for rtype, keys in IDENTITY.items():
        by_identity: dict[tuple[Any, ...], list[str]] = {}
        for address in (a for a in old_only if a.split(".")[0] == rtype):
            identity = _identity(old[address], keys, None)
            if identity is not None:
                by_identity.setdefault(identity, []).append(address)
        wanted: dict[tuple[Any, ...], list[str]] = {}
        for address in (a for a in new_only if a.split(".")[0] == rtype):
            identity = _identity(new[address], keys, old)
            if identity is not None:
                wanted.setdefault(identity, []).append(address)
        for identity, targets in sorted(wanted.items(), key=lambda item: item[1]):
            sources = by_identity.get(identity, [])
            if len(sources) == 1 and len(targets) == 1:
                moves.append((sources[0], targets[0]))
    moved_old = {a for a, _ in moves}
    moved_new = {b for _, b in moves}
    return Moves(
        moves=tuple(sorted(moves)),
        unmatched_old=tuple(a for a in old_only if a not in moved_old),
        unmatched_new=tuple(a for a in new_only if a not in moved_new),
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m constructs_lib.migrate",
        description="Print the terraform state mv lines that move a stack deployed with "
                    "constructs_lib 0.1.0 to this version's addresses.")
    parser.add_argument("--state", type=Path, required=True,
                        help="output of `terraform state pull` for the stack")
    parser.add_argument("--stack", type=Path, required=True,
                        help="the new cdk.tf.json of the same stack (after cdktf synth)")
    arguments = parser.parse_args(argv)
    result = plan_moves(json.loads(arguments.state.read_text()),
                        json.loads(arguments.stack.read_text()))
    sys.stdout.write("".join(f"{line}\n" for line in result.commands()))
    for address in result.unmatched_old:
        sys.stderr.write(f"# not matched, terraform plan would destroy: {address}\n")
    for address in result.unmatched_new:
        sys.stderr.write(f"# not matched, terraform plan would create: {address}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
