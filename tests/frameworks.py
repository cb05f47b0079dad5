"""Which framework (cdktf or cdktn) this run synthesizes with, read without importing either,
and the snapshot folder that goes with it."""

import importlib.util
import sys
from pathlib import Path

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
