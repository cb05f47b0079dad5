"""Cloud Storage fixtures (a pytest plugin registered in tests/conftest.py): one
fake-gcs-server per session, a fresh bucket per test, and google-cloud-storage clients."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from app.storage_emulator import StorageEmulator


@pytest.fixture(scope="session")
def storage_emulator() -> Iterator[StorageEmulator]:
    with StorageEmulator() as emulator:
        yield emulator


@pytest.fixture(scope="session")
def gcs_client(storage_emulator: StorageEmulator) -> Any:
    client = storage_emulator.client()
    yield client
    client.close()


@pytest.fixture
def bucket_name(storage_emulator: StorageEmulator) -> str:
    """A new, empty bucket for this test."""
    name = f"b-{uuid.uuid4().hex[:16]}"
    storage_emulator.create_bucket(name)
    return name


@pytest.fixture
def storage_env(storage_emulator: StorageEmulator, monkeypatch: pytest.MonkeyPatch) -> StorageEmulator:
    """STORAGE_EMULATOR_HOST set for this test only (clients built by the code under test)."""
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", storage_emulator.url)
    return storage_emulator
