"""`python3 main.py` (what `cdktf synth` runs) writes every stack."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from stacks import JOB_OUTPUT_NAMES, OUTPUT_NAMES, STORE_OUTPUT_NAMES, load_environments

ROOT = Path(__file__).resolve().parents[2]
IMAGE = "us-docker.pkg.dev/acme-tasks-1/apps/worker:1.0.0"


def run_main(cwd: Path, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items()
               if k not in ("GOOGLE_CLOUD_PROJECT", "WORKER_IMAGE")}
    environ.update(env, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, str(ROOT / "main.py")], cwd=cwd, env=environ,
                          capture_output=True, text=True, timeout=300, check=False)


def test_main_writes_every_stack(tmp_path):
    result = run_main(tmp_path, GOOGLE_CLOUD_PROJECT="acme-tasks-1", WORKER_IMAGE=IMAGE)
    assert result.returncode == 0, result.stderr
    for env_name in load_environments():
        stack_file = tmp_path / "cdktf.out" / "stacks" / env_name / "cdk.tf.json"
        terraform = json.loads(stack_file.read_text())
        assert terraform["provider"]["google"][0]["project"] == "acme-tasks-1"
        env = load_environments()[env_name]
        names = [*OUTPUT_NAMES, *STORE_OUTPUT_NAMES, *(JOB_OUTPUT_NAMES if env.job else ())]
        assert sorted(terraform["output"]) == sorted(names)
        # `cdktf deploy --outputs-file` keys the file by this map: {"<stack>": {"<id>": value}}
        assert terraform["//"]["outputs"] == {env_name: {n: n for n in names}}
    manifest = json.loads((tmp_path / "cdktf.out" / "manifest.json").read_text())
    assert sorted(manifest["stacks"]) == sorted(load_environments())
    assert "PlaceholderProjectWarning" not in result.stderr


def test_main_without_project_warns_and_still_synthesizes(tmp_path):
    result = run_main(tmp_path)
    assert result.returncode == 0, result.stderr
    # one plain line on stdout (cdktf prints the app's stderr as [ERROR])
    notices = [line for line in result.stdout.splitlines() if line.startswith("warning:")]
    assert len(notices) == 1 and "GOOGLE_CLOUD_PROJECT" in notices[0], result.stdout
    assert "Warning" not in result.stderr
    terraform = json.loads((tmp_path / "cdktf.out/stacks/dev/cdk.tf.json").read_text())
    assert terraform["provider"]["google"][0]["project"] == "replace-with-your-project"


def test_bad_environment_file_stops_before_synth_with_a_readable_error(tmp_path):
    bad = tmp_path / "environments.toml"
    bad.write_text('[dev]\nservice_name = "tasks-worker-dev"\n[dev.queue]\nmax_attempts = 0\n')
    result = run_main(tmp_path, GOOGLE_CLOUD_PROJECT="acme-tasks-1",
                      TASKS_ENVIRONMENTS_FILE=str(bad))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "error: [dev.queue] max_attempts must be -1 or a whole number between 1 and 2147483647, "
        "but 0 was given")
    assert "Traceback" not in result.stderr
    assert not list(tmp_path.glob("cdktf.out/stacks/*/cdk.tf.json"))


def test_unreadable_environment_file_is_named(tmp_path):
    result = run_main(tmp_path, GOOGLE_CLOUD_PROJECT="acme-tasks-1",
                      TASKS_ENVIRONMENTS_FILE=str(tmp_path / "missing.toml"))
    assert result.returncode == 2
    assert "error: TASKS_ENVIRONMENTS_FILE must be a readable TOML file" in result.stderr
