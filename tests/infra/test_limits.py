"""Every field the library can write has its rule and source in ``constructs_lib.limits``,
and ``docs/limits.md`` is that table (regenerate: python -m constructs_lib limits)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from constructs_lib import (
    AlertOptions,
    CloudTasksToCloudRun,
    CloudTasksToCloudRunJob,
    InvokerServiceAccount,
    JobOptions,
    QueueOptions,
    SecretEnv,
    ServiceOptions,
    StartupProbe,
)
from constructs_lib._framework import FRAMEWORK
from constructs_lib.limits import LIMITS, markdown
from tests.infra.tfjson import PROJECT, synth

DOC = Path(__file__).resolve().parents[2] / "docs" / "limits.md"
MAP_FIELDS = {"labels", "limits", "keepers"}  # maps: their keys are data, not fields


def fields(body: dict[str, Any], prefix: str = "") -> set[str]:
    found = set()
    for key, value in body.items():
        path = f"{prefix}{key}"
        if key in MAP_FIELDS or not isinstance(value, (dict, list)):
            found.add(path)
        elif isinstance(value, dict):
            found |= fields(value, f"{path}.")
        elif value and all(isinstance(item, dict) for item in value):
            for item in value:
                found |= fields(item, f"{path}.")
        else:
            found.add(path)
    return found


def everything_the_library_writes(stack) -> set[tuple[str, str]]:
    pattern = CloudTasksToCloudRun(
        stack, "tasks", project=PROJECT, name="orders", queue_level_routing=True,
        enqueuers=["group:ops@example.com"],
        service=ServiceOptions(labels={"team": "x"}, env={"MODE": "fast"},
                               secret_env={"TOKEN": SecretEnv(secret="api-token")},
                               startup_probe=StartupProbe(), image_managed_externally=True),
        queue=QueueOptions(name_suffix=True),
        alerts=AlertOptions(enabled=True, notification_channels=[
            f"projects/{PROJECT}/notificationChannels/1"]))
    pattern.service.grant_invoke("user:a@example.com")
    pattern.grant_replay("group:ops@example.com")
    InvokerServiceAccount(stack, "other", account_id="other-invoker", project=PROJECT,
                          description="signs tokens")
    CloudTasksToCloudRunJob(
        stack, "job", project=PROJECT, name="reindex", enqueuers=["group:ops@example.com"],
        job=JobOptions(command=["python", "-m", "app.job"], task_count=2, parallelism=1,
                       env={"MODE": "full"}, labels={"team": "x"},
                       secret_env={"TOKEN": SecretEnv(secret="api-token")}))
    terraform = synth(stack)
    return {(rtype, field)
            for rtype, by_name in terraform["resource"].items()
            for body in by_name.values() for field in fields(body)}


def test_every_written_field_has_a_rule_and_a_source(stack):
    written = everything_the_library_writes(stack)
    # fields only google 8.x has are written on cdktn only (docs/cdktn.md)
    listed = {(limit.resource, limit.field) for limit in LIMITS
              if FRAMEWORK.google_provider_major >= 8 or not limit.google_8_only}
    assert written - listed == set(), "fields written without a rule in limits.py"
    assert listed - written == set(), "rules for fields the library never writes"
    assert all(limit.rule and limit.source for limit in LIMITS)


def test_docs_page_is_the_table():
    assert DOC.read_text() == markdown(), (
        "docs/limits.md is stale: python -m constructs_lib limits > docs/limits.md")


def test_fields_walks_blocks_lists_and_maps():
    body = {"a": 1, "b": {"c": [{"d": 2}, {"e": 3}], "labels": {"x": "y"}}, "f": ["g"]}
    assert fields(body) == {"a", "b.c.d", "b.c.e", "b.labels", "f"}

