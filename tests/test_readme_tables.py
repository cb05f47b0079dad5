"""The hand-written tables in the README and docs/ (reference.md, job.md, deploy.md), checked
against the code: what each grant declares, every IAM resource the patterns declare, the
attributes named, the environment keys, the deploy variables, the stack outputs and every
pinned dependency."""

from __future__ import annotations

import dataclasses
import json
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from constructs_lib import (
    CloudTasksToCloudRun,
    CloudTasksToCloudRunJob,
    InvokerServiceAccount,
    SecretEnv,
    ServiceOptions,
    TaskQueue,
    WorkerService,
    defaults,
)
from constructs_lib._framework import GoogleProvider, TerraformStack, cdk
from stacks import (
    JOB_OUTPUT_NAMES,
    OUTPUT_NAMES,
    STORE_OUTPUT_NAMES,
    EnvironmentSettings,
    deploy_settings,
)

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
REFERENCE = ROOT / "docs" / "reference.md"
JOB = ROOT / "docs" / "job.md"
DEPLOY = ROOT / "docs" / "deploy.md"
PROJECT = "acme-tables-1"
GRANTEE = "user:grantee@example.com"
ENQUEUER = "serviceAccount:api@acme-tables-1.iam.gserviceaccount.com"


def marked(page: Path, name: str) -> str:
    """The text between ``<!-- name -->`` and ``<!-- /name -->`` (exactly one such block)."""
    (body,) = re.findall(rf"<!-- {name} -->(.*?)<!-- /{name} -->", page.read_text("utf-8"),
                         re.DOTALL)
    return body.strip()


def table(page: Path, name: str) -> list[dict[str, str]]:
    """The Markdown table of a marked block, one dict per row keyed by the header."""
    lines = [line for line in marked(page, name).splitlines() if line.startswith("|")]
    split = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]
    header, rows = split[0], split[2:]
    assert rows, name
    return [dict(zip(header, row, strict=True)) for row in rows]


def names(cell: str) -> list[str]:
    """Every `backticked` word of a cell."""
    return re.findall(r"`([^`]+)`", cell)


def stack() -> TerraformStack:
    scope = TerraformStack(cdk.Testing.app(), "tables")
    GoogleProvider(scope, "google", project=PROJECT)
    return scope


def synth(scope: TerraformStack) -> dict[str, Any]:
    return json.loads(cdk.Testing.synth(scope, True))


def iam_members(terraform: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(kind, body) for kind, resources in terraform.get("resource", {}).items()
            if "_iam_" in kind for body in resources.values()]


# -- grants (docs/reference.md) ----------------------------------------------------------

def pattern(scope: TerraformStack) -> CloudTasksToCloudRun:
    return CloudTasksToCloudRun(scope, "tasks", project=PROJECT, name="tables-worker")


def job_pattern(scope: TerraformStack) -> CloudTasksToCloudRunJob:
    return CloudTasksToCloudRunJob(scope, "job", project=PROJECT, name="tables-job")


BUILDERS: dict[str, Callable[[TerraformStack], Any]] = {
    "WorkerService": lambda s: WorkerService(s, "worker", name="tables-worker"),
    "TaskQueue": lambda s: TaskQueue(s, "queue", name="tables-queue"),
    "InvokerServiceAccount": lambda s: InvokerServiceAccount(s, "invoker",
                                                             account_id="tables-invoker"),
    "ImportedServiceAccount": lambda s: InvokerServiceAccount.from_email(
        s, "imported", email=f"old-invoker@{PROJECT}.iam.gserviceaccount.com"),
    "WorkerJob": lambda s: job_pattern(s).job,
    "CloudTasksToCloudRun": pattern,
    "CloudTasksToCloudRunJob": job_pattern,
}
GRANTS: dict[tuple[str, str], set[tuple[str, str]]] = {}
for _row in table(REFERENCE, "grants"):
    (_construct,), (_call,), (_declares,) = (names(_row[k]) for k in
                                             ("construct", "call", "declares"))
    GRANTS.setdefault((_construct, _call), set()).add((_declares, _row["role"]))


def role_text(terraform: dict[str, Any], role: str) -> str:
    """A role as the grants table writes it: ``roles/...`` or ``custom: perm, ...``."""
    custom = re.fullmatch(r"\$\{google_project_iam_custom_role\.([^.]+)\.name\}", role)
    if custom is None:
        return f"`{role}`"
    permissions = terraform["resource"]["google_project_iam_custom_role"][custom[1]][
        "permissions"]
    return "custom: " + ", ".join(f"`{p}`" for p in permissions)


@pytest.mark.parametrize(("construct", "call"), sorted(GRANTS), ids=lambda v: str(v))
def test_each_grant_declares_what_the_reference_says_and_only_once(construct, call):
    scope = stack()
    target = BUILDERS[construct](scope)
    method = getattr(target, call.partition("(")[0])
    method(GRANTEE)
    method(GRANTEE)  # the same member twice is declared once
    terraform = synth(scope)
    declared = [(kind, role_text(terraform, body["role"]))
                for kind, body in iam_members(terraform) if body.get("member") == GRANTEE]
    assert sorted(declared) == sorted(GRANTS[construct, call])


def test_the_grants_table_covers_every_public_grant_method():
    for construct, build in BUILDERS.items():
        target = build(stack())
        methods = {name for name in dir(target) if name.startswith("grant_")}
        listed = {call.partition("(")[0] for c, call in GRANTS if c == construct}
        assert listed == methods, construct


# -- the IAM model (README) --------------------------------------------------------------

def test_the_iam_model_lists_every_iam_resource_the_patterns_declare():
    scope = stack()
    CloudTasksToCloudRun(scope, "tasks", project=PROJECT, name="tables-worker",
                         enqueuers=[ENQUEUER],
                         service=ServiceOptions(secret_env={"DB": SecretEnv(secret="db")}))
    CloudTasksToCloudRunJob(scope, "job", project=PROJECT, name="tables-job",
                            enqueuers=[ENQUEUER])
    terraform = synth(scope)
    rows = table(README, "iam-model")
    expected = {(names(r["declared as"])[0], names(r["role"])[0]) for r in rows}
    declared = iam_members(terraform)
    assert {(kind, body["role"]) for kind, body in declared} == expected
    assert not [kind for kind, _ in declared if kind.startswith("google_project_iam")]
    enqueuer_roles = {names(r["role"])[0] for r in rows if "enqueuers" in r["who"]}
    for _, body in declared:
        if body["role"] in enqueuer_roles:
            assert body["member"] == ENQUEUER
        else:
            # an account of the pattern: `serviceAccount:${...email}` or `${...member}`
            assert "${google_service_account." in body["member"], body


# -- attributes (README, docs/reference.md, docs/job.md) --------------------------------

def attribute_lists() -> list[tuple[str, list[str]]]:
    """(construct, attribute names) for every ``Attributes:`` paragraph, the construct
    being the first backticked name of the heading above it."""
    found = []
    for page in (README, REFERENCE, JOB):
        heading = ""
        for paragraph in page.read_text("utf-8").split("\n\n"):
            if paragraph.startswith("#"):
                heading = (names(paragraph.splitlines()[0]) or [""])[0]
            elif paragraph.startswith("Attributes:"):
                found.append((heading, [n for n in names(paragraph)
                                        if re.fullmatch(r"[a-z_][a-z0-9_]*", n)]))
    return found


def test_every_attribute_named_exists_on_the_construct():
    lists = attribute_lists()
    assert {construct for construct, _ in lists} == {
        "CloudTasksToCloudRun", "CloudTasksToCloudRunJob", "WorkerService", "TaskQueue",
        "InvokerServiceAccount"}
    for construct, attributes in lists:
        target = BUILDERS[construct](stack())
        missing = [a for a in attributes if not hasattr(target, a)]
        assert not missing, construct


# -- environments, deploy variables, outputs (docs/deploy.md) ----------------------------

SUB_TABLES = {"service", "queue", "job", "dead_letters", "task_names", "alerts"}


def test_the_environment_keys_are_the_settings_fields_with_their_defaults():
    rows = table(DEPLOY, "environment-keys")
    keys = [key for row in rows for key in names(row["top-level key"])]
    fields = {f.name: f for f in dataclasses.fields(EnvironmentSettings)}
    assert sorted(keys) == sorted(set(fields) - SUB_TABLES - {"name"})
    page = DEPLOY.read_text("utf-8")
    assert all(f"[env.{key}]" in page for key in SUB_TABLES)
    for row in rows:
        literal = re.fullmatch(r"`(true|false|-?[0-9.]+)`", row["default"])
        if literal:
            (key,) = names(row["top-level key"])
            value = tomllib.loads(f"v = {literal[1]}")["v"]
            assert fields[key].default == value, key


def test_the_deploy_variables_are_the_ones_read_with_their_defaults():
    rows = {names(r["variable"])[0]: r["default"] for r in table(DEPLOY, "deploy-variables")}
    read = {value for name, value in vars(deploy_settings).items()
            if name.endswith("_ENV") and isinstance(value, str)}
    assert set(rows) == read
    assert rows[deploy_settings.STATE_PREFIX_ENV] == f"`{deploy_settings.DEFAULT_STATE_PREFIX}`"
    assert rows[deploy_settings.REGION_ENV] == f"`{defaults.LOCATION}`"


def test_the_outputs_named_are_the_stacks_outputs():
    assert names(marked(DEPLOY, "outputs")) == [*OUTPUT_NAMES, *STORE_OUTPUT_NAMES,
                                                 *JOB_OUTPUT_NAMES]


# -- dependencies (README) ---------------------------------------------------------------

def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(path: str) -> set[str]:
    """The packages a file pins itself (not through -r); checkov's file: checkov only, the
    rest being its resolved closure."""
    text = (ROOT / path).read_text("utf-8")
    if path.endswith("package.json"):
        manifest = json.loads(text)
        return {normalized(n) for key in ("dependencies", "devDependencies",
                                          "optionalDependencies")
                for n in manifest.get(key, {})}
    found = {normalized(line.split("==")[0]) for line in text.splitlines()
             if "==" in line and not line.lstrip().startswith("#")}
    return {"checkov"} if path == "requirements-checkov.txt" else found


PINNED_FILES = ("requirements.txt", "requirements-cdktn.txt", "requirements-app.txt",
                "requirements-test.txt", "requirements-emulator.txt",
                "requirements-checkov.txt", "package.json", "tools/cdktn/package.json")


def test_every_pinned_dependency_is_listed_with_its_file():
    listed: dict[str, set[str]] = {}
    for row in table(README, "dependencies"):
        for path in names(row["pinned in"]):
            for package in names(row["package"]):
                listed.setdefault(path, set()).add(normalized(package))
    assert set(listed) == set(PINNED_FILES)
    for path in PINNED_FILES:
        assert listed[path] == pins(path), path
    assert not pins("requirements-dev.txt") and not pins("requirements-dev-cdktn.txt")


# -- the defaults the IAM model section names (README) -----------------------------------

def test_the_secure_defaults_the_readme_names_hold():
    scope = stack()
    pattern(scope)
    terraform = synth(scope)
    (service,) = terraform["resource"]["google_cloud_run_v2_service"].values()
    assert service["ingress"] == "INGRESS_TRAFFIC_INTERNAL_ONLY"
    assert service["deletion_protection"] is True
    assert service["template"]["timeout"] == f"{defaults.DISPATCH_DEADLINE_SECONDS}s"
    assert ServiceOptions().timeout_seconds == defaults.DISPATCH_DEADLINE_SECONDS
    apis = terraform["resource"]["google_project_service"].values()
    assert apis and all(api["disable_on_destroy"] is False for api in apis)
