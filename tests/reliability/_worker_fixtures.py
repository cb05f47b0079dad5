"""Fixtures for the worker matrix and load tests (imported explicitly, not a conftest).

    from _worker_fixtures import matrix_worker, worker_client
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Starlette's import-time notice about its TestClient
    from fastapi.testclient import TestClient

from app.worker.main import create_app
from app.worker.settings import Settings, get_settings
from reliability.worker_matrix import MatrixWorker


@pytest.fixture(scope="module")
def matrix_worker() -> Iterator[MatrixWorker]:
    """One live worker (verification on, counting registry) and its certificate endpoint for the
    whole module; both are stopped at teardown."""
    with MatrixWorker() as worker:
        yield worker


@pytest.fixture
def worker_client() -> Iterator[Callable[[Settings], TestClient]]:
    """``worker_client(settings)``: a started in-process worker app (TestClient), closed at teardown."""
    opened: list[TestClient] = []

    def make(settings: Settings) -> TestClient:
        application = create_app()
        application.dependency_overrides[get_settings] = lambda: settings
        client = TestClient(application, raise_server_exceptions=False)
        client.__enter__()
        opened.append(client)
        return client

    try:
        yield make
    finally:
        for client in opened:
            client.__exit__(None, None, None)
