"""Which framework the library runs on, and that everything imports it through one module."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from constructs_lib import _framework
from constructs_lib._choice import FRAMEWORKS, FrameworkNotInstalled, choose
from constructs_lib._framework import FRAMEWORK, cdk, newer_provider_fields
from tests.frameworks import framework_name

ROOT = Path(__file__).resolve().parents[2]
CDKTF, CDKTN = FRAMEWORKS["cdktf"], FRAMEWORKS["cdktn"]
FRAMEWORK_PACKAGES = {p for f in FRAMEWORKS.values() for p in f.packages}


def only(*frameworks):
    names = {p for f in frameworks for p in f.packages}
    return lambda package: package in names


def test_the_one_installed_is_chosen():
    assert choose({}, only(CDKTF), imported=()) is CDKTF
    assert choose({}, only(CDKTN), imported=()) is CDKTN


def test_with_both_installed_cdktf_unless_the_app_imported_cdktn_or_it_is_asked_for():
    both = only(CDKTF, CDKTN)
    assert choose({}, both, imported=()) is CDKTF
    assert choose({}, both, imported={"cdktn"}) is CDKTN
    assert choose({}, both, imported={"cdktn", "cdktf"}) is CDKTF
    assert choose({"CONSTRUCTS_LIB_FRAMEWORK": "cdktn"}, both, imported={"cdktf"}) is CDKTN
    assert choose({"CONSTRUCTS_LIB_FRAMEWORK": " cdktf "}, both, imported=()) is CDKTF


def test_the_asked_framework_must_be_installed_completely():
    partial = lambda package: package in {"cdktn", "cdktn_provider_google"}  # noqa: E731
    with pytest.raises(FrameworkNotInstalled, match=r"^CONSTRUCTS_LIB_FRAMEWORK=cdktn asks "
                       r"for cdktn, but cdktn_provider_random is not installed: pip install "
                       r"-r requirements-cdktn.txt$"):
        choose({"CONSTRUCTS_LIB_FRAMEWORK": "cdktn"}, partial, imported=())


def test_an_unknown_setting_is_refused_with_what_is_allowed():
    with pytest.raises(ValueError, match=r"^CONSTRUCTS_LIB_FRAMEWORK must be one of cdktf, "
                       r"cdktn \(or unset\), but 'cdk' was given$"):
        choose({"CONSTRUCTS_LIB_FRAMEWORK": "cdk"}, only(CDKTF), imported=())


def test_neither_installed_says_how_to_install_either():
    with pytest.raises(FrameworkNotInstalled, match=r"pip install -r requirements.txt or pip "
                       r"install -r requirements-cdktn.txt$"):
        choose({}, lambda package: False, imported=())


def test_this_run_uses_the_framework_the_suite_chose_its_snapshots_for():
    assert FRAMEWORK.name == framework_name() == _framework.NAME
    assert cdk.__name__ == FRAMEWORK.core


def test_exported_names_come_from_the_chosen_framework():
    for name in ("TerraformStack", "CloudRunV2Service", "GoogleProvider", "RandomId"):
        value = getattr(_framework, name)
        assert value.__module__.split(".")[0] == {
            "TerraformStack": FRAMEWORK.core, "RandomId": FRAMEWORK.random}.get(
                name, FRAMEWORK.google), name
    with pytest.raises(AttributeError, match="has no attribute 'StorageBucketX'"):
        _framework.StorageBucketX  # noqa: B018


def test_newer_provider_fields_only_where_the_provider_has_them():
    fields = newer_provider_fields(deletion_policy="DELETE")
    assert fields == ({"deletion_policy": "DELETE"} if FRAMEWORK.google_provider == "8.7.0"
                      else {})


def test_only_the_framework_module_imports_a_framework_or_provider_package():
    """Product code, tests, benches and reliability import the framework through
    constructs_lib._framework (by name strings elsewhere, never an import statement)."""
    offenders = []
    for path in sorted(ROOT.glob("*.py")) + sorted(
            p for folder in ("constructs_lib", "stacks", "tests", "bench", "reliability", "app")
            for p in (ROOT / folder).rglob("*.py")):
        if path == ROOT / "constructs_lib" / "_framework.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n.split(".")[0] in FRAMEWORK_PACKAGES for n in names):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_a_missing_framework_fails_the_import_with_the_message(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT),
           "CONSTRUCTS_LIB_FRAMEWORK": "cdktn" if FRAMEWORK.name == "cdktf" else "cdktf"}
    result = subprocess.run([sys.executable, "-c", "import constructs_lib"], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 1
    other = FRAMEWORKS[env["CONSTRUCTS_LIB_FRAMEWORK"]]
    assert result.stderr.splitlines()[-1] == (
        f"constructs_lib._choice.FrameworkNotInstalled: CONSTRUCTS_LIB_FRAMEWORK={other.name} "
        f"asks for {other.name}, but {', '.join(other.packages)} are not installed: "
        f"pip install -r {other.requirements}")
