"""Fixtures for the quick runs of the reliability checks: emulators with and without task-name
dedup, paused queues, an in-process flaky worker, the worker matrix's live worker."""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest
from google.cloud import tasks_v2

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Starlette's import-time notice about its TestClient
    from fastapi.testclient import TestClient

from app.emulator import Emulator
from app.worker.settings import Settings, get_settings
from reliability.flaky_worker import FlakyConfig, Ledger, create_flaky_app
from reliability.worker_matrix import MatrixWorker
from tests.reliability.queues import LOCATION, PROJECT, client_for


@pytest.fixture(scope="module")
def dedup_emulator() -> Iterator[Emulator]:
    """An emulator with Cloud Tasks' task-name dedup (ALREADY_EXISTS for a reused name)."""
    with Emulator(dedup_task_names=True) as emu:
        yield emu


@pytest.fixture(scope="module")
def stock_emulator() -> Iterator[Emulator]:
    """The emulator as shipped: no task-name dedup."""
    with Emulator() as emu:
        yield emu


PausedQueue = Callable[[Emulator], tuple[str, tasks_v2.CloudTasksClient]]


@pytest.fixture
def paused_queue() -> Iterator[PausedQueue]:
    """``paused_queue(emulator)``: a fresh paused queue (nothing is dispatched, so its task list
    is what was created) and an admin client, without fault injection, to inspect it."""
    made: list[tuple[str, tasks_v2.CloudTasksClient, grpc.Channel]] = []

    def make(emulator: Emulator) -> tuple[str, tasks_v2.CloudTasksClient]:
        admin, channel = client_for(emulator.address)
        parent = f"projects/{PROJECT}/locations/{LOCATION}"
        path = f"{parent}/queues/q-{uuid.uuid4().hex[:12]}"
        admin.create_queue(parent=parent, queue=tasks_v2.Queue(name=path))
        admin.pause_queue(name=path)
        made.append((path, admin, channel))
        return path, admin

    try:
        yield make
    finally:
        for path, admin, channel in made:
            admin.delete_queue(name=path)
            channel.close()


FlakyClient = tuple[TestClient, Ledger]


@pytest.fixture
def flaky_client(tmp_path: Path) -> Iterator[Callable[..., FlakyClient]]:
    """``make(seed=0, failure_rate=0.3)``: a started in-process flaky worker and its ledger."""
    opened: list[TestClient] = []

    def make(seed: int = 0, failure_rate: float = 0.3) -> FlakyClient:
        ledger = Ledger(tmp_path / f"ledger-{len(opened)}.txt")
        application = create_flaky_app(FlakyConfig(ledger.path, seed, failure_rate))
        application.dependency_overrides[get_settings] = lambda: Settings(auth="disabled")
        client = TestClient(application, raise_server_exceptions=False)
        client.__enter__()
        opened.append(client)
        return client, ledger

    try:
        yield make
    finally:
        for client in opened:
            client.__exit__(None, None, None)


@pytest.fixture(scope="module")
def matrix_worker() -> Iterator[MatrixWorker]:
    """One live worker (verification on, counting registry) and its certificate endpoint for the
    whole module; both are stopped at teardown."""
    with MatrixWorker() as worker:
        yield worker
