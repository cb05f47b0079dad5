"""The provider trimming never fails silently: importing the google provider package before
constructs_lib loads it in full, and the library says so once (cdktf); cdktn's package is
lazy by itself, so the order does not matter there and nothing is said."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from constructs_lib._framework import FRAMEWORK
from constructs_lib._provider import EAGER_ENV_VAR, PROVIDER_PACKAGE

ROOT = Path(__file__).resolve().parents[2]


def _import_warnings(tmp_path: Path, first: str, *, eager: bool = False) -> list[dict[str, str]]:
    """The warnings raised while importing ``first`` and then constructs_lib (twice, and
    calling install again), in a fresh interpreter."""
    script = textwrap.dedent(f"""
        import importlib, json, warnings
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            importlib.import_module({first!r})
            import constructs_lib
            from constructs_lib import _provider
            _provider.install()
            importlib.reload(constructs_lib)
        print(json.dumps([{{"category": w.category.__name__, "message": str(w.message),
                           "filename": w.filename}} for w in caught
                          if "constructs_lib" in w.category.__module__]))
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop(EAGER_ENV_VAR, None)
    if eager:
        env[EAGER_ENV_VAR] = "1"
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_provider_imported_first_warns_once(tmp_path):
    caught = _import_warnings(tmp_path, PROVIDER_PACKAGE)
    if FRAMEWORK.provider_loads_lazily:  # cdktn: nothing to trim, nothing lost
        assert caught == []
        return
    assert len(caught) == 1, caught
    warning = caught[0]
    assert warning["category"] == "ProviderImportWarning"
    assert f"{PROVIDER_PACKAGE} was imported before constructs_lib" in warning["message"]
    assert f"{EAGER_ENV_VAR}=1" in warning["message"]
    # Points at the user's import line (here: the -c script), not at the library.
    assert warning["filename"] == "<string>", warning


def test_library_imported_first_does_not_warn(tmp_path):
    assert _import_warnings(tmp_path, "constructs_lib._framework") == []


def test_eager_import_asked_for_does_not_warn(tmp_path):
    assert _import_warnings(tmp_path, PROVIDER_PACKAGE, eager=True) == []
