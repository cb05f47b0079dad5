"""Shared helpers for the fault tests (imported explicitly, not a conftest).

    from _fault_fixtures import children, dedup_emulator, stock_emulator, paused_queue, flaky_client
"""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import tasks_v2
from google.cloud.tasks_v2.services.cloud_tasks.transports import CloudTasksGrpcTransport

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Starlette's import-time notice about its TestClient
    from fastapi.testclient import TestClient

from app.emulator import Emulator
from app.enqueue import StackOutputs
from app.worker.settings import Settings, get_settings
from tests.processes import live_children
from reliability.flaky_worker import FlakyConfig, Ledger, create_flaky_app

PROJECT, LOCATION = "fault-tests", "us-central1"


children = live_children


def client_for(address: str, interceptor: grpc.UnaryUnaryClientInterceptor | None = None
               ) -> tuple[tasks_v2.CloudTasksClient, grpc.Channel]:
    """A Cloud Tasks client over an insecure channel (optionally intercepted); close the channel."""
    channel = grpc.insecure_channel(address)
    if interceptor is not None:
        channel = grpc.intercept_channel(channel, interceptor)
    transport = CloudTasksGrpcTransport(channel=channel, credentials=AnonymousCredentials())
    return tasks_v2.CloudTasksClient(transport=transport), channel


def outputs_for(queue_path: str) -> StackOutputs:
    """Outputs for a paused queue: the URL is never called."""
    return StackOutputs(service_url="http://127.0.0.1:9", audience="http://127.0.0.1:9", queue_path=queue_path,
                        invoker_email=f"invoker@{PROJECT}.iam.gserviceaccount.com",
                        dispatch_deadline_seconds=600, stack="faults")


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
