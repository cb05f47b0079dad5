"""The fault run checks tokens end to end: the emulator signs, the worker verifies (auth on)."""

from __future__ import annotations

from reliability.faults import AUDIENCE, run_task_faults
from support.processes import live_children


def test_run_task_faults_fails_when_the_worker_expects_another_audience(tmp_path):
    """The check can fail: a worker wired for another audience refuses every token (403)."""
    before = live_children()
    r = run_task_faults(n_tasks=20, failure_rate=0.3, seed=11, duplicate_every=0, work_dir=tmp_path,
                        worker_env={"WORKER_AUDIENCE": "https://another-worker.example.test"}, wait_s=20)
    assert not r.ok and not r.timed_out  # stopped at the first refusal, not at the deadline
    assert r.rejected > 0 and r.handled == 0
    assert r.problems[0].startswith(f"{r.rejected} attempt(s) refused by the worker's token check (")
    assert "403 wrong_audience" in r.problems[0] and repr(AUDIENCE) in r.problems[0]
    assert "'https://another-worker.example.test'" in r.problems[0]
    assert live_children() == before
