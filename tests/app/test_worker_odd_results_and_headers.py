"""What the worker answers for input the bad-input matrix (reliability/worker_matrix.py) also
sends over real HTTP, checked here in process:

* a result the JSON encoder cannot encode (nested deeper than orjson's 254 levels, non-string
  keys) is answered without it, once: not a 500 after the work was done (retried, then
  "duplicate");
* two ``Authorization`` headers are refused (not only the first checked);
* an unknown ``kind`` is cut in the answer and in every log record of the task (a Cloud
  Logging entry over 256 KB is dropped, the dead-letter record with it).
"""

from __future__ import annotations

import json

import orjson
import pytest

from app.processes import free_port
from app.worker.headers import CloudTasksHeaders
from app.worker.processing import MAX_KIND_CHARS, Outcome
from app.worker.settings import Settings


def deep(levels: int) -> dict:
    value: dict = {"leaf": 1}
    for _ in range(levels):
        value = {"a": value}
    return value


@pytest.mark.parametrize("result", [deep(400), {1: "non-string key"}], ids=["too-deep", "int-key"])
def test_unencodable_result_is_answered_without_it(result):
    with pytest.raises(orjson.JSONEncodeError):
        orjson.dumps(result)
    body = json.loads(Outcome(200, "done", result=result).body(CloudTasksHeaders(task_name="t-1"), "echo"))
    assert body["status"] == "done" and body["task"] == "t-1" and body["kind"] == "echo"
    assert "result" not in body
    assert body["result_error"].startswith("result not JSON-encodable")


def test_deep_echo_task_is_done_once_not_500(make_worker):
    client = make_worker(Settings(auth="disabled"))
    task = {"kind": "echo", "data": deep(400)}
    headers = {"Content-Type": "application/json", "X-CloudTasks-TaskName": "deep-1"}
    first = client.post("/tasks", content=json.dumps(task), headers=headers)
    assert first.status_code == 200
    assert first.json()["status"] == "done" and "result_error" in first.json()
    again = client.post("/tasks", content=json.dumps(task), headers=headers)
    assert (again.status_code, again.json()["status"]) == (200, "duplicate")


def test_two_authorization_headers_are_refused(make_worker):
    settings = Settings(
        audience="https://worker-abc-uc.a.run.app",
        invoker_email="invoker@p.iam.gserviceaccount.com",
        certs_url=f"http://127.0.0.1:{free_port()}/certs",  # nothing listens: refused before any key lookup
    )
    client = make_worker(settings)
    answer = client.post(
        "/tasks",
        content=b'{"kind":"echo","data":{}}',
        headers=[("Authorization", "Bearer a.b.c"), ("Authorization", "Bearer d.e.f")],
    )
    assert answer.status_code == 401
    assert 'error_description="malformed_header"' in answer.headers["www-authenticate"]


def test_unknown_kind_is_cut_in_answer_and_logs(make_worker, capsys):
    client = make_worker(Settings(auth="disabled"))
    capsys.readouterr()
    answer = client.post("/tasks", content=json.dumps({"kind": "k" * 900_000}), headers={"X-CloudTasks-TaskName": "big"})
    assert answer.status_code == 200
    assert answer.json()["status"] == "dead_letter"
    assert answer.json()["kind"] == "k" * MAX_KIND_CHARS
    assert len(answer.content) < 2048
    lines = [line for line in capsys.readouterr().out.splitlines() if '"task":"big"' in line]
    assert lines and max(map(len, lines)) < 8192
    record = json.loads(lines[-1])
    assert record["dead_letter"] is True and record["kind"] == "k" * MAX_KIND_CHARS
