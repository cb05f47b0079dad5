"""Child-process chores of the local dev tools (the demo, the Cloud Tasks and storage emulator
launchers, the Jobs stand-in); tests, benches and support/ reuse them. Not in the worker image."""

from __future__ import annotations

import socket
import subprocess
import threading

STOP_TIMEOUT_S = 5.0


def free_port() -> int:
    """A loopback port free right now (another process may still take it before use)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_process(proc: subprocess.Popen, timeout: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM, then SIGKILL if it is still running after ``timeout``; always reaped."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)


class ReadProcess:
    """A child process whose output a reader thread drains; a context manager (subclasses
    provide ``start``, which sets ``process`` and ``_reader``)."""

    process: subprocess.Popen | None = None
    _reader: threading.Thread | None = None
    stop_timeout: float = STOP_TIMEOUT_S

    def start(self) -> ReadProcess:
        raise NotImplementedError

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after a grace period; the reader joined. Idempotent."""
        proc = self.process
        if proc is None:
            return
        stop_process(proc, self.stop_timeout)
        if self._reader is not None:
            self._reader.join(timeout=self.stop_timeout)
        if proc.stdout is not None:
            proc.stdout.close()
        self.process = None

    def __enter__(self):  # returns the subclass
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
