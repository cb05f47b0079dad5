"""Node flags for the jsii kernel, and the V8 code cache they enable (over real synths)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from stacks import load_environments, node_runtime

ROOT = Path(__file__).resolve().parents[2]


def test_configure_adds_flags_once_and_keeps_the_callers():
    environ = {"NODE_OPTIONS": "--trace-warnings", "HOME": "/home/u"}
    node_runtime.configure(environ)
    node_runtime.configure(environ)
    options = environ["NODE_OPTIONS"].split()
    assert options.count("--trace-warnings") == 1
    assert options.count("--max-semi-space-size=1") == 1
    assert options.count(str(node_runtime.CODE_CACHE_SCRIPT)) == 1
    assert environ["CDKTF_NODE_CODE_CACHE_DIR"] == (
        "/home/u/.cache/cloud-tasks-cloud-run/v8-code-cache")


def test_callers_own_semi_space_and_cache_dir_win():
    environ = {"NODE_OPTIONS": "--max-semi-space-size=16", "CDKTF_NODE_CODE_CACHE_DIR": "/c"}
    node_runtime.configure(environ)
    assert "--max-semi-space-size=1" not in environ["NODE_OPTIONS"].split()
    assert environ["CDKTF_NODE_CODE_CACHE_DIR"] == "/c"


def test_code_cache_can_be_turned_off():
    environ = {"CDKTF_NODE_CODE_CACHE": "0"}
    node_runtime.configure(environ)
    assert "--require" not in environ["NODE_OPTIONS"]
    assert "CDKTF_NODE_CODE_CACHE_DIR" not in environ


def synth(tmp_path: Path, cache: Path, name: str) -> tuple[dict[str, int], dict[str, bytes]]:
    workdir = tmp_path / name
    workdir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NODE_", "CDKTF_NODE_"))}
    env.update(PYTHONPATH=str(ROOT), GOOGLE_CLOUD_PROJECT="acme-tasks-1",
               WORKER_IMAGE="us-docker.pkg.dev/acme-tasks-1/apps/worker:1.0.0",
               CDKTF_NODE_CODE_CACHE_DIR=str(cache), CDKTF_NODE_CODE_CACHE_DEBUG="1")
    result = subprocess.run([sys.executable, str(ROOT / "main.py")], cwd=workdir, env=env,
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    counts = {"hits": 0, "misses": 0, "errors": 0}
    for match in re.finditer(r"hits=(\d+) misses=(\d+) errors=(\d+)", result.stderr):
        for key, value in zip(counts, match.groups(), strict=True):
            counts[key] += int(value)
    files = {p.parent.name: p.read_bytes()
             for p in (workdir / "cdktf.out" / "stacks").glob("*/cdk.tf.json")}
    return counts, files


def test_second_synth_reuses_compiled_code_and_writes_the_same_stacks(tmp_path):
    cache = tmp_path / "cache"
    first, first_files = synth(tmp_path, cache, "first")
    second, second_files = synth(tmp_path, cache, "second")
    assert first["misses"] > 1000 and first["errors"] == 0  # the provider's modules
    assert second["hits"] == first["misses"] and second["misses"] == 0
    assert second_files == first_files and set(first_files) == set(load_environments())


def test_damaged_cache_entries_are_rejected_and_rewritten(tmp_path):
    cache = tmp_path / "cache"
    _, expected = synth(tmp_path, cache, "fill")
    for entry in list(cache.iterdir())[:50]:
        entry.write_bytes(b"not V8 code cache data")
    counts, files = synth(tmp_path, cache, "damaged")
    assert counts["misses"] == 50 and counts["errors"] == 0
    assert files == expected


def test_unusable_cache_directory_never_breaks_the_synth(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    counts, files = synth(tmp_path, blocker / "cache", "blocked")
    assert counts == {"hits": 0, "misses": 0, "errors": 0}
    assert set(files) == set(load_environments())
