"""The multi-instance run, small (make test): three worker processes behind the round-robin
proxy, transient and permanent failures, duplicate deliveries, max_attempts 3. With the shared
store every task ends exactly once and the replay completes the dead letters; with in-memory
stores the same run lets duplicates through, which the checks catch."""

from __future__ import annotations

from reliability.instances import run_instances


def test_shared_store_ends_every_task_once_and_replay_completes_the_dead_letters():
    result = run_instances(150, store="gcs", wait_s=60)
    assert result.problems == []
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
