"""Fixtures for the worker matrix and load tests (imported explicitly, not a conftest).

    from _worker_fixtures import matrix_worker
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Starlette's import-time notice about its TestClient

from reliability.worker_matrix import MatrixWorker


@pytest.fixture(scope="module")
def matrix_worker() -> Iterator[MatrixWorker]:
    """One live worker (verification on, counting registry) and its certificate endpoint for the
    whole module; both are stopped at teardown."""
    with MatrixWorker() as worker:
        yield worker
