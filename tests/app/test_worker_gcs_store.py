"""GcsIdempotencyStore against the local emulator with the real client: the begin / complete /
release contract, leases taken over by generation, stale owners, and one winner under a race
between separate stores (as separate instances are)."""

from __future__ import annotations

import asyncio

import pytest

from app.worker.gcs import StorageRunner
from app.worker.gcs_store import (
    DONE,
    RELEASED,
    STARTED,
    GcsIdempotencyStore,
    LeaseLostError,
    object_name,
)
from app.worker.idempotency import BeginResult


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_store(storage_emulator, bucket_name, clock):
    runners: list[StorageRunner] = []

    def make(lease: float = 60, ttl: float = 3600) -> GcsIdempotencyStore:
        runner = StorageRunner(timeout_seconds=5, threads=8, client=storage_emulator.client())
        runners.append(runner)
        return GcsIdempotencyStore(runner, bucket_name, lease_seconds=lease, ttl_seconds=ttl, clock=clock)

    yield make
    for runner in runners:
        runner.close()


def state(gcs_client, bucket_name, key):
    blob = gcs_client.bucket(bucket_name).get_blob(object_name(key))
    return None if blob is None else blob.metadata["state"]


def run(coro):
    return asyncio.run(coro)


def test_claim_then_duplicate_after_complete(make_store, gcs_client, bucket_name):
    store = make_store()
    assert run(store.begin("q/t1")) is BeginResult.STARTED
    assert state(gcs_client, bucket_name, "q/t1") == STARTED
    assert run(store.begin("q/t1")) is BeginResult.IN_PROGRESS
    run(store.complete("q/t1"))
    assert state(gcs_client, bucket_name, "q/t1") == DONE
    assert run(make_store().begin("q/t1")) is BeginResult.DUPLICATE  # another instance sees it too


def test_release_frees_the_name_for_the_retry(make_store, gcs_client, bucket_name):
    first, second = make_store(), make_store()
    assert run(first.begin("q/t")) is BeginResult.STARTED
    run(first.release("q/t"))
    assert state(gcs_client, bucket_name, "q/t") == RELEASED
    assert run(second.begin("q/t")) is BeginResult.STARTED
    run(second.complete("q/t"))
    assert run(first.begin("q/t")) is BeginResult.DUPLICATE


def test_expired_lease_is_taken_over_and_the_stale_owner_cannot_complete(make_store, clock):
    a, b = make_store(lease=60), make_store(lease=60)
    assert run(a.begin("q/t")) is BeginResult.STARTED
    clock.now += 30
    assert run(b.begin("q/t")) is BeginResult.IN_PROGRESS  # lease still live
    clock.now += 31
    assert run(b.begin("q/t")) is BeginResult.STARTED  # lease ran out: taken over by generation
    with pytest.raises(LeaseLostError, match="may have run twice"):
        run(a.complete("q/t"))
    run(b.complete("q/t"))
    assert run(make_store().begin("q/t")) is BeginResult.DUPLICATE


def test_stale_release_does_not_free_a_name_another_attempt_holds(make_store, clock, gcs_client, bucket_name):
    """The case a delete that ignores its precondition (the emulator's) would break: a release
    from an attempt whose lease ran out must not free the name for a third attempt."""
    a, b, c = make_store(lease=60), make_store(lease=60), make_store(lease=60)
    assert run(a.begin("q/t")) is BeginResult.STARTED
    clock.now += 61
    assert run(b.begin("q/t")) is BeginResult.STARTED
    run(a.release("q/t"))  # stale: refused by the generation precondition, quietly
    assert state(gcs_client, bucket_name, "q/t") == STARTED
    assert run(c.begin("q/t")) is BeginResult.IN_PROGRESS
    run(b.complete("q/t"))
    assert run(c.begin("q/t")) is BeginResult.DUPLICATE


def test_done_is_forgotten_after_the_ttl(make_store, clock):
    store = make_store(ttl=100)
    assert run(store.begin("q/t")) is BeginResult.STARTED
    run(store.complete("q/t"))
    clock.now += 99
    assert run(store.begin("q/t")) is BeginResult.DUPLICATE
    clock.now += 2
    assert run(store.begin("q/t")) is BeginResult.STARTED


def test_one_winner_when_many_instances_claim_at_once(make_store):
    stores = [make_store() for _ in range(6)]

    async def race() -> list[BeginResult]:
        return list(await asyncio.gather(*(store.begin("q/raced") for store in stores for _ in range(3))))

    results = run(race())
    assert results.count(BeginResult.STARTED) == 1
    assert results.count(BeginResult.IN_PROGRESS) == len(results) - 1


def test_one_winner_when_many_take_over_an_expired_lease_at_once(make_store, clock):
    first = make_store(lease=10)
    assert run(first.begin("q/t")) is BeginResult.STARTED
    clock.now += 11
    stores = [make_store(lease=10) for _ in range(6)]

    async def race() -> list[BeginResult]:
        return list(await asyncio.gather(*(store.begin("q/t") for store in stores)))

    results = run(race())
    assert results.count(BeginResult.STARTED) == 1


def test_keys_are_hashed_into_fixed_length_names():
    long_key = "queue/" + "x" * 5000
    assert object_name(long_key).startswith("task-names/")
    assert len(object_name(long_key)) == len("task-names/") + 64
    assert object_name("a/b") != object_name("a/c")
