"""Shared test set-up: quiet jsii, repository root on the path, one snapshot folder per
framework."""

import importlib.util
import os
import sys
from pathlib import Path

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("CHECKPOINT_DISABLE", "1")

ROOT = Path(__file__).resolve().parents[1]
# Snapshots of synthesized stacks differ per framework (docs/cdktn.md): cdktf's live in
# __snapshots__/, cdktn's in __snapshots_cdktn__/. Each run reads and updates only its own
# folder, so `--snapshot-update` on one framework never deletes the other's snapshots.
SNAPSHOT_DIRNAMES = {"cdktf": "__snapshots__", "cdktn": "__snapshots_cdktn__"}


def framework_name() -> str:
    """The framework constructs_lib will run on, read without importing either framework
    (constructs_lib/_choice.py, loaded by path: importing the package would start jsii)."""
    spec = importlib.util.spec_from_file_location(
        "_constructs_lib_choice", ROOT / "constructs_lib" / "_choice.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
        return module.choose().name
    finally:
        del sys.modules[spec.name]


def pytest_configure(config):
    if config.option.snapshot_dirname == "__snapshots__":  # syrupy's default: not asked for
        config.option.snapshot_dirname = SNAPSHOT_DIRNAMES[framework_name()]
