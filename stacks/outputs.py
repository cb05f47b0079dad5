"""The outputs a stack gives the sample app, with static names.

``npx cdktf deploy <stack> --outputs-file outputs.json`` writes them as
``{"<stack>": {"task_url": ..., ...}}``. A stack with several patterns names each set by a
prefix (``orders_task_url``) and the enqueuer picks one (``--pattern orders``).
"""

from __future__ import annotations

from constructs_lib import CloudTasksToCloudRun, CloudTasksToCloudRunJob
from constructs_lib._framework import TerraformOutput, TerraformStack
from constructs_lib.validation import check_string

OUTPUT_NAMES = (
    "service_url",
    "task_url",
    "audience",
    "queue_path",
    "invoker_email",
    "dispatch_deadline_seconds",
)
DESCRIPTIONS = {
    "service_url": "Cloud Run URL of the worker",
    "task_url": "where tasks are sent: the service URL and the worker's task path",
    "audience": "aud claim of the tasks' OIDC tokens",
    "queue_path": "projects/P/locations/L/queues/Q, for create_task",
    "invoker_email": "service account whose OIDC token tasks carry",
    "dispatch_deadline_seconds": "how long Cloud Tasks waits for one attempt",
}
# Declared when the pattern has the store (the replay command reads dead_letter_bucket).
STORE_OUTPUT_NAMES = ("dead_letter_bucket", "task_name_bucket")
STORE_DESCRIPTIONS = {
    "dead_letter_bucket": "bucket holding the worker's dead letters (dead-letters/...)",
    "task_name_bucket": "bucket holding the task names every worker instance shares",
}
JOB_OUTPUT_NAMES = ("job_name", "job_run_url", "job_queue_path", "job_invoker_email")
JOB_DESCRIPTIONS = {
    "job_name": "the Cloud Run job's name",
    "job_run_url": "where job tasks are sent: the Cloud Run Admin API's jobs.run",
    "job_queue_path": "projects/P/locations/L/queues/Q of the job's queue",
    "job_invoker_email": "service account whose OAuth token job tasks carry",
}
PREFIX = r"[a-z][a-z0-9_]*"


def pattern_outputs(stack: TerraformStack, pattern: CloudTasksToCloudRun,
                    prefix: str = "") -> dict[str, TerraformOutput]:
    """Declare the pattern's outputs in ``stack`` under static ids (``<prefix>_<name>``
    when a prefix is given); return them by id."""
    if prefix:
        check_string("prefix", prefix, pattern=PREFIX,
                     allowed="a lowercase identifier such as orders")
    values = {
        "service_url": pattern.service_url,
        "task_url": pattern.task_url,
        "audience": pattern.audience,
        "queue_path": pattern.queue_path,
        "invoker_email": pattern.invoker_email,
        "dispatch_deadline_seconds": pattern.dispatch_deadline_seconds,
    }
    outputs = {}
    for name in OUTPUT_NAMES:
        output_id = f"{prefix}_{name}" if prefix else name
        output = TerraformOutput(stack, output_id, value=values[name],
                                 description=DESCRIPTIONS[name])
        output.override_logical_id(output_id)
        outputs[output_id] = output
    stores = {"dead_letter_bucket": pattern.dead_letter_bucket,
              "task_name_bucket": pattern.task_name_bucket}
    for name in STORE_OUTPUT_NAMES:
        if stores[name] is None:
            continue
        output_id = f"{prefix}_{name}" if prefix else name
        output = TerraformOutput(stack, output_id, value=stores[name],
                                 description=STORE_DESCRIPTIONS[name])
        output.override_logical_id(output_id)
        outputs[output_id] = output
    return outputs


def job_outputs(stack: TerraformStack, pattern: CloudTasksToCloudRunJob,
                prefix: str = "") -> dict[str, TerraformOutput]:
    """Declare a job pattern's outputs under static ids (``<prefix>_job_name`` ...)."""
    if prefix:
        check_string("prefix", prefix, pattern=PREFIX,
                     allowed="a lowercase identifier such as reindex")
    values = {"job_name": pattern.job_name, "job_run_url": pattern.run_url,
              "job_queue_path": pattern.queue_path, "job_invoker_email": pattern.invoker_email}
    outputs = {}
    for name in JOB_OUTPUT_NAMES:
        output_id = f"{prefix}_{name}" if prefix else name
        output = TerraformOutput(stack, output_id, value=values[name],
                                 description=JOB_DESCRIPTIONS[name])
        output.override_logical_id(output_id)
        outputs[output_id] = output
    return outputs


__all__ = ["JOB_OUTPUT_NAMES", "OUTPUT_NAMES", "PREFIX", "STORE_OUTPUT_NAMES", "job_outputs",
           "pattern_outputs"]
