"""Shared pieces of the worker load generators: ``bench/worker.py`` and ``reliability/load.py``
(also the key material and certificate endpoint of ``reliability/worker_matrix.py`` and
``reliability/token_fuzz.py``).

* key material and Google-shaped ID tokens signed by an RSA key made for the run;
* a certificate endpoint (run as its own process: ``python -m support.loadgen _serve-certs
  PORT FILE``) serving ``{kid: PEM}`` with ``Cache-Control: max-age=3600`` and counting hits;
* process bookkeeping (every child is stopped, also on Ctrl-C / SIGTERM);
* the load generator: asyncio raw HTTP/1.1 keep-alive connections, unique task names, Cloud
  Tasks headers; open loop at a fixed rate (latency from each request's *scheduled* time) or
  closed loop (saturation).

Standard library only at import time (``cryptography`` / ``google.auth`` are imported when keys
or tokens are made), so a uvicorn process that imports the bench's baseline app stays light.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

from app.processes import free_port, stop_process
from support.tokens import google_claims, make_key

REPO = Path(__file__).resolve().parent.parent
AUDIENCE = "https://worker-bench-abc123-uc.a.run.app"
INVOKER = "tasks-invoker@bench-project.iam.gserviceaccount.com"
PROJECT = "bench-project"
KID = "bench-key-1"
BODY = b'{"kind":"echo","data":{"message":"hello from the bench","n":1}}'

T = TypeVar("T")


# --------------------------------------------------------------------------- key material


def make_key_material(directory: Path) -> tuple[str, Path]:
    """Create two RSA keys and their self-signed certificates (Google's endpoint lists two or
    more); return the signing key's private PEM and the path of the ``{kid: PEM}`` document."""
    key, other = make_key("bench"), make_key("bench")
    certs = directory / "certs.json"
    certs.write_text(json.dumps({"bench-key-0": other.cert_pem, KID: key.cert_pem}))
    return key.private_pem, certs


def sign_tokens(private_pem: str, count: int = 1, *, audience: str = AUDIENCE, invoker: str = INVOKER) -> list[str]:
    """``count`` distinct Google-shaped ID tokens for the invoker. Token ``i`` was minted ``i``
    seconds ago (and expires an hour after that), as tokens of one account minted over time are."""
    from google.auth import crypt, jwt

    now = int(time.time())
    signer = crypt.RSASigner.from_string(private_pem, key_id=KID)
    return [
        jwt.encode(signer, google_claims(audience, invoker, iat=now - i, exp=now - i + 3600)).decode()
        for i in range(count)
    ]


def sign_token(private_pem: str) -> str:
    """One token (the bench's "Cloud Tasks reuses its token" case)."""
    return sign_tokens(private_pem, 1)[0]


# --------------------------------------------------------------------------- helper servers


def serve_certs(port: int, path: str) -> None:
    """Certificate endpoint (child process): GET /certs, GET /hits."""
    document = Path(path).read_bytes()
    hits = 0
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # http.server API
            nonlocal hits
            if self.path == "/hits":
                body = str(hits).encode()
            else:
                with lock:
                    hits += 1
                body = document
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Cache-Control", "public, max-age=3600, must-revalidate, no-transform")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.request_queue_size = 1024
    server.serve_forever()


def wait_http(port: int, path: str, proc: subprocess.Popen, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server on port {port} did not answer {path} within {timeout} s")


def cert_hits(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/hits", timeout=5) as response:
        return int(response.read())


def cpu_seconds(pid: int) -> float:
    """User+system CPU of a process from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Processes:
    """Every child a run starts; ``stop_all`` terminates them (then kills stragglers)."""

    def __init__(self) -> None:
        self.children: list[subprocess.Popen] = []

    def start(self, args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
        with open(log, "ab") as out:
            proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
        self.children.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen) -> None:
        stop_process(proc, timeout=10)
        if proc in self.children:
            self.children.remove(proc)

    def stop_all(self) -> None:
        for proc in list(self.children):
            self.stop(proc)


def start_cert_server(procs: Processes, certs_path: Path, log: Path) -> tuple[int, str]:
    """Start the certificate endpoint as a child of ``procs``; its port and certificate URL."""
    port = free_port()
    args = [sys.executable, "-m", "support.loadgen", "_serve-certs", str(port), str(certs_path)]
    proc = procs.start(args, dict(os.environ), log)
    wait_http(port, "/hits", proc)
    return port, f"http://127.0.0.1:{port}/certs"


def uvicorn_args(target: str, port: int, *extra: str) -> list[str]:
    """A single-process uvicorn on 127.0.0.1 with uvloop + httptools, as the image runs it."""
    return [
        sys.executable, "-m", "uvicorn", target, "--host", "127.0.0.1", "--port", str(port),
        "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning", *extra,
    ]  # fmt: skip


# --------------------------------------------------------------------------- load generator

_CONTENT_LENGTH = re.compile(rb"content-length:\s*(\d+)", re.IGNORECASE)


class Connection:
    """One keep-alive HTTP/1.1 connection speaking just enough of the protocol."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def send(self, request: bytes) -> int:
        """Send one request; the status code, or 0 if the connection failed."""
        try:
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
            assert self.reader is not None
            self.writer.write(request)
            head = await self.reader.readuntil(b"\r\n\r\n")
            match = _CONTENT_LENGTH.search(head)
            if match:
                await self.reader.readexactly(int(match.group(1)))
            else:  # this client only speaks Content-Length framing (what uvicorn sends here)
                raise ValueError("response without Content-Length")
            if b"connection: close" in head.lower():
                self.close()
            return int(head[9:12])
        except (OSError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            self.close()
            return 0

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


class RequestFactory:
    """Pre-built request bytes; only the task name changes per request, and the token when
    several are given (used round-robin)."""

    def __init__(self, port: int, token: str | Sequence[str], run: str, body: bytes = BODY) -> None:
        tokens = [token] if isinstance(token, str) else list(token)
        if not tokens:
            raise ValueError("at least one token is needed")
        self.heads = [
            (
                f"POST /tasks HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: Google-Cloud-Tasks\r\n"
                f"Authorization: Bearer {each}\r\nContent-Type: application/json\r\n"
                "X-CloudTasks-QueueName: bench-queue\r\nX-CloudTasks-TaskRetryCount: 0\r\n"
                "X-CloudTasks-TaskExecutionCount: 0\r\nX-CloudTasks-TaskETA: 1767225600.123456\r\n"
                "X-Cloud-Trace-Context: 105445aa7843bc8bf206b12000100000/1;o=1\r\n"
                f"Content-Length: {len(body)}\r\nX-CloudTasks-TaskName: {run}-"
            ).encode()
            for each in tokens
        ]
        self.tail = b"\r\n\r\n" + body
        self.count = 0

    def next(self) -> bytes:
        head = self.heads[self.count % len(self.heads)]
        self.count += 1
        return head + str(self.count).encode() + self.tail


@dataclass
class Result:
    sent: int = 0
    ok: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    elapsed: float = 0.0
    client_cpu: float = 0.0
    server_cpu: float = 0.0
    statuses: dict[int, int] = field(default_factory=dict)
    """Count per answer status for the requests that were not 2xx (0: connection failed / no answer)."""

    def pct(self, q: float) -> float:
        """Latency percentile of the 2xx answers, in milliseconds."""
        if not self.latencies:
            return float("nan")
        data = sorted(self.latencies)
        return data[min(len(data) - 1, int(q * len(data)))] * 1000

    @property
    def max_ms(self) -> float:
        return max(self.latencies) * 1000 if self.latencies else float("nan")

    @property
    def throughput(self) -> float:
        return self.ok / self.elapsed if self.elapsed else 0.0

    def _failed(self, status: int) -> None:
        self.errors += 1
        self.statuses[status] = self.statuses.get(status, 0) + 1


async def fixed_rate(port: int, factory: RequestFactory, rate: float, duration: float, connections: int) -> Result:
    """Open loop: schedule ``rate`` requests/s; latency counts from the scheduled time."""
    queue: asyncio.Queue[float | None] = asyncio.Queue()
    result = Result()

    async def worker() -> None:
        conn = Connection(port)
        while True:
            scheduled = await queue.get()
            if scheduled is None:
                break
            status = await conn.send(factory.next())
            done = time.perf_counter()
            if 200 <= status < 300:
                result.ok += 1
                result.latencies.append(done - scheduled)
            else:
                result._failed(status)
        conn.close()

    workers = [asyncio.create_task(worker()) for _ in range(connections)]
    total = int(rate * duration)
    clock = time.perf_counter
    start = clock()
    sent = 0
    while sent < total:
        due = min(total, int((clock() - start) * rate) + 1)
        while sent < due:
            queue.put_nowait(start + sent / rate)
            sent += 1
        await asyncio.sleep(max(0.0, start + sent / rate - clock()))
    for _ in workers:
        queue.put_nowait(None)
    try:
        await asyncio.wait_for(asyncio.gather(*workers), timeout=duration + 30)
    except TimeoutError:
        for task in workers:
            task.cancel()
    result.sent = total
    unanswered = total - result.ok - result.errors
    if unanswered:
        result.errors += unanswered
        result.statuses[0] = result.statuses.get(0, 0) + unanswered
    result.elapsed = clock() - start
    return result


async def saturate(port: int, factory: RequestFactory, duration: float, connections: int, warmup: float) -> Result:
    """Closed loop: ``connections`` connections each send the next request as soon as one returns."""
    result = Result()
    measuring = False
    stop = False

    async def worker() -> None:
        conn = Connection(port)
        while not stop:
            begun = time.perf_counter()
            status = await conn.send(factory.next())
            if measuring:
                result.sent += 1
                if 200 <= status < 300:
                    result.ok += 1
                    result.latencies.append(time.perf_counter() - begun)
                else:
                    result._failed(status)
        conn.close()

    workers = [asyncio.create_task(worker()) for _ in range(connections)]
    await asyncio.sleep(warmup)
    measuring = True
    start = time.perf_counter()
    await asyncio.sleep(duration)
    measuring = False
    result.elapsed = time.perf_counter() - start
    stop = True
    await asyncio.gather(*workers)
    return result


async def interruptible(coro_factory: Callable[[], Awaitable[T]]) -> T:
    """Run a phase; Ctrl-C or SIGTERM cancels it and surfaces as KeyboardInterrupt, so the
    caller's ``finally`` stops the servers (a plain signal handler would fire inside the event
    loop, where the exception does not reach us). Off the main thread, signals stay as they are."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    received: list[int] = []

    def interrupt(signum: int) -> None:
        received.append(signum)
        task.cancel()

    installed = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, interrupt, signum)
            installed.append(signum)
        except (RuntimeError, ValueError):  # not the main thread
            pass
    try:
        return await coro_factory()
    except asyncio.CancelledError:
        if received:
            raise KeyboardInterrupt from None
        raise
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)


def run_async(coro_factory: Callable[[], Awaitable[T]]) -> T:
    """Run a load phase on a fresh uvloop loop (asyncio's own if uvloop is missing), without
    touching the process-wide event loop policy."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - the venv has it
        factory = None
    else:
        factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(interruptible(coro_factory))


def measure(coro_factory: Callable[[], Awaitable[Result]], server_pid: int) -> Result:
    """Run one load phase, recording client and server CPU."""
    cpu_client = time.process_time()
    cpu_server = cpu_seconds(server_pid)
    result = run_async(coro_factory)
    result.client_cpu = time.process_time() - cpu_client
    result.server_cpu = cpu_seconds(server_pid) - cpu_server
    return result


if __name__ == "__main__":
    if sys.argv[1:2] == ["_serve-certs"]:
        serve_certs(int(sys.argv[2]), sys.argv[3])
    else:
        sys.exit("usage: python -m support.loadgen _serve-certs PORT CERTS_JSON")
