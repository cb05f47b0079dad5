"""Reading the outputs file: stack choice and every way it can be wrong."""

from __future__ import annotations

import json

import pytest

from app.enqueue import OutputsError, StackOutputs, load_outputs, write_outputs

GOOD = {
    "service_url": "https://tasks-worker-dev-abc-uc.a.run.app",
    "audience": "https://tasks-worker-dev-abc-uc.a.run.app",
    "queue_path": "projects/p1/locations/us-central1/queues/tasks-dev",
    "invoker_email": "tasks-invoker@p1.iam.gserviceaccount.com",
    "dispatch_deadline_seconds": 600,
}


def write(tmp_path, doc, raw=None):
    path = tmp_path / "outputs.json"
    path.write_text(raw if raw is not None else json.dumps(doc))
    return path


def test_only_stack_is_chosen_and_fields_are_read(tmp_path):
    out = load_outputs(write(tmp_path, {"dev": GOOD}))
    assert out == StackOutputs(stack="dev", **GOOD)
    assert out.task_url == "https://tasks-worker-dev-abc-uc.a.run.app/tasks"


def test_stack_flag_picks_one_of_several(tmp_path):
    prod = dict(GOOD, queue_path="projects/p1/locations/us-central1/queues/tasks-prod")
    out = load_outputs(write(tmp_path, {"dev": GOOD, "prod": prod}), stack="prod")
    assert out.queue_path.endswith("/tasks-prod") and out.stack == "prod"


def test_several_stacks_without_flag_lists_them(tmp_path):
    with pytest.raises(OutputsError, match=r"several stacks \(dev, prod\).*--stack"):
        load_outputs(write(tmp_path, {"prod": GOOD, "dev": GOOD}))


def test_unknown_stack_lists_present_ones(tmp_path):
    with pytest.raises(OutputsError, match=r"stack 'staging' not found.*stacks present: dev, prod"):
        load_outputs(write(tmp_path, {"dev": GOOD, "prod": GOOD}), stack="staging")


def test_missing_file(tmp_path):
    with pytest.raises(OutputsError, match=r"outputs file not found: .*nope\.json.*--outputs-file"):
        load_outputs(tmp_path / "nope.json")


@pytest.mark.parametrize("raw, message", [
    ('{"dev": {', r"not valid JSON: .* line 1 column"),
    ("[]", r"must be a JSON object of stacks.*got a JSON list"),
    ('{"dev": "x"}', r"non-object value\(s\) under key\(s\) dev"),
    ("{}", r"holds no stacks"),
])
def test_malformed_file(tmp_path, raw, message):
    with pytest.raises(OutputsError, match=message):
        load_outputs(write(tmp_path, None, raw=raw))


def test_missing_output_is_named(tmp_path):
    doc = {"dev": {k: v for k, v in GOOD.items() if k != "audience"}}
    with pytest.raises(OutputsError, match=r"stack 'dev' .* lacks output\(s\) audience; present: "):
        load_outputs(write(tmp_path, doc))


@pytest.mark.parametrize("key, value, message", [
    ("service_url", "", r"service_url must be a non-empty string"),
    ("service_url", "ftp://x", r"service_url 'ftp://x' must be an absolute http\(s\) URL"),
    ("service_url", "http://worker.example.com", r"plain http; only https is allowed"),
    ("service_url", "https://w.run.app/?a=1", r"must not carry a query"),
    ("queue_path", "tasks-dev", r"queue_path 'tasks-dev' is not of the form projects/PROJECT/"),
    ("queue_path", "projects/p/locations/l/queues/bad_id", r"is not of the form"),
    ("invoker_email", "nobody", r"not a service account email"),
    ("dispatch_deadline_seconds", 5, r"dispatch_deadline_seconds is 5; allowed 15 to 1800"),
    ("dispatch_deadline_seconds", 3600, r"allowed 15 to 1800"),
    ("dispatch_deadline_seconds", True, r"must be a whole number of seconds"),
    ("dispatch_deadline_seconds", "ten", r"must be a whole number of seconds"),
    ("dispatch_deadline_seconds", 60.5, r"must be a whole number of seconds"),
    ("audience", None, r"audience must be a non-empty string"),
])
def test_bad_values_are_named(tmp_path, key, value, message):
    with pytest.raises(OutputsError, match=message):
        load_outputs(write(tmp_path, {"dev": dict(GOOD, **{key: value})}))


def test_loopback_http_and_numeric_string_deadline_are_accepted(tmp_path):
    doc = {"local": dict(GOOD, service_url="http://127.0.0.1:8080", dispatch_deadline_seconds="900")}
    out = load_outputs(write(tmp_path, doc))
    assert out.task_url == "http://127.0.0.1:8080/tasks" and out.dispatch_deadline_seconds == 900


def test_write_outputs_round_trips(tmp_path):
    out = StackOutputs(stack="dev", **GOOD)
    path = write_outputs(tmp_path / "sub" / "outputs.json", {"dev": out})
    assert json.loads(path.read_text()) == {"dev": GOOD}
    assert load_outputs(path, "dev") == out
