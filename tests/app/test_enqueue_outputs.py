"""Reading the outputs file: stack and pattern choice, task_url, and every way it can be wrong."""

from __future__ import annotations

import json

import pytest

from app.enqueue import OutputsError, StackOutputs, TaskSpec, load_outputs, write_outputs
from app.enqueue.tasks import build_task

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


def test_write_outputs_round_trips_with_task_url(tmp_path):
    written = dict(GOOD, task_url="https://w.run.app/work/tasks")
    out = StackOutputs(stack="dev", **written)
    path = write_outputs(tmp_path / "sub" / "outputs.json", {"dev": out})
    assert json.loads(path.read_text()) == {"dev": written}
    assert load_outputs(path, "dev") == out


def test_write_outputs_writes_the_fallback_task_url_of_outputs_built_without_one(tmp_path):
    path = write_outputs(tmp_path / "outputs.json", {"dev": StackOutputs(stack="dev", **GOOD)})
    assert json.loads(path.read_text())["dev"]["task_url"] == GOOD["service_url"] + "/tasks"


# --- task_url ---

NEW = dict(GOOD, task_url="https://tasks-worker-dev-abc-uc.a.run.app/tasks")


def test_task_url_is_read_from_the_file(tmp_path):
    out = load_outputs(write(tmp_path, {"dev": NEW}))
    assert out.task_url == NEW["task_url"]
    assert out == StackOutputs(stack="dev", **NEW)


def test_custom_task_path_is_honoured_not_replaced_by_tasks(tmp_path):
    doc = {"dev": dict(GOOD, task_url="https://x.run.app/work/tasks")}
    out = load_outputs(write(tmp_path, doc))
    assert out.task_url == "https://x.run.app/work/tasks"
    assert build_task(TaskSpec("echo", {}), out).http_request.url == "https://x.run.app/work/tasks"


@pytest.mark.parametrize("service_url", ["https://w.run.app", "https://w.run.app/"])
def test_file_without_task_url_falls_back_to_service_url_plus_tasks(tmp_path, service_url):
    """Files written before stacks output task_url: documented rule service_url + /tasks."""
    out = load_outputs(write(tmp_path, {"dev": dict(GOOD, service_url=service_url)}))
    assert out.task_url == "https://w.run.app/tasks"
    assert build_task(TaskSpec("echo", {}), out).http_request.url == "https://w.run.app/tasks"


@pytest.mark.parametrize("value, message", [
    ("", r"output task_url must be a non-empty string"),
    (None, r"output task_url must be a non-empty string"),
    (42, r"output task_url must be a non-empty string"),
    ("/tasks", r"output task_url '/tasks' must be an absolute http\(s\) URL"),
    ("ftp://x.run.app/tasks", r"output task_url .* must be an absolute http\(s\) URL"),
    ("http://worker.example.com/tasks", r"output task_url .* uses plain http; only https"),
    ("https://x.run.app/tasks?a=1", r"output task_url .* must not carry a query"),
    ("https://x.run.app", r"output task_url 'https://x.run.app' has no path; .* e\.g\. "
                          r"https://tasks-worker-dev-abc-uc\.a\.run\.app/tasks"),
])
def test_bad_task_url_is_named_never_ignored(tmp_path, value, message):
    with pytest.raises(OutputsError, match=r"stack 'dev' in .*outputs\.json: " + message):
        load_outputs(write(tmp_path, {"dev": dict(GOOD, task_url=value)}))


def test_loopback_http_task_url_is_accepted(tmp_path):
    doc = {"local": dict(GOOD, service_url="http://127.0.0.1:8080",
                         task_url="http://127.0.0.1:8080/t")}
    assert load_outputs(write(tmp_path, doc)).task_url == "http://127.0.0.1:8080/t"


# --- several patterns in one stack ---

def prefixed(pattern, values):
    return {f"{pattern}_{key}": value for key, value in values.items()}


ORDERS = dict(NEW, service_url="https://orders.run.app",
              task_url="https://orders.run.app/orders/tasks",
              queue_path="projects/p1/locations/us-central1/queues/orders")
INVOICES = dict(NEW, service_url="https://invoices.run.app",
                task_url="https://invoices.run.app/tasks",
                queue_path="projects/p1/locations/us-central1/queues/invoices",
                dispatch_deadline_seconds=900)
TWO = {"dev": {**prefixed("orders", ORDERS), **prefixed("invoices", INVOICES)}}


def test_explicit_pattern_reads_its_prefixed_outputs(tmp_path):
    path = write(tmp_path, TWO)
    orders = load_outputs(path, pattern="orders")
    assert orders == StackOutputs(stack="dev", pattern="orders", **ORDERS)
    invoices = load_outputs(path, "dev", "invoices")
    assert (invoices.task_url, invoices.queue_path, invoices.dispatch_deadline_seconds) == (
        INVOICES["task_url"], INVOICES["queue_path"], 900)


def test_pattern_names_with_underscores_and_digits(tmp_path):
    doc = {"dev": {**prefixed("bulk_jobs_2", ORDERS), **prefixed("bulk", INVOICES)}}
    path = write(tmp_path, doc)
    assert load_outputs(path, pattern="bulk_jobs_2").queue_path == ORDERS["queue_path"]
    assert load_outputs(path, pattern="bulk").queue_path == INVOICES["queue_path"]


def test_only_pattern_is_chosen_without_flag(tmp_path):
    out = load_outputs(write(tmp_path, {"dev": prefixed("orders", ORDERS)}))
    assert out.pattern == "orders" and out.task_url == ORDERS["task_url"]


def test_several_patterns_without_flag_names_them_and_the_flag(tmp_path):
    message = (r"stack 'dev' in .*outputs\.json holds the outputs of several patterns "
               r"\(invoices, orders\); choose one with --pattern NAME")
    with pytest.raises(OutputsError, match=message):
        load_outputs(write(tmp_path, TWO))


def test_unknown_pattern_lists_the_available_ones(tmp_path):
    message = (r"pattern 'refunds' not found in stack 'dev' in .*outputs\.json; "
               r"patterns present: invoices, orders \(choose one with --pattern")
    with pytest.raises(OutputsError, match=message):
        load_outputs(write(tmp_path, TWO), pattern="refunds")


def test_pattern_asked_of_a_single_pattern_stack_is_an_error(tmp_path):
    message = r"pattern 'orders' not found in stack 'dev' .*leave out --pattern"
    with pytest.raises(OutputsError, match=message):
        load_outputs(write(tmp_path, {"dev": NEW}), pattern="orders")


@pytest.mark.parametrize("name", ["Orders", "1st", "", "or-ders", "_orders"])
def test_pattern_must_be_a_pattern_name(tmp_path, name):
    with pytest.raises(OutputsError, match=r"is not a pattern name"):
        load_outputs(write(tmp_path, TWO), pattern=name)


def test_unprefixed_outputs_win_without_flag_when_both_are_present(tmp_path):
    doc = {"dev": {**NEW, **prefixed("orders", ORDERS), **prefixed("invoices", INVOICES)}}
    path = write(tmp_path, doc)
    assert load_outputs(path) == StackOutputs(stack="dev", **NEW)
    assert load_outputs(path, pattern="orders").task_url == ORDERS["task_url"]


def test_pattern_without_task_url_falls_back_to_its_service_url(tmp_path):
    old = {k: v for k, v in ORDERS.items() if k != "task_url"}
    out = load_outputs(write(tmp_path, {"dev": prefixed("orders", old)}), pattern="orders")
    assert out.task_url == "https://orders.run.app/tasks"


def test_missing_and_bad_pattern_outputs_are_named_with_their_prefix(tmp_path):
    lacking = {k: v for k, v in prefixed("orders", ORDERS).items() if k != "orders_audience"}
    message = (r"pattern 'orders' of stack 'dev' in .* lacks output\(s\) orders_audience; "
               r".*required: orders_service_url, orders_audience")
    with pytest.raises(OutputsError, match=message):
        load_outputs(write(tmp_path, {"dev": lacking}))
    bad = dict(prefixed("orders", ORDERS), orders_task_url="http://orders.example.com/tasks")
    message = (r"pattern 'orders' of stack 'dev' .*: output orders_task_url "
               r"'http://orders\.example\.com/tasks' uses plain http")
    with pytest.raises(OutputsError, match=message):
        load_outputs(write(tmp_path, {"dev": bad}))
    deadline = dict(prefixed("orders", ORDERS), orders_dispatch_deadline_seconds=5)
    with pytest.raises(OutputsError, match=r"output orders_dispatch_deadline_seconds is 5"):
        load_outputs(write(tmp_path, {"dev": deadline}))


def test_write_outputs_of_several_patterns_round_trips(tmp_path):
    orders = StackOutputs(stack="dev", pattern="orders", **ORDERS)
    invoices = StackOutputs(stack="dev", pattern="invoices", **INVOICES)
    path = write_outputs(tmp_path / "outputs.json", {"dev": [orders, invoices]})
    assert json.loads(path.read_text()) == TWO
    assert load_outputs(path, pattern="orders") == orders
    assert load_outputs(path, pattern="invoices") == invoices
    with pytest.raises(OutputsError, match=r"stack 'dev': output\(s\) orders_audience, .* twice"):
        write_outputs(tmp_path / "twice.json", {"dev": [orders, orders]})
