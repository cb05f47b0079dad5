"""The library as an application team uses it: in their own stack, next to their own
provider imports, loading only what it needs."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from constructs_lib._framework import FRAMEWORK, GoogleProvider, cdk
from constructs_lib._provider import PROVIDER_PACKAGE

ROOT = Path(__file__).resolve().parents[2]


def test_pattern_in_a_users_own_stack():
    from constructs_lib import CloudTasksToCloudRun

    app = cdk.Testing.app()
    stack = cdk.TerraformStack(app, "billing")
    GoogleProvider(stack, "google", project="billing-prod-1", region="europe-west1")
    tasks = CloudTasksToCloudRun(stack, "invoices", project="billing-prod-1",
                                 name="invoice-worker", location="europe-west1",
                                 enqueuers=["serviceAccount:api@billing-prod-1.iam.gserviceaccount.com"])
    cdk.TerraformOutput(stack, "queue", value=tasks.queue_path)
    terraform = json.loads(cdk.Testing.synth(stack, True))
    assert "google_cloud_run_v2_service" in terraform["resource"]
    assert terraform["output"]["queue"]["value"].startswith("${google_cloud_tasks_queue.")


def test_only_used_provider_submodules_are_loaded(tmp_path):
    """A fresh process that builds both patterns loads exactly the submodules they use."""
    script = textwrap.dedent("""
        import json
        from constructs_lib._framework import cdk
        from constructs_lib import (CloudTasksToCloudRun, CloudTasksToCloudRunJob, JobOptions,
                                    QueueOptions, SecretEnv, ServiceOptions)
        from constructs_lib._provider import loaded_submodules
        app = cdk.Testing.app()
        stack = cdk.TerraformStack(app, "s")
        secrets = {"K": SecretEnv(secret="k")}
        CloudTasksToCloudRun(stack, "t", project="acme-1x", name="w1",
                             service=ServiceOptions(secret_env=secrets),
                             queue=QueueOptions(name_suffix=True))
        CloudTasksToCloudRunJob(stack, "j", project="acme-1x", name="j1",
                                job=JobOptions(secret_env=secrets))
        print(json.dumps(loaded_submodules()))
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [
        "cloud_run_v2_job", "cloud_run_v2_job_iam_member", "cloud_run_v2_service",
        "cloud_run_v2_service_iam_member", "cloud_tasks_queue", "cloud_tasks_queue_iam_member",
        "project_service", "secret_manager_secret_iam_member", "service_account",
        "service_account_iam_member", "storage_bucket", "storage_bucket_iam_member"]


def test_provider_imported_normally_afterwards_still_works():
    google = importlib.import_module(PROVIDER_PACKAGE)

    assert "storage_bucket" in dir(google)
    bucket_class = google.storage_bucket.StorageBucket  # loaded on first use
    pubsub_topic = importlib.import_module(f"{PROVIDER_PACKAGE}.pubsub_topic")

    app = cdk.Testing.app()
    stack = cdk.TerraformStack(app, "other")
    google.provider.GoogleProvider(stack, "google", project="acme-1x")
    bucket_class(stack, "b", name="acme-bucket", location="EU")
    pubsub_topic.PubsubTopic(stack, "t", name="topic")
    terraform = json.loads(cdk.Testing.synth(stack))
    assert terraform["resource"]["google_storage_bucket"]
    assert terraform["resource"]["google_pubsub_topic"]


def test_provider_imported_normally_first_still_works(tmp_path):
    script = textwrap.dedent(f"""
        import json, sys
        from constructs_lib._framework import cdk
        import {PROVIDER_PACKAGE} as google          # the normal, full import first
        from constructs_lib import CloudTasksToCloudRun
        assert sys.modules["{PROVIDER_PACKAGE}"] is google
        app = cdk.Testing.app()
        stack = cdk.TerraformStack(app, "s")
        google.provider.GoogleProvider(stack, "google", project="acme-1x")
        CloudTasksToCloudRun(stack, "t", project="acme-1x", name="w1")
        tf = json.loads(cdk.Testing.synth(stack, True))
        print(json.dumps(sorted(tf["resource"])))
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [
        "google_cloud_run_v2_service", "google_cloud_run_v2_service_iam_member",
        "google_cloud_tasks_queue", "google_project_service", "google_service_account",
        "google_storage_bucket", "google_storage_bucket_iam_member"]


def test_provider_loading_per_framework(tmp_path):
    """cdktf: ``_provider.install`` registers the package trimmed, with the library's lazy
    ``__getattr__``. cdktn: the package is lazy by itself, so ``install`` does nothing at
    all (imports nothing, patches nothing) and the package keeps its own ``__getattr__``."""
    script = textwrap.dedent(f"""
        import json, sys, types
        # _provider alone, without the package __init__ (which imports the constructs)
        package = types.ModuleType("constructs_lib")
        package.__path__ = [{str(ROOT / "constructs_lib")!r}]
        sys.modules["constructs_lib"] = package
        from constructs_lib import _provider
        before = set(sys.modules)
        returned = _provider.install()
        new = sorted(set(sys.modules) - before)
        del sys.modules["constructs_lib"], sys.modules["constructs_lib._provider"]
        import constructs_lib  # the real package, as users import it
        from constructs_lib._framework import CloudTasksQueue
        google = sys.modules["{PROVIDER_PACKAGE}"]
        print(json.dumps({{"returned": returned is not None, "new_modules": new,
                          "getattr_from": google.__getattr__.__module__}}))
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("CONSTRUCTS_LIB_EAGER_PROVIDER", None)
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    if FRAMEWORK.provider_loads_lazily:  # cdktn
        assert seen == {"returned": False, "new_modules": [], "getattr_from": PROVIDER_PACKAGE}
    else:  # cdktf: the trimmed package is registered, its getattr is the library's
        assert seen["returned"] is True and PROVIDER_PACKAGE in seen["new_modules"]
        assert seen["getattr_from"] == "constructs_lib._provider"
