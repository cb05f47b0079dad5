"""A round-robin HTTP proxy on loopback standing in for Cloud Run's front end over several
instances, which also injects duplicate deliveries (Cloud Tasks delivers at least once).

Each ``POST`` goes to the next backend in turn; the answer goes back to the caller. For a seeded
``duplicate_rate`` of requests (drawn from the task name and retry count) the proxy also sends
the same request, headers included, to the *next* backend: half of the copies at the same time
as the original (two instances hold the same attempt at once), half after the original was
answered (a redelivery after an acknowledgement). A copy's answer is only counted, never
returned: Cloud Tasks acts on one answer per attempt.

Every header but the hop-by-hop ones goes through unchanged, to the backend and to the copy:
``Authorization`` (the task's OIDC token, which each instance checks) and the
``X-CloudTasks-*`` headers. Cloud Run's front end does the same for a request it accepts: it
passes the token on to the container. Answers 401 and 403 (a refused token) are counted per
status in ``statuses`` and ``copy_statuses``; :attr:`refused` sums them.
"""

from __future__ import annotations

import hashlib
import http.client
import itertools
import threading
import time
from collections import Counter
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

#: Not forwarded (hop-by-hop, or set by http.client); ``authorization`` is forwarded.
_HOP = {"connection", "keep-alive", "transfer-encoding", "host", "content-length"}
#: A backend's answers to a token it refused (app/worker/dependencies.py).
REFUSED = (401, 403)


class RoundRobinProxy:
    def __init__(self, backends: Sequence[str], *, duplicate_rate: float = 0.0, seed: int = 0) -> None:
        self.backends = list(backends)
        self.duplicate_rate = duplicate_rate
        self.seed = seed
        self._cycle = itertools.count()
        self._lock = threading.Lock()
        self.in_flight = 0
        self.last_activity = time.monotonic()
        self.requests = 0
        self.copies: Counter[str] = Counter()
        """``together`` / ``after`` -> copies sent"""
        self.copy_statuses: Counter[int] = Counter()
        self.statuses: Counter[int] = Counter()
        self._copy_threads: list[threading.Thread] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # http.server API
                outer._handle(self)

            def do_GET(self) -> None:
                outer._handle(self)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def set_backends(self, backends: Sequence[str]) -> None:
        with self._lock:
            self.backends = list(backends)

    @property
    def refused(self) -> int:
        """Requests and copies answered 401 or 403 (a token an instance refused)."""
        with self._lock:
            return sum(self.statuses[code] + self.copy_statuses[code] for code in REFUSED)

    def idle_for(self) -> float:
        """Seconds since the last request or copy finished (0 while any is in flight)."""
        with self._lock:
            return 0.0 if self.in_flight else time.monotonic() - self.last_activity

    def _pick(self, offset: int = 0) -> str:
        with self._lock:
            backends = self.backends
        return backends[(next(self._cycle) + offset) % len(backends)]

    def _draw(self, *parts: str) -> float:
        digest = hashlib.sha256("\x00".join((str(self.seed),) + parts).encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2.0**64

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        with self._lock:
            self.in_flight += 1
            self.requests += 1
        try:
            task = request.headers.get("X-CloudTasks-TaskName", "")
            retry = request.headers.get("X-CloudTasks-TaskRetryCount", "")
            copy_mode = None
            if request.command == "POST" and task and self._draw("dup", task, retry) < self.duplicate_rate:
                copy_mode = "together" if self._draw("mode", task, retry) < 0.5 else "after"
            primary = self._pick()
            if copy_mode == "together":
                self._send_copy(copy_mode, primary, request.command, request.path, headers, body)
            status, response_headers, data = _forward(primary, request.command, request.path, headers, body)
            if copy_mode == "after":
                self._send_copy(copy_mode, primary, request.command, request.path, headers, body)
            with self._lock:
                self.statuses[status] += 1
            request.send_response(status)
            for key, value in response_headers:
                if key.lower() not in _HOP:
                    request.send_header(key, value)
            request.send_header("Content-Length", str(len(data)))
            request.end_headers()
            request.wfile.write(data)
        finally:
            with self._lock:
                self.in_flight -= 1
                self.last_activity = time.monotonic()

    def _send_copy(self, mode: str, primary: str, method: str, path: str, headers: dict[str, str],
                   body: bytes) -> None:
        with self._lock:
            backends = self.backends
            target = backends[(backends.index(primary) + 1) % len(backends)] if primary in backends else primary
            self.in_flight += 1
            self.copies[mode] += 1

        def run() -> None:
            try:
                status, _, _ = _forward(target, method, path, headers, body)
            except OSError:
                status = 0
            with self._lock:
                self.copy_statuses[status] += 1
                self.in_flight -= 1
                self.last_activity = time.monotonic()

        thread = threading.Thread(target=run, name="proxy-copy", daemon=True)
        with self._lock:
            self._copy_threads.append(thread)
        thread.start()

    def start(self) -> RoundRobinProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)
        for thread in self._copy_threads:
            thread.join(timeout=30)

    def __enter__(self) -> RoundRobinProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _forward(base: str, method: str, path: str, headers: dict[str, str], body: bytes
             ) -> tuple[int, list[tuple[str, str]], bytes]:
    parts = urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    try:
        connection.request(method, path, body=body if method == "POST" else None, headers=headers)
        response = connection.getresponse()
        return response.status, response.getheaders(), response.read()
    finally:
        connection.close()
