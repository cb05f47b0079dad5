"""Worker fixtures (a pytest plugin registered in tests/conftest.py): a signing key made per
session, a local certificate endpoint, token factories, and clients for a fresh worker app
(in-process) or a live uvicorn process. Tests import the plain helpers (``AUDIENCE``,
``claims``, ``task_headers``, ``json_lines``...), never the fixtures.

Everything listens on 127.0.0.1 and is stopped by the fixture that started it.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from google.auth import crypt, jwt

with warnings.catch_warnings():
    # Starlette's import-time notice suggesting httpx2 for its TestClient; httpx works.
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from app.processes import free_port, stop_process
from app.worker.handlers import HandlerRegistry
from app.worker.main import create_app
from app.worker.settings import Settings, get_settings
from support.tokens import KeyPair, google_claims, make_key

REPO = Path(__file__).resolve().parents[2]
AUDIENCE = "https://worker-test-abc123-uc.a.run.app"
INVOKER = "tasks-invoker@test-project.iam.gserviceaccount.com"
KID = "test-key-1"


@pytest.fixture(scope="session")
def signing_key() -> KeyPair:
    """The key whose certificate the local endpoint publishes under ``KID``."""
    return make_key("test signing key")


@pytest.fixture(scope="session")
def stranger_key() -> KeyPair:
    """A key the endpoint does not publish (forged signatures)."""
    return make_key("someone else")


class CertServer:
    """A tiny certificate endpoint on 127.0.0.1 that counts GETs of ``/certs``."""

    def __init__(self, document: dict[str, Any], max_age: int = 3600) -> None:
        self.document = document
        self.max_age = max_age
        self.status = 200
        self.hits = 0
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # http.server API
                with outer._lock:
                    outer.hits += 1
                body = json.dumps(outer.document).encode() if outer.status == 200 else b"unavailable"
                self.send_response(outer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Cache-Control", f"public, max-age={outer.max_age}, must-revalidate")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/certs"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture(scope="session")
def spare_key() -> KeyPair:
    """A second published key (Google's endpoint always lists two or more)."""
    return make_key("another published key")


@pytest.fixture
def cert_server(signing_key: KeyPair, spare_key: KeyPair) -> Iterator[CertServer]:
    server = CertServer({"test-key-0": spare_key.cert_pem, KID: signing_key.cert_pem})
    try:
        yield server
    finally:
        server.stop()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(**overrides: Any) -> dict[str, Any]:
    """Claims of a valid Cloud Tasks OIDC token for the test worker (None removes a claim)."""
    return google_claims(AUDIENCE, INVOKER, **overrides)


@pytest.fixture
def make_token(signing_key: KeyPair) -> Callable[..., str]:
    """``make_token(key=..., kid=..., **claim_overrides)``: an RS256 token."""

    def make(key: KeyPair | None = None, kid: str = KID, **overrides: Any) -> str:
        signer = _signer((key or signing_key).private_pem, kid)
        return jwt.encode(signer, claims(**overrides)).decode()

    return make


@functools.lru_cache(maxsize=16)
def _signer(private_pem: str, kid: str) -> crypt.RSASigner:
    return crypt.RSASigner.from_string(private_pem, key_id=kid)  # parsing a key is slow: once


def unsigned_token(header: dict[str, Any], payload: dict[str, Any], secret: bytes | None = None) -> str:
    """A token with any header: ``alg: none`` (empty signature) or HS256 with ``secret``."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}"
    signature = b""
    if secret is not None:
        signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


@pytest.fixture
def worker_settings(cert_server: CertServer) -> Settings:
    """Auth required, certificates from the local endpoint, Retry-After 7 s."""
    return Settings(
        audience=AUDIENCE,
        invoker_email=INVOKER,
        certs_url=cert_server.url,
        retry_after_seconds=7,
        project_id="test-project",
    )


ClientFactory = Callable[..., TestClient]


@pytest.fixture
def make_worker() -> Iterator[ClientFactory]:
    """``make_worker(settings, registry=None, store=None)``: a started TestClient on a fresh app."""
    opened: list[TestClient] = []

    def make(settings: Settings, registry: HandlerRegistry | None = None, store: Any = None) -> TestClient:
        from app.worker.dependencies import get_registry, get_store

        application = create_app()
        application.dependency_overrides[get_settings] = lambda: settings
        if registry is not None:
            application.dependency_overrides[get_registry] = lambda: registry
        if store is not None:
            application.dependency_overrides[get_store] = lambda: store
        client = TestClient(application, raise_server_exceptions=False)
        client.__enter__()
        opened.append(client)
        return client

    try:
        yield make
    finally:
        for client in opened:
            client.__exit__(None, None, None)


@pytest.fixture
def worker(make_worker: ClientFactory, worker_settings: Settings) -> TestClient:
    """A started worker app (TestClient) with ``worker_settings``."""
    return make_worker(worker_settings)


def task_headers(token: str | None = None, name: str | None = "task-1", queue: str = "default", **extra: str) -> dict:
    headers = {"Content-Type": "application/json", "X-CloudTasks-QueueName": queue}
    if name is not None:
        headers["X-CloudTasks-TaskName"] = name
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    headers.update(extra)
    return headers


def json_lines(text: str) -> list[dict[str, Any]]:
    """The JSON log records in captured output (other lines are ignored)."""
    records = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                records.append(json.loads(line))
            except ValueError:
                continue
    return records


@pytest.fixture
def worker_logs(capsys: pytest.CaptureFixture[str]) -> Callable[[], list[dict[str, Any]]]:
    """Call to get the worker's JSON log records written so far."""
    seen: list[dict[str, Any]] = []

    def read() -> list[dict[str, Any]]:
        seen.extend(json_lines(capsys.readouterr().out))
        return list(seen)

    return read


# --------------------------------------------------------------------------- live uvicorn


@dataclass
class LiveWorker:
    process: subprocess.Popen
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log_path.read_text()


def worker_env(**values: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("WORKER_")}
    env.update(values)
    env["PYTHONPATH"] = str(REPO)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def start_worker(env: dict[str, str], log_path: Path, port: int | None = None) -> LiveWorker:
    port = port or free_port()
    with open(log_path, "wb") as out:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "uvicorn", "app.worker.main:app", "--host", "127.0.0.1",
                "--port", str(port), "--no-access-log",
            ],  # fmt: skip
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return LiveWorker(process, port, log_path)


def wait_ready(worker: LiveWorker, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker.process.poll() is not None:
            raise AssertionError(f"worker exited early:\n{worker.output()}")
        try:
            with urllib.request.urlopen(worker.url + "/healthz", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"worker not ready in {timeout} s:\n{worker.output()}")


def stop_worker(worker: LiveWorker) -> None:
    stop_process(worker.process, timeout=10)


@pytest.fixture
def live_worker(tmp_path: Path) -> Iterator[Callable[..., LiveWorker]]:
    """``live_worker(wait=True, **WORKER_env)``: a uvicorn worker process (ready unless
    ``wait=False``), stopped at teardown."""
    started: list[LiveWorker] = []

    def start(wait: bool = True, **env: str) -> LiveWorker:
        worker = start_worker(worker_env(**env), tmp_path / f"worker-{len(started)}.log")
        started.append(worker)
        if wait:
            wait_ready(worker)
        return worker

    try:
        yield start
    finally:
        for worker in started:
            stop_worker(worker)
