"""The library as an application team uses it: in their own stack, next to their own
provider imports, loading only what it needs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import cdktf

from constructs_lib._provider import PROVIDER_PACKAGE

ROOT = Path(__file__).resolve().parents[2]


def test_pattern_in_a_users_own_stack():
    from cdktf_cdktf_provider_google.provider import GoogleProvider
    from constructs_lib import CloudTasksToCloudRun

    app = cdktf.Testing.app()
    stack = cdktf.TerraformStack(app, "billing")
    GoogleProvider(stack, "google", project="billing-prod-1", region="europe-west1")
    tasks = CloudTasksToCloudRun(stack, "invoices", project="billing-prod-1",
                                 name="invoice-worker", location="europe-west1",
                                 enqueuers=["serviceAccount:api@billing-prod-1.iam.gserviceaccount.com"])
    cdktf.TerraformOutput(stack, "queue", value=tasks.queue_path)
    terraform = json.loads(cdktf.Testing.synth(stack, True))
    assert "google_cloud_run_v2_service" in terraform["resource"]
    assert terraform["output"]["queue"]["value"].startswith("${google_cloud_tasks_queue.")


def test_only_used_provider_submodules_are_loaded(tmp_path):
    """A fresh process that builds both patterns loads exactly the submodules they use."""
    script = textwrap.dedent("""
        import json
        import cdktf
        from constructs_lib import (CloudTasksToCloudRun, CloudTasksToCloudRunJob, JobOptions,
                                    QueueOptions, SecretEnv, ServiceOptions)
        from constructs_lib._provider import loaded_submodules
        app = cdktf.Testing.app()
        stack = cdktf.TerraformStack(app, "s")
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
    import cdktf_cdktf_provider_google as google

    assert "storage_bucket" in google.__all__
    bucket_class = google.storage_bucket.StorageBucket  # loaded on first use
    from cdktf_cdktf_provider_google import pubsub_topic

    app = cdktf.Testing.app()
    stack = cdktf.TerraformStack(app, "other")
    google.provider.GoogleProvider(stack, "google", project="acme-1x")
    bucket_class(stack, "b", name="acme-bucket", location="EU")
    pubsub_topic.PubsubTopic(stack, "t", name="topic")
    terraform = json.loads(cdktf.Testing.synth(stack))
    assert terraform["resource"]["google_storage_bucket"]
    assert terraform["resource"]["google_pubsub_topic"]


def test_provider_imported_normally_first_still_works(tmp_path):
    script = textwrap.dedent(f"""
        import json, sys
        import cdktf
        import {PROVIDER_PACKAGE} as google          # the normal, full import first
        from constructs_lib import CloudTasksToCloudRun
        assert sys.modules["{PROVIDER_PACKAGE}"] is google
        app = cdktf.Testing.app()
        stack = cdktf.TerraformStack(app, "s")
        google.provider.GoogleProvider(stack, "google", project="acme-1x")
        CloudTasksToCloudRun(stack, "t", project="acme-1x", name="w1")
        tf = json.loads(cdktf.Testing.synth(stack, True))
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
