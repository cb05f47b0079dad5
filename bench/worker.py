"""Benchmark the worker's ``POST /tasks`` with token verification on, against a baseline.

Run from the repository root with the project's virtualenv::

    .venv/bin/python bench/worker.py            # ~2 min: 10 s per fixed rate, 10 s saturation
    .venv/bin/python bench/worker.py --quick    # ~40 s

What runs, all on 127.0.0.1 and all stopped on exit (also on Ctrl-C):

* a certificate endpoint (own process) serving the X.509 certificate of an RSA key made for
  this run, with ``Cache-Control: max-age=3600``, counting hits;
* the servers under test, one at a time, each ``uvicorn`` with uvloop + httptools, one process:
  - ``worker``: ``app.worker.main:app`` as shipped (token cache on; the same token on every
    request, as when Cloud Tasks reuses a token);
  - ``worker-nocache``: the same with ``WORKER_TOKEN_CACHE_SIZE=0``: one RSA signature check per
    request (as if every task carried a fresh token);
  - ``baseline``: a FastAPI endpoint written the way Google's samples verify tokens:
    ``id_token.verify_token(token, requests.Request(), audience, certs_url=...)`` on every
    request (certificates fetched and parsed per call, no cache), then the same issuer/email checks;
* the load generator in this process: asyncio (uvloop) raw HTTP/1.1 keep-alive connections,
  unique task names, Cloud Tasks headers. Fixed-rate runs are open loop: latency is measured
  from each request's scheduled send time, so a server that falls behind shows its queueing.
  Saturation is closed loop with ``--connections`` connections.

The generator shares the two cores with the server; its own CPU cost per request is printed so
you can tell how much of the machine it took.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
AUDIENCE = "https://worker-bench-abc123-uc.a.run.app"
INVOKER = "tasks-invoker@bench-project.iam.gserviceaccount.com"
PROJECT = "bench-project"
KID = "bench-key-1"
BODY = b'{"kind":"echo","data":{"message":"hello from the bench","n":1}}'


# --------------------------------------------------------------------------- key material


def make_key_material(directory: Path) -> tuple[str, Path]:
    """Create two RSA keys and their self-signed certificates (Google's endpoint lists two or
    more); return the signing key's private PEM and the path of the ``{kid: PEM}`` document."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    def self_signed(key: rsa.RSAPrivateKey) -> str:
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench")])
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .sign(key, hashes.SHA256())
        )
        return cert.public_bytes(serialization.Encoding.PEM).decode()

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    certs = directory / "certs.json"
    certs.write_text(json.dumps({"bench-key-0": self_signed(other), KID: self_signed(key)}))
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return private_pem, certs


def sign_token(private_pem: str) -> str:
    from google.auth import crypt, jwt

    now = int(time.time())
    signer = crypt.RSASigner.from_string(private_pem, key_id=KID)
    claims = {
        "iss": "https://accounts.google.com",
        "aud": AUDIENCE,
        "email": INVOKER,
        "email_verified": True,
        "sub": "104729104729104729104",
        "azp": "104729104729104729104",
        "iat": now,
        "exp": now + 3600,
    }
    return jwt.encode(signer, claims).decode()


# --------------------------------------------------------------------------- helper servers


def serve_certs(port: int, path: str) -> None:
    """Certificate endpoint (child process): GET /certs, GET /hits."""
    document = Path(path).read_bytes()
    hits = 0
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 - http.server API
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


def create_baseline_app():  # noqa: ANN201 - uvicorn factory
    """The baseline: verify the token per request the way Google's samples do (no cert cache)."""
    from fastapi import FastAPI, Header, HTTPException
    from google.auth.transport import requests as google_requests
    from google.oauth2 import id_token

    audience = os.environ["BASELINE_AUDIENCE"]
    invoker = os.environ["BASELINE_INVOKER_EMAIL"]
    certs_url = os.environ["BASELINE_CERTS_URL"]
    app = FastAPI()

    @app.post("/tasks")
    def tasks(task: dict[str, Any], authorization: str | None = Header(None)) -> dict[str, Any]:
        if not authorization or not authorization.startswith("Bearer "):
            raise HTTPException(401, "missing token")
        try:
            # verify_oauth2_token(token, requests.Request(), audience) with the certs URL made local:
            claims = id_token.verify_token(
                authorization[7:], google_requests.Request(), audience=audience, certs_url=certs_url
            )
        except Exception as exc:  # noqa: BLE001
            raise HTTPException(401, str(exc)) from None
        if claims.get("iss") not in ("accounts.google.com", "https://accounts.google.com"):
            raise HTTPException(401, "wrong issuer")
        if claims.get("email") != invoker or not claims.get("email_verified"):
            raise HTTPException(403, "wrong account")
        return {"status": "done", "kind": task.get("kind"), "result": task.get("data")}

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
    """Every child this bench starts; ``stop_all`` terminates them (then kills stragglers)."""

    def __init__(self) -> None:
        self.children: list[subprocess.Popen] = []

    def start(self, args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
        with open(log, "ab") as out:
            proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
        self.children.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen) -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc in self.children:
            self.children.remove(proc)

    def stop_all(self) -> None:
        for proc in list(self.children):
            self.stop(proc)


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
    """Pre-built request bytes; only the task name changes per request."""

    def __init__(self, port: int, token: str, run: str) -> None:
        head = (
            f"POST /tasks HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: Google-Cloud-Tasks\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
            "X-CloudTasks-QueueName: bench-queue\r\nX-CloudTasks-TaskRetryCount: 0\r\n"
            "X-CloudTasks-TaskExecutionCount: 0\r\nX-CloudTasks-TaskETA: 1767225600.123456\r\n"
            "X-Cloud-Trace-Context: 105445aa7843bc8bf206b12000100000/1;o=1\r\n"
            f"Content-Length: {len(BODY)}\r\nX-CloudTasks-TaskName: {run}-"
        )
        self.head = head.encode()
        self.tail = b"\r\n\r\n" + BODY
        self.count = 0

    def next(self) -> bytes:
        self.count += 1
        return self.head + str(self.count).encode() + self.tail


@dataclass
class Result:
    sent: int = 0
    ok: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    elapsed: float = 0.0
    client_cpu: float = 0.0
    server_cpu: float = 0.0

    def pct(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        data = sorted(self.latencies)
        return data[min(len(data) - 1, int(q * len(data)))] * 1000

    @property
    def throughput(self) -> float:
        return self.ok / self.elapsed if self.elapsed else 0.0


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
                result.errors += 1
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
    except asyncio.TimeoutError:
        for task in workers:
            task.cancel()
    result.sent = total
    result.errors += total - result.ok - result.errors
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
                    result.errors += 1
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


async def _interruptible(coro_factory):  # noqa: ANN001, ANN202
    """Run a phase; Ctrl-C or SIGTERM cancels it and surfaces as KeyboardInterrupt, so the
    caller's ``finally`` stops the servers (a plain signal handler would fire inside the event
    loop, where the exception does not reach us)."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    received: list[int] = []

    def interrupt(signum: int) -> None:
        received.append(signum)
        task.cancel()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, interrupt, signum)
    try:
        return await coro_factory()
    except asyncio.CancelledError:
        if received:
            raise KeyboardInterrupt from None
        raise
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


def measure(coro_factory, server_pid: int) -> Result:  # noqa: ANN001
    """Run one load phase, recording client and server CPU."""
    cpu_client = time.process_time()
    cpu_server = cpu_seconds(server_pid)
    result = asyncio.run(_interruptible(coro_factory))
    result.client_cpu = time.process_time() - cpu_client
    result.server_cpu = cpu_seconds(server_pid) - cpu_server
    return result


# --------------------------------------------------------------------------- orchestration


def uvicorn_args(target: str, port: int, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "uvicorn", target, "--host", "127.0.0.1", "--port", str(port),
        "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning", *extra,
    ]  # fmt: skip


def run(args: argparse.Namespace) -> int:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - the venv has it
        uvloop = None
    if uvloop is not None:
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())

    duration = 3.0 if args.quick else args.duration
    saturation = 3.0 if args.quick else args.duration
    rates = [100, 500]
    procs = Processes()
    workdir = Path(tempfile.mkdtemp(prefix="worker-bench-"))
    rows: list[tuple[str, dict[str, Result], int]] = []
    try:
        private_pem, certs_path = make_key_material(workdir)
        token = sign_token(private_pem)
        cert_port = free_port()
        cert_proc = procs.start(
            [sys.executable, __file__, "_serve-certs", str(cert_port), str(certs_path)], dict(os.environ), workdir / "certs.log"
        )
        wait_http(cert_port, "/hits", cert_proc)
        certs_url = f"http://127.0.0.1:{cert_port}/certs"
        base_env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")
        worker_env = dict(
            base_env,
            WORKER_AUDIENCE=AUDIENCE,
            WORKER_INVOKER_EMAIL=INVOKER,
            WORKER_CERTS_URL=certs_url,
            WORKER_PROJECT_ID=PROJECT,
            WORKER_LOG_LEVEL=args.log_level,
        )
        servers = {
            "worker": (("app.worker.main:app",), worker_env),
            "worker-nocache": (("app.worker.main:app",), dict(worker_env, WORKER_TOKEN_CACHE_SIZE="0")),
            "baseline": (
                ("worker:create_baseline_app", "--factory", "--app-dir", str(REPO / "bench")),
                dict(base_env, BASELINE_AUDIENCE=AUDIENCE, BASELINE_INVOKER_EMAIL=INVOKER, BASELINE_CERTS_URL=certs_url),
            ),
        }
        selected = [name for name in servers if name in args.servers]
        kept = "kept" if args.keep else "removed at exit; --keep keeps them"
        print(f"# {os.cpu_count()} CPUs; Python {sys.version.split()[0]}; server logs in {workdir} ({kept})")
        print(f"# fixed rates {rates}/s for {duration:.0f} s each ({args.fixed_connections} connections, open loop); "
              f"saturation {saturation:.0f} s with {args.connections} connections (closed loop)")
        for name in selected:
            target, env = servers[name]
            port = free_port()
            hits_before = cert_hits(cert_port)
            proc = procs.start(uvicorn_args(target[0], port, *target[1:]), env, workdir / f"{name}.log")
            try:
                wait_http(port, "/healthz", proc)
                results: dict[str, Result] = {}
                for rate in rates:
                    factory = RequestFactory(port, token, f"{name}-r{rate}")
                    results[f"{rate}/s"] = measure(
                        lambda f=factory, r=rate: fixed_rate(port, f, r, duration, args.fixed_connections), proc.pid
                    )
                    print(f"  {name:15s} {rate:4d}/s  {_summary(results[f'{rate}/s'])}", flush=True)
                factory = RequestFactory(port, token, f"{name}-sat")
                results["sat"] = measure(
                    lambda f=factory: saturate(port, f, saturation, args.connections, warmup=1.0), proc.pid
                )
                print(f"  {name:15s} saturate {_summary(results['sat'])}", flush=True)
                rows.append((name, results, cert_hits(cert_port) - hits_before))
            finally:
                procs.stop(proc)
        _print_table(rows)
        return 0
    finally:
        procs.stop_all()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


def _summary(result: Result) -> str:
    return (
        f"ok={result.ok} err={result.errors} {result.throughput:7.0f} req/s  p50={result.pct(0.5):7.2f} ms  "
        f"p99={result.pct(0.99):8.2f} ms  server CPU {_per_req(result.server_cpu, result)}  "
        f"generator CPU {_per_req(result.client_cpu, result)}"
    )


def _per_req(cpu: float, result: Result) -> str:
    done = result.ok + result.errors
    return f"{cpu / done * 1e6:6.0f} us/req" if done else "   n/a"


def _kept_up(result: Result, rate: int) -> bool:
    return result.throughput >= 0.97 * rate and result.errors == 0


def _fixed_cell(result: Result, rate: int) -> str:
    cell = f"{result.pct(0.5):.2f} / {result.pct(0.99):.2f}"
    return cell if _kept_up(result, rate) else f"{cell} (only {result.throughput:.0f}/s served)"


def _cpu(result: Result) -> float:
    return result.server_cpu / max(1, result.ok + result.errors)


def _print_table(rows: list[tuple[str, dict[str, Result], int]]) -> None:
    print()
    print("| server | 100/s p50 / p99 ms | 500/s p50 / p99 ms | errors | saturation req/s | sat p99 ms "
          "| server CPU us/task (sat) | generator CPU us/req (sat) | cert fetches |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, res, fetches in rows:
        errors = sum(r.errors for r in res.values())
        sat = res["sat"]
        print(
            f"| {name} | {_fixed_cell(res['100/s'], 100)} | {_fixed_cell(res['500/s'], 500)} | {errors} "
            f"| {sat.throughput:.0f} | {sat.pct(0.99):.2f} | {_per_req(sat.server_cpu, sat).split()[0]} "
            f"| {_per_req(sat.client_cpu, sat).split()[0]} | {fetches} |"
        )
    by_name = {name: res for name, res, _ in rows}
    if "baseline" in by_name:
        base = by_name["baseline"]
        for name in ("worker", "worker-nocache"):
            if name in by_name:
                mine = by_name[name]
                behind = "" if _kept_up(base["500/s"], 500) else (
                    f" (the baseline fell behind at 500/s: {base['500/s'].throughput:.0f}/s served, so its"
                    " queue and p99 grow with the run length)"
                )
                print(
                    f"{name} vs baseline: saturation throughput x{mine['sat'].throughput / base['sat'].throughput:.1f}; "
                    f"CPU per task x{_cpu(base['sat']) / _cpu(mine['sat']):.1f} lower; "
                    f"p99 at 500/s x{base['500/s'].pct(0.99) / mine['500/s'].pct(0.99):.0f} lower{behind}"
                )
    sats = [res["sat"] for _, res, _ in rows]
    if sats:
        worst = max(r.client_cpu / max(1, r.ok + r.errors) for r in sats)
        print(f"generator limit: about {1 / worst:.0f} req/s per core at its measured cost ({worst * 1e6:.0f} us/req)")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "_serve-certs":
        serve_certs(int(argv[1]), argv[2])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 s per phase instead of --duration")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per phase (default 10)")
    parser.add_argument("--connections", type=int, default=32, help="connections for saturation (default 32)")
    parser.add_argument("--fixed-connections", type=int, default=64, help="connection pool for fixed rates")
    parser.add_argument("--servers", nargs="+", default=["worker", "worker-nocache", "baseline"],
                        choices=["worker", "worker-nocache", "baseline"])
    parser.add_argument("--log-level", default="INFO", help="worker WORKER_LOG_LEVEL (INFO = a line per task)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (server logs, keys)")
    args = parser.parse_args(argv)
    # Outside the load phases, SIGTERM and Ctrl-C (even if the shell started us with SIGINT
    # ignored) raise KeyboardInterrupt, so every finally block stops what it started.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return run(args)
    except KeyboardInterrupt:
        print("interrupted: every server this bench started has been stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
