"""The multi-instance run, small (make test): three worker processes behind the round-robin
proxy, transient and permanent failures, duplicate deliveries, max_attempts 3. With the shared
store every task ends exactly once and the replay completes the dead letters; with in-memory
stores the same run lets duplicates through, which the checks catch. Tokens are checked by
every instance (WORKER_AUTH=required), copies included; a refused one fails the run."""

from __future__ import annotations

from reliability.instances import AUDIENCE, run_instances


def test_shared_store_ends_every_task_once_and_replay_completes_the_dead_letters():
    result = run_instances(150, store="gcs", wait_s=60)
    assert result.problems == []
    assert result.rejected == 0  # every token (originals, copies, replays) accepted by the instance it reached
    assert result.lost == result.double_effects == result.ended_twice == 0
    assert result.done + result.dead_letters == result.tasks
    assert result.copies > 0 and result.faults > 0 and result.dead_letters_exhausted > 0
    assert result.dead_letters >= result.permanent
    assert result.replayed == result.completed_after_replay == result.dead_letters
    assert result.second_replay_pending == 0


def test_in_memory_stores_let_duplicates_through_and_the_run_says_so():
    result = run_instances(150, store="memory", replay=False, wait_s=60)
    assert result.double_effects > 0
    assert any("more than one effect" in problem for problem in result.problems)
    assert result.lost == 0


def test_a_refused_token_fails_the_run():
    """The instances accept another audience than the tokens carry: every attempt is refused
    (403), the emulator gives up after max_attempts, and the run says why."""
    result = run_instances(12, store="gcs", replay=False, wait_s=30,
                           worker_env={"WORKER_AUDIENCE": "https://another-service.reliability.invalid"})
    assert result.rejected >= result.tasks
    (problem,) = [p for p in result.problems if "refused by the workers' token check" in p]
    assert f"tokens for {AUDIENCE!r}" in problem and "'https://another-service.reliability.invalid'" in problem
    assert result.lost == result.tasks and result.done == 0
