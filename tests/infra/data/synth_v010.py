"""Synthesize, with the library at v0.1.0 (commit 88ce6ff), the stacks whose addresses the
migration test starts from. Run from a checkout of that commit:
    PYTHONPATH=. python <this script> <outdir>
"""
import json, sys
from constructs_lib._framework import GoogleProvider, cdk
import constructs_lib
from constructs_lib import CloudTasksToCloudRun
from stacks import DeploySettings, TasksStack, load_environments

out = sys.argv[1]
app = cdk.Testing.app()
stack = cdk.TerraformStack(app, "v010")
GoogleProvider(stack, "google", project="example-project", region="us-central1")
p = CloudTasksToCloudRun(stack, "tasks", project="example-project", name="orders", enqueuers=[
    "serviceAccount:a@example-project.iam.gserviceaccount.com", "group:b@example.com",
    "user:c@example.com"])
p.service.grant_invoke("group:b@example.com")
with open(f"{out}/v0.1.0-enqueuers.cdk.tf.json", "w") as f:
    json.dump(json.loads(cdk.Testing.synth(stack)), f, indent=2, sort_keys=True)
env = load_environments()["dev"]
s = TasksStack(cdk.Testing.app(), env, DeploySettings(project="example-project"))
with open(f"{out}/v0.1.0-dev.cdk.tf.json", "w") as f:
    json.dump(json.loads(cdk.Testing.synth(s)), f, indent=2, sort_keys=True)
