"""Opt-in alerts: the log-based metric's filter matches the line the real worker logs for a
dead letter (and not its other lines), the policies watch the queue's metrics, bad options
are refused, and nothing is declared while alerts are off."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from typing import Any

import pytest

from constructs_lib import AlertOptions, CloudTasksToCloudRun, ConfigurationError
from constructs_lib.task_alerts import ATTEMPTS_METRIC, DELAYS_METRIC, DEPTH_METRIC
from tests.infra.tfjson import PROJECT, one, resources, synth
from tests.plugins.worker import json_lines

CHANNEL = f"projects/{PROJECT}/notificationChannels/1234"
ON = AlertOptions(enabled=True, notification_channels=[CHANNEL])
_CONDITION = re.compile(r'^([A-Za-z_.]+)=(".*"|[^"\s]+)$')


def parse_filter(text: str) -> dict[str, Any]:
    """``a.b="x" AND c=true AND d=ERROR`` -> {field: value}; only the conjunction of
    equalities the metric uses (anything else fails the test)."""
    conditions = {}
    for part in text.split(" AND "):
        match = _CONDITION.match(part.strip())
        assert match, f"not an equality this test understands: {part!r}"
        key, raw = match.groups()
        if raw.startswith('"'):
            value: Any = json.loads(raw)
        elif raw in ("true", "false"):
            value = raw == "true"
        else:
            value = raw
        conditions[key] = value
    return conditions


def matches(conditions: dict[str, Any], line: dict[str, Any], service: str) -> bool:
    """Whether Cloud Logging would count ``line`` (as Cloud Run turns a JSON stdout line into
    an entry: ``severity`` lifted out, the rest in jsonPayload) from ``service``."""
    entry = {"resource.type": "cloud_run_revision", "resource.labels.service_name": service,
             "severity": line.get("severity")}
    entry.update({f"jsonPayload.{key}": value for key, value in line.items()
                  if key != "severity"})
    return all(key in entry and entry[key] == value for key, value in conditions.items())


def post(url: str, body: dict[str, Any], name: str) -> int:
    request = urllib.request.Request(
        url + "/tasks", data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", "X-CloudTasks-QueueName": "orders",
                 "X-CloudTasks-TaskName": name})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_the_dead_letter_filter_matches_the_real_workers_line(stack, live_worker):
    CloudTasksToCloudRun(stack, "tasks", project=PROJECT, name="orders", alerts=ON)
    metric = one(synth(stack), "google_logging_metric")
    conditions = parse_filter(metric["filter"])
    assert any(key.startswith("jsonPayload.") for key in conditions)
    assert conditions["resource.labels.service_name"] == "orders"

    worker = live_worker(WORKER_AUTH="disabled")
    assert post(worker.url, {"kind": "no-such-kind", "data": {}}, "unknown-1") == 200
    assert post(worker.url, {"kind": "echo", "data": {"x": 1}}, "echo-1") == 200
    lines = json_lines(worker.output())
    dead = [line for line in lines if matches(conditions, line, "orders")]
    assert len(dead) == 1, lines  # exactly one line per dead-lettered attempt
    assert "no-such-kind" in json.dumps(dead[0])
    # every jsonPayload condition is a field of that line, with that value
    for key, value in conditions.items():
        if key.startswith("jsonPayload."):
            assert dead[0][key.removeprefix("jsonPayload.")] == value
    # and nothing else the worker logged is counted, nor the same line from another service
    assert not any(matches(conditions, line, "orders") for line in lines if line is not dead[0])
    assert not matches(conditions, dead[0], "invoices")


def test_policies_watch_the_queue_metrics_and_go_to_the_channels(stack):
    pattern = CloudTasksToCloudRun(stack, "tasks", project=PROJECT, name="orders", alerts=ON)
    tf = synth(stack)
    policies = resources(tf, "google_monitoring_alert_policy")
    filters = [p["conditions"][0]["condition_threshold"]["filter"] for p in policies]
    for metric in (DEPTH_METRIC, ATTEMPTS_METRIC, DELAYS_METRIC):
        (match,) = [f for f in filters if f'metric.type="{metric}"' in f]
        assert 'resource.type="cloud_tasks_queue"' in match
        assert "resource.labels.queue_id=" in match
    assert any("logging.googleapis.com/user/" in f for f in filters)
    failing = next(f for f in filters if ATTEMPTS_METRIC in f)
    assert "NOT metric.labels.response_code=" in failing
    assert all(p["notification_channels"] == [CHANNEL] for p in policies)
    assert all(p["enabled"] is True and p["combiner"] == "OR" for p in policies)
    lag = next(p for p in policies if DELAYS_METRIC in p["conditions"][0][
        "condition_threshold"]["filter"])
    assert lag["conditions"][0]["condition_threshold"]["threshold_value"] == 300_000  # ms
    services = {a["service"] for a in resources(tf, "google_project_service")}
    assert {"monitoring.googleapis.com", "logging.googleapis.com"} <= services
    assert pattern.alerts is not None


def test_nothing_is_declared_while_alerts_are_off(stack):
    CloudTasksToCloudRun(stack, "tasks", project=PROJECT, name="orders")
    tf = synth(stack)
    assert "google_monitoring_alert_policy" not in tf["resource"]
    assert "google_logging_metric" not in tf["resource"]
    services = {a["service"] for a in resources(tf, "google_project_service")}
    assert not services & {"monitoring.googleapis.com", "logging.googleapis.com"}


@pytest.mark.parametrize(("options", "message"), [
    ({"enabled": True}, "notification_channels must be at least one channel when alerts "
                        "are enabled"),
    ({"notification_channels": ["1234"]}, "notification_channels[0] must be a notification "
                                          "channel: projects/PROJECT/notificationChannels/ID, "
                                          "but '1234' was given"),
    ({"notification_channels": "projects/p/notificationChannels/1"},
     "notification_channels must be a list of channel names"),
    ({"backlog_duration_seconds": 90}, "backlog_duration_seconds must be a multiple of 60 "
                                       "seconds, but 90 was given"),
    ({"alignment_period_seconds": 0}, "alignment_period_seconds must be a whole number "
                                      "between 60 and 86400, but 0 was given"),
    ({"backlog_threshold": 0}, "backlog_threshold must be a whole number between 1 and"),
    ({"dispatch_lag_threshold_seconds": 0}, "dispatch_lag_threshold_seconds must be a "
                                            "number greater than 0"),
    ({"severity": "PAGE"}, "severity must be one of 'CRITICAL', 'ERROR', 'WARNING', but "
                           "'PAGE' was given"),
])
def test_bad_alert_options_are_refused(options, message):
    with pytest.raises(ConfigurationError) as caught:
        AlertOptions(**options)
    assert str(caught.value).startswith(message), str(caught.value)
