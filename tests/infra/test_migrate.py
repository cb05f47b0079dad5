"""Stacks deployed with 0.1.0 move to this version's addresses once, with nothing replaced.

The starting point is what 0.1.0 really synthesized (``data/v0.1.0-*.cdk.tf.json``, written
by that version's code: see ``data/README.md``). From it, a state file is written as
Terraform records one after apply (attribute values Google computes, such as e-mails, are
derived the way Google derives them). The printed ``terraform state mv`` lines are then run
by the real terraform on that state, and ``terraform state list`` must equal exactly what
the new synthesis declares: every resource kept, none destroyed, none created.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest

from constructs_lib import CloudTasksToCloudRun
from constructs_lib._framework import cdk
from constructs_lib.migrate import main, plan_moves
from stacks import DeploySettings, TasksStack, load_environments
from tests.infra.tfjson import PROJECT
from tests.terraform import terraform_binary

DATA = Path(__file__).with_name("data")
ENQUEUERS = ["serviceAccount:a@example-project.iam.gserviceaccount.com",
             "group:b@example.com", "user:c@example.com"]
_REFERENCE = re.compile(r"^\$\{([A-Za-z0-9_]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_]+)\}$")


def new_enqueuers_stack(enqueuers=ENQUEUERS) -> dict[str, Any]:
    from constructs_lib._framework import GoogleProvider

    stack = cdk.TerraformStack(cdk.Testing.app(), "v010")
    GoogleProvider(stack, "google", project=PROJECT, region="us-central1")
    pattern = CloudTasksToCloudRun(stack, "tasks", project=PROJECT, name="orders",
                                   enqueuers=enqueuers)
    pattern.service.grant_invoke("group:b@example.com")
    return json.loads(cdk.Testing.synth(stack))


def new_dev_stack() -> dict[str, Any]:
    stack = TasksStack(cdk.Testing.app(), load_environments()["dev"],
                       DeploySettings(project=PROJECT))
    return json.loads(cdk.Testing.synth(stack))


def applied_state(config: dict[str, Any]) -> dict[str, Any]:
    """A Terraform v4 state for ``config`` as after an apply: literal arguments as written,
    references resolved, and the attributes Google computes filled in as Google does."""
    attributes: dict[str, dict[str, Any]] = {}
    for rtype, by_name in config["resource"].items():
        for name, body in by_name.items():
            values = {k: v for k, v in body.items() if k != "depends_on"}
            if rtype == "google_service_account":
                email = f"{body['account_id']}@{body['project']}.iam.gserviceaccount.com"
                values.update(email=email, member=f"serviceAccount:{email}",
                              name=f"projects/{body['project']}/serviceAccounts/{email}")
            attributes[f"{rtype}.{name}"] = values

    def resolved(value: Any) -> Any:
        match = _REFERENCE.match(value) if isinstance(value, str) else None
        if not match:
            return value
        rtype, name, attribute = match.groups()
        return attributes[f"{rtype}.{name}"][attribute]

    resources = []
    for address, values in sorted(attributes.items()):
        rtype, name = address.split(".", 1)
        values = {k: resolved(v) for k, v in values.items()}
        if rtype.endswith("_iam_member") and rtype != "google_service_account_iam_member":
            # the provider records the full resource name of what the grant is on
            values["name"] = (f"projects/{values['project']}/locations/{values['location']}/"
                              f"{'services' if 'run' in rtype else 'queues'}/{values['name']}")
        resources.append({
            "mode": "managed", "type": rtype, "name": name,
            "provider": 'provider["registry.terraform.io/hashicorp/google"]',
            "instances": [{"schema_version": 0, "attributes": values,
                           "sensitive_attributes": []}]})
    return {"version": 4, "terraform_version": "1.11.4", "serial": 1,
            "lineage": "00000000-0000-4000-8000-000000000001", "outputs": {},
            "resources": resources}


def run_terraform(folder: Path, *args: str) -> str:
    result = subprocess.run([terraform_binary(), *args], cwd=folder, capture_output=True,
                            text=True, timeout=60, check=False,
                            env={"CHECKPOINT_DISABLE": "1", "PATH": "/usr/bin:/bin",
                                 "TF_CLI_CONFIG_FILE": str(folder / "none.tfrc")})
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def declared(config: dict[str, Any]) -> set[str]:
    return {f"{t}.{n}" for t, by_name in config["resource"].items() for n in by_name}


STORE_TYPES = ("google_storage_bucket", "google_storage_bucket_iam_member")


def store_additions(address: str, config: dict[str, Any]) -> bool:
    """What every stack gains on purpose in issue 9: the dead-letter and task-name buckets,
    the grants on them and the Storage API; plain additions, nothing to move."""
    rtype, name = address.split(".", 1)
    body = config["resource"][rtype][name]
    return rtype in STORE_TYPES or (rtype == "google_project_service"
                                    and body["service"] == "storage.googleapis.com")


def dev_additions(address: str, config: dict[str, Any]) -> bool:
    """What dev gains on purpose: the queue name suffix (its queue is renamed in place at
    the same address, a replacement the migration notes announce), the job pattern and the
    stores."""
    rtype, name = address.split(".", 1)
    return (rtype == "random_id" or name.startswith("job_")
            or store_additions(address, config))


# (old synthesis, new synthesis, what the upgrade creates on purpose)
CASES = {
    "three enqueuers and an extra invoker": ("v0.1.0-enqueuers.cdk.tf.json",
                                             new_enqueuers_stack, store_additions),
    "the dev environment stack": ("v0.1.0-dev.cdk.tf.json", new_dev_stack, dev_additions),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_printed_moves_run_by_terraform_keep_every_resource(case, tmp_path, capsys):
    old_file, build_new, created = CASES[case]
    old = json.loads((DATA / old_file).read_text())
    new = build_new()
    assert declared(old) != declared(new)  # without the moves, plan would replace
    (tmp_path / "terraform.tfstate").write_text(json.dumps(applied_state(old)))
    new_file = tmp_path.parent / f"{tmp_path.name}-new.cdk.tf.json"  # not read by terraform
    new_file.write_text(json.dumps(new))

    assert main(["--state", str(tmp_path / "terraform.tfstate"),
                 "--stack", str(new_file)]) == 0
    printed = capsys.readouterr()
    # nothing left to destroy; only what the upgrade adds on purpose is left to create
    assert [line for line in printed.err.splitlines()
            if not (" would create: " in line and created(line.rsplit(" ", 1)[-1], new))] == []
    for line in printed.out.splitlines():
        command = shlex.split(line)
        assert command[:3] == ["terraform", "state", "mv"]
        run_terraform(tmp_path, *command[1:3], "-no-color", *command[3:])
    expected = {a for a in declared(new) if not created(a, new)}
    assert any(created(a, new) for a in declared(new))  # the stores are really added
    assert set(run_terraform(tmp_path, "state", "list").split()) == expected


def test_grants_move_by_member_not_by_position():
    """Deployed with [a, b, c]; upgraded with [c, a] in the same change: a and c keep their
    grants, b's are the only ones left to destroy (never handed to another member)."""
    old = json.loads((DATA / "v0.1.0-enqueuers.cdk.tf.json").read_text())
    state = applied_state(old)
    new = new_enqueuers_stack([ENQUEUERS[2], ENQUEUERS[0]])
    result = plan_moves(state, new)
    members = {r["name"]: r["instances"][0]["attributes"].get("member")
               for r in state["resources"]}
    new_resources = {f"{t}.{n}": b for t, by in new["resource"].items() for n, b in by.items()}
    for source, target in result.moves:
        if "iam_member" in source:
            old_member = members[source.split(".", 1)[1]]
            new_member = new_resources[target]["member"]
            if not new_member.startswith("${"):
                assert old_member == new_member
    assert sorted(members[a.split(".", 1)[1]] for a in result.unmatched_old) == [
        "group:b@example.com", "group:b@example.com"]
    assert [a for a in result.unmatched_new if not store_additions(a, new)] == []
