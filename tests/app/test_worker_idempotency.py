"""The in-memory idempotency store: claim, complete, release, lease, TTL, bound."""

from __future__ import annotations

import asyncio

from app.worker.idempotency import BeginResult, IdempotencyStore, InMemoryIdempotencyStore


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def run(coro):
    return asyncio.run(coro)


def test_implements_the_protocol():
    assert isinstance(InMemoryIdempotencyStore(), IdempotencyStore)


def test_claim_complete_then_duplicate():
    store = InMemoryIdempotencyStore()
    assert run(store.begin("q/a")) is BeginResult.STARTED
    assert run(store.begin("q/a")) is BeginResult.IN_PROGRESS
    run(store.complete("q/a"))
    assert run(store.begin("q/a")) is BeginResult.DUPLICATE
    assert run(store.begin("q/b")) is BeginResult.STARTED


def test_release_lets_the_retry_run():
    store = InMemoryIdempotencyStore()
    run(store.begin("q/a"))
    run(store.release("q/a"))
    assert run(store.begin("q/a")) is BeginResult.STARTED
    run(store.release("q/never-claimed"))  # harmless


def test_abandoned_claim_expires_after_the_lease():
    clock = Clock()
    store = InMemoryIdempotencyStore(lease_seconds=60, clock=clock)
    run(store.begin("q/a"))
    clock.now += 59
    assert run(store.begin("q/a")) is BeginResult.IN_PROGRESS
    clock.now += 2
    assert run(store.begin("q/a")) is BeginResult.STARTED


def test_completed_names_are_forgotten_after_the_ttl():
    clock = Clock()
    store = InMemoryIdempotencyStore(ttl_seconds=3600, clock=clock)
    run(store.begin("q/a"))
    run(store.complete("q/a"))
    clock.now += 3599
    assert run(store.begin("q/a")) is BeginResult.DUPLICATE
    clock.now += 2
    assert run(store.begin("q/a")) is BeginResult.STARTED


def test_size_is_bounded_oldest_first():
    store = InMemoryIdempotencyStore(max_entries=3)
    for name in "abcd":
        run(store.begin(name))
        run(store.complete(name))
    assert len(store) == 3
    assert run(store.begin("a")) is BeginResult.STARTED  # evicted
    assert run(store.begin("d")) is BeginResult.DUPLICATE


def test_expired_entries_are_dropped_as_new_ones_arrive():
    clock = Clock()
    store = InMemoryIdempotencyStore(ttl_seconds=60, lease_seconds=60, clock=clock)
    for i in range(100):
        run(store.begin(str(i)))
        run(store.complete(str(i)))
    clock.now += 61
    run(store.begin("new"))
    assert len(store) == 1
