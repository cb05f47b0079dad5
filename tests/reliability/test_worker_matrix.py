"""The bad-input matrix (``reliability/worker_matrix.py``) against a live uvicorn worker with
token verification on, over real HTTP: one test per case, plus the runner's bookkeeping."""

from __future__ import annotations

import pytest

import reliability.worker_matrix as wm
from reliability.worker_matrix import CASES, Case, Request, run_matrix


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_case_is_answered_as_documented(matrix_worker, case):
    result = matrix_worker.check(case)
    assert result.status != 0, result.problems
    assert result.status < 500, result.problems
    assert result.status == case.status, result.problems
    assert result.runs == case.runs, result.problems  # 0 except where the docs say the task runs
    assert result.still_serving, result.problems
    assert result.ok, result.problems


def test_every_hostile_input_has_a_case_with_a_documented_answer():
    names = [case.name for case in CASES]
    assert len(set(names)) == len(names)
    required = [
        "forged", "expired", "issued-in-the-future", "not-before", "wrong-issuer", "wrong-audience",
        "wrong-account", "email-unverified", "alg-none", "alg-hs256-cert-as-secret", "alg-rs512",
        "alg-es256", "alg-missing", "kid-pointing-nowhere", "kid-path-traversal", "jku", "x5u",
        "authorization-basic", "bearer-without-token", "bearer-garbage", "bearer-two-tokens",
        "two-authorization-headers", "huge-authorization", "oversized-declared", "oversized-chunked",
        "not-json", "nested-arrays-100k", "body-array", "body-string", "body-number", "body-null",
        "kind-not-a-string", "data-an-array", "cloud-tasks-headers-missing", "retry-count-negative",
        "retry-count-huge", "retry-count-non-numeric", "eta-nan", "eta-inf", "eta-garbage",
        "task-name-10kb", "task-name-unicode", "nbf-not-a-number", "nbf-boolean", "issuer-as-list",
        "audience-list-with-ours", "email-verified-number", "task-name-c1-control",
        "control-char-nul-in-header", "control-char-escape-in-header", "content-length-negative",
        "content-length-duplicated",
    ]  # fmt: skip
    missing = [fragment for fragment in required if not any(fragment in name for name in names)]
    assert not missing
    for case in CASES:
        assert case.status in (200, 400, 401, 403, 413), case.name  # rows of the docs' Responses table
        assert (case.status == 400) == (case.group == "http"), case.name  # 400 only from the server
        assert (case.status == 200) == (case.outcome is not None), case.name
        if case.runs:  # the only documented runs: ignored headers, and one valid deep task
            assert case.group == "headers" or case.name == "deep-but-parseable-data", case.name
        if case.group in ("token", "authorization", "body", "http"):
            assert case.runs == 0, case.name


def test_run_matrix_counts_and_stops_its_processes(monkeypatch):
    started = []

    class Recording(wm.MatrixWorker):
        def start(self) -> None:
            super().start()
            started.append(list(self.procs.children))

    monkeypatch.setattr(wm, "MatrixWorker", Recording)
    wrong = Case("valid-task-claimed-401", "token", lambda k: Request(k.headers("v"), k.body()), 401)
    seen = []
    result = run_matrix([CASES[0], wrong], progress=seen.append)

    assert [r.case.name for r in seen] == [CASES[0].name, "valid-task-claimed-401"]
    assert (result.cases, result.rejected_as_documented, result.still_serving) == (2, 1, 2)
    assert (result.handler_runs, result.server_errors, result.no_answer) == (1, 0, 0)
    assert not result.ok
    assert len(result.failures) == 1
    assert result.failures[0].startswith("valid-task-claimed-401: ")
    assert "status 200, documented 401" in result.failures[0]
    assert "handler ran 1 times, documented 0" in result.failures[0]
    assert len(started) == 1 and len(started[0]) == 2  # certificate endpoint + worker
    assert all(process.poll() is not None for process in started[0])
