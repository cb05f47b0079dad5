"""checkov, with the custom CKV_TASKS_* policies, over every shipped stack and over a stack
made bad on purpose through escape hatches.

checkov runs from its own virtualenv (.venv-checkov). When it is missing the tests fail,
they do not skip: install it with ``bash reliability/checkov_setup.sh``.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest

from reliability import checkov_scan
from reliability.checkov_scan import CHECKOV, SETUP_COMMAND, CheckovNotInstalled, scan
from reliability.stack_files import EXAMPLE_ENQUEUERS, synthesize_bad, synthesize_shipped

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "example-project"
DEFAULT_COMPUTE = "123456789012-compute@developer.gserviceaccount.com"
CUSTOM_IDS = [f"CKV_TASKS_{n}" for n in range(1, 7)]


@pytest.fixture(scope="module")
def checkov() -> Path:
    if not os.access(CHECKOV, os.X_OK):
        pytest.fail(
            f"checkov is not installed: {CHECKOV} is missing. Install it from the repository "
            f"root with `{SETUP_COMMAND}` (it puts requirements-checkov.txt into "
            ".venv-checkov; `make setup` runs it too).",
            pytrace=False,
        )
    return CHECKOV


@pytest.fixture(scope="module")
def shipped_stacks(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Every stack main.py synthesizes, written to a scratch directory."""
    files = synthesize_shipped(tmp_path_factory.mktemp("shipped"))
    assert {"dev", "prod"} <= {f.parent.name for f in files}, files
    return files


@pytest.fixture(scope="module")
def shipped_stacks_with_enqueuers(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The shipped stacks with two enqueuers (``TASK_ENQUEUERS``): queue and actAs grants."""
    files = synthesize_shipped(tmp_path_factory.mktemp("enqueuers"), environ=EXAMPLE_ENQUEUERS)
    assert {"dev", "prod"} <= {f.parent.name for f in files}, files
    return files


@pytest.fixture(scope="module")
def bad_stack(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, set[str]]]:
    """A stack built with the project's constructs, then broken through escape hatches."""
    return synthesize_bad(tmp_path_factory.mktemp("bad"))


def test_shipped_stacks_scan_clean(checkov, shipped_stacks):
    results = scan(shipped_stacks, checkov=checkov)
    assert [r.path for r in results] == [str(f) for f in shipped_stacks]
    for result in results:
        assert result.parsing_errors == 0, result.problems
        assert result.failed == [], result.problems
        assert result.load_errors == [], result.load_errors
        # The custom policies really ran on this stack: its service and invoker grant.
        assert result.custom_results > 0, result.problems
        assert {"CKV_TASKS_1", "CKV_TASKS_5", "CKV_TASKS_6"} <= set(result.custom_check_ids)
        assert result.ok, result.problems


def test_shipped_stacks_with_enqueuers_scan_clean(checkov, shipped_stacks_with_enqueuers):
    # The shipped configuration grants no enqueuer, so CKV_TASKS_2 (public enqueuer) and
    # CKV_TASKS_3 (public actAs) have nothing to check there; with enqueuers they must run.
    enqueuers = EXAMPLE_ENQUEUERS["TASK_ENQUEUERS"].split(",")
    for path in shipped_stacks_with_enqueuers:
        text = path.read_text()
        assert all(f'"{member}"' in text for member in enqueuers), path  # the grants landed
    results = scan(shipped_stacks_with_enqueuers, checkov=checkov)
    assert [r.path for r in results] == [str(f) for f in shipped_stacks_with_enqueuers]
    for result in results:
        assert result.parsing_errors == 0, result.problems
        assert result.failed == [], result.problems
        assert result.load_errors == [], result.load_errors
        passed = Counter(f.check_id for f in result.passed if f.custom)
        # One queue grant and one actAs grant per enqueuer and queue (a stack may hold a
        # job's queue next to the worker's), each checked and passing.
        queues = len(json.loads(Path(result.path).read_text())["resource"][
            "google_cloud_tasks_queue"])
        assert passed["CKV_TASKS_2"] == len(enqueuers) * queues, (result.stack, passed)
        assert passed["CKV_TASKS_3"] == len(enqueuers) * queues, (result.stack, passed)
        assert all(passed[f"CKV_TASKS_{n}"] > 0 for n in (1, 5, 6)), (result.stack, passed)
        assert result.ok, result.problems


def test_bad_stack_fails_every_custom_check_on_the_right_resource(checkov, bad_stack):
    path, expected = bad_stack
    text = path.read_text()
    assert '"allUsers"' in text and DEFAULT_COMPUTE in text  # the escape hatches landed
    (result,) = scan([path], checkov=checkov)

    assert result.parsing_errors == 0
    assert not result.ok
    failed: dict[str, set[str]] = {}
    for finding in result.failed:
        failed.setdefault(finding.check_id, set()).add(finding.resource)
    custom_failed = {k: v for k, v in failed.items() if k.startswith("CKV_TASKS_")}
    assert custom_failed == expected
    # Each failure says why, and the grants the pattern made itself still pass.
    assert all(f.details for f in result.failed if f.custom)
    passed = {(f.check_id, f.resource) for f in result.passed}
    clean_invoke = [r for c, r in passed if c == "CKV_TASKS_1"]
    assert clean_invoke, "the pattern's own invoker grant should pass CKV_TASKS_1"


def test_cli_exits_1_and_names_the_failures(checkov, bad_stack, capsys):
    path, _ = bad_stack
    assert checkov_scan.main([str(path)]) == 1
    out = capsys.readouterr().out
    assert out.startswith("FAIL bad:")
    for check_id in CUSTOM_IDS:
        assert f"failed {check_id} " in out


def test_policies_that_did_not_load_are_not_a_green_scan(checkov, shipped_stacks, tmp_path):
    empty = tmp_path / "policies"
    empty.mkdir()
    (empty / "__init__.py").write_text("")
    (empty / "ckv_tasks_broken.py").write_text("import no_such_module_here\n")
    (result,) = scan(shipped_stacks[:1], checkov=checkov, policies_dir=empty)
    assert result.failed == [] and result.parsing_errors == 0
    assert result.custom_results == 0
    assert not result.ok
    assert any("ckv_tasks_broken" in p for p in result.problems), result.problems
    assert any("no CKV_TASKS_* check produced a result" in p for p in result.problems)


def test_missing_checkov_says_how_to_install(tmp_path):
    stack = tmp_path / "cdk.tf.json"
    stack.write_text("{}")
    with pytest.raises(CheckovNotInstalled, match="reliability/checkov_setup.sh"):
        scan([stack], checkov=tmp_path / "no-checkov")


def test_waivers_cover_only_the_stores_buckets(checkov, shipped_stacks, tmp_path):
    # The shipped dev stack's own buckets: the two built-in bucket checks are waived, with
    # the reason, not hidden.
    dev = next(f for f in shipped_stacks if f.parent.name == "dev")
    (result,) = scan([dev], checkov=checkov)
    waived = {(finding.check_id, finding.resource.split(".")[0]) for finding, _ in result.waived}
    assert waived == {("CKV_GCP_62", "google_storage_bucket"), ("CKV_GCP_78", "google_storage_bucket")}
    assert all(reason for _, reason in result.waived)
    assert result.ok, result.problems

    # The same bucket with another purpose (a user's own bucket) is not covered.
    stack = json.loads(dev.read_text())
    buckets = stack["resource"]["google_storage_bucket"]
    name, body = next(iter(buckets.items()))
    buckets["user_bucket"] = dict(body, name="user-data-bucket", labels={"purpose": "user-data"})
    path = tmp_path / "cdk.tf.json"
    path.write_text(json.dumps(stack, indent=2))
    (result,) = scan([path], checkov=checkov)
    failed = {(f.check_id, f.resource) for f in result.failed}
    assert failed == {
        ("CKV_GCP_62", "google_storage_bucket.user_bucket"),
        ("CKV_GCP_78", "google_storage_bucket.user_bucket"),
    }
    assert f"google_storage_bucket.{name}" in {f.resource for f, _ in result.waived}
    assert not result.ok
