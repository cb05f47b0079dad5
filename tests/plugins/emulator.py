"""Cloud Tasks emulator fixtures (a pytest plugin registered in tests/conftest.py): the
emulator, a queue, an HTTP receiver. Tests import the plain helpers (``PROJECT``,
``outputs_for``...), never the fixtures."""

from __future__ import annotations

import json
import queue as queue_mod
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
import pytest
from google.cloud import tasks_v2
from google.cloud.tasks_v2.services.cloud_tasks.transports import CloudTasksGrpcTransport

from app.emulator import Emulator
from app.enqueue import StackOutputs

PROJECT, LOCATION = "test-project", "us-central1"


@dataclass
class Received:
    """One HTTP request the receiver got."""

    method: str
    path: str
    headers: dict[str, str]
    """Lower-cased names (urllib in the emulator sends e.g. ``X-cloudtasks-taskname``)."""
    body: bytes
    at: float

    def json(self) -> object:
        return json.loads(self.body)


class Receiver:
    """A tiny HTTP server on loopback standing in for the worker: records requests, answers 200."""

    def __init__(self) -> None:
        self.requests: queue_mod.Queue[Received] = queue_mod.Queue()
        received = self.requests

        class Handler(BaseHTTPRequestHandler):
            def _record(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                received.put(Received(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body, time.time()))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_PUT = do_GET = _record

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def wait_for(self, n: int, timeout: float = 10.0) -> list[Received]:
        """The first ``n`` requests; fails the test if they do not arrive within ``timeout``."""
        got: list[Received] = []
        deadline = time.monotonic() + timeout
        while len(got) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail(f"receiver got {len(got)} request(s) in {timeout} s, expected {n}")
            try:
                got.append(self.requests.get(timeout=left))
            except queue_mod.Empty:
                continue
        return got

    def assert_quiet(self, seconds: float) -> None:
        """Nothing more arrives within ``seconds``."""
        try:
            extra = self.requests.get(timeout=seconds)
        except queue_mod.Empty:
            return
        pytest.fail(f"unexpected extra request: {extra}")


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    """One emulator per session, with Cloud Tasks' task-name dedup switched on."""
    with Emulator(dedup_task_names=True) as emu:
        yield emu


@pytest.fixture(scope="session")
def admin_client(emulator: Emulator) -> Iterator[tasks_v2.CloudTasksClient]:
    """A client for test set-up (queues), separate from the one under test."""
    channel = grpc.insecure_channel(emulator.address)
    client = tasks_v2.CloudTasksClient(transport=CloudTasksGrpcTransport(channel=channel))
    yield client
    channel.close()


@pytest.fixture
def queue_path(admin_client: tasks_v2.CloudTasksClient) -> Iterator[str]:
    """A fresh queue per test, deleted afterwards."""
    parent = f"projects/{PROJECT}/locations/{LOCATION}"
    path = f"{parent}/queues/q-{uuid.uuid4().hex[:12]}"
    admin_client.create_queue(parent=parent, queue=tasks_v2.Queue(name=path))
    yield path
    admin_client.delete_queue(name=path)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    rec.thread.start()
    yield rec
    rec.server.shutdown()
    rec.server.server_close()
    rec.thread.join(timeout=5)


def outputs_for(service_url: str, queue_path: str, deadline: int = 600) -> StackOutputs:
    return StackOutputs(
        service_url=service_url,
        audience="https://worker.example.test",
        queue_path=queue_path,
        invoker_email=f"invoker@{PROJECT}.iam.gserviceaccount.com",
        dispatch_deadline_seconds=deadline,
        stack="dev",
    )


def write_outputs_file(tmp_path, outputs: StackOutputs, stack: str = "dev"):
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({stack: outputs.to_json()}))
    return path
