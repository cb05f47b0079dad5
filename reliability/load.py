"""The worker under sustained load: 500 tasks/s for 60 s, token verification ON.

    .venv/bin/python -m reliability.load                      # 500/s for 60 s
    .venv/bin/python -m reliability.load --quick              # 500/s for 10 s
    .venv/bin/python -m reliability.load --rate 300 --duration 30 --json

What runs, all on 127.0.0.1 and all stopped at the end (also on errors, Ctrl-C and SIGTERM):

* a certificate endpoint (own process, ``Cache-Control: max-age=3600``, counts fetches);
* one worker as the image runs it: ``uvicorn app.worker.main:app``, one process, uvloop +
  httptools, settings at their defaults (``WORKER_LOG_LEVEL=INFO``: one JSON log line per
  task, written to a file), verification on;
* the load generator in this process (``support/loadgen.py``, shared with ``bench/worker.py``):
  open loop, ``rate`` requests a second on a schedule fixed in advance, keep-alive connections,
  a unique ``X-CloudTasks-TaskName`` per request and the usual Cloud Tasks headers. Latency is
  measured from each request's *scheduled* send time, so if the worker falls behind, the
  queueing shows in the figures.

**Tokens.** Every request carries a distinct-looking genuine token from a pool of
``2 x WORKER_TOKEN_CACHE_SIZE`` tokens (2048 with the default cache of 1024), each signed
separately and used round-robin. The worker's verified-token cache is first in first out, so a
cyclic sequence of more distinct tokens than it holds never hits it: every request pays a full
RS256 signature check *and* the cache insertion and eviction. That is more demanding than the
alternative (the cache turned off, ``WORKER_TOKEN_CACHE_SIZE=0``, which skips the cache
bookkeeping), and the worker runs with its shipped settings.

An error is any answer outside 2xx, a connection failure, or a request still unanswered 30 s
after the schedule ended. The generator shares the two cores with the worker; its CPU per
request is reported too.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from support import loadgen

DEFAULT_RATE = 500.0
DEFAULT_DURATION = 60.0
QUICK_DURATION = 10.0
DEFAULT_CACHE_SIZE = 1024
"""The worker's default ``WORKER_TOKEN_CACHE_SIZE`` (app/worker/settings.py)."""
BODY = b'{"kind":"send_email","data":{"to":["ada@example.com"],"subject":"Welcome","body":"Hello from the load run"}}'
"""A realistic task: a payload the ``send_email`` model validates, a handler that does work."""


@dataclass
class LoadResult:
    """What one run measured. Latencies in milliseconds, from each request's scheduled time."""

    rate: float
    """Requested rate (tasks/s)."""
    duration: float
    """Length of the sending schedule (s)."""
    sent: int = 0
    ok: int = 0
    """2xx answers."""
    errors: int = 0
    """Non-2xx answers, connection failures and requests left unanswered."""
    error_statuses: dict[int, int] = field(default_factory=dict)
    """Errors by status (0: connection failed or no answer)."""
    achieved_rate: float = 0.0
    """2xx answers per second, from the first scheduled send to the last answer."""
    p50_ms: float = float("nan")
    p99_ms: float = float("nan")
    max_ms: float = float("nan")
    elapsed: float = 0.0
    token_pool: int = 0
    """Distinct tokens used round-robin."""
    token_cache_size: int = DEFAULT_CACHE_SIZE
    """The worker's verified-token cache size in this run."""
    server_cpu_us_per_task: float = float("nan")
    generator_cpu_us_per_request: float = float("nan")
    cert_fetches: int = 0
    """Fetches of the certificate endpoint during the run (start-up warm-up included)."""
    connections: int = 64
    host_load: tuple[float, float] = (float("nan"), float("nan"))
    """The host's 1-minute load average before and after the run (other jobs share the cores)."""

    @property
    def every_request_verified(self) -> bool:
        """Whether no request could have hit the verified-token cache (see the module docstring)."""
        return self.token_cache_size == 0 or self.token_pool > self.token_cache_size

    @property
    def kept_up(self) -> bool:
        """No errors, and the answers kept pace with the schedule (within 3 %)."""
        return self.errors == 0 and self.ok == self.sent and self.achieved_rate >= 0.97 * self.rate

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["every_request_verified"] = self.every_request_verified
        data["kept_up"] = self.kept_up
        return data

    def summary(self) -> str:
        errors = f"{self.errors}" + (f" {self.error_statuses}" if self.error_statuses else "")
        return (
            f"{self.rate:.0f}/s for {self.duration:.0f} s: sent {self.sent}, ok {self.ok}, errors {errors}, "
            f"achieved {self.achieved_rate:.1f}/s; latency p50 {self.p50_ms:.2f} ms, p99 {self.p99_ms:.2f} ms, "
            f"max {self.max_ms:.2f} ms; server CPU {self.server_cpu_us_per_task:.0f} us/task, generator "
            f"{self.generator_cpu_us_per_request:.0f} us/request; {self.token_pool} distinct tokens over a "
            f"{self.token_cache_size}-entry cache ("
            + ("every request RSA-verified" if self.every_request_verified else "cache can hit")
            + f"); certificate fetches {self.cert_fetches}; host load average {self.host_load[0]:.2f} before, "
            f"{self.host_load[1]:.2f} after"
        )


def run_load(
    rate: float = DEFAULT_RATE,
    duration: float = DEFAULT_DURATION,
    *,
    token_pool: int | None = None,
    token_cache_size: int | None = None,
    connections: int = 64,
    log_level: str = "INFO",
    log_dir: Path | None = None,
) -> LoadResult:
    """Hold a live worker (verification on) at ``rate`` tasks/s for ``duration`` s, open loop.

    ``token_pool`` distinct tokens (default: twice the cache size, so no request hits the
    verified-token cache); ``token_cache_size`` sets ``WORKER_TOKEN_CACHE_SIZE`` (default: the
    worker's own default, 1024). ``log_dir`` keeps the worker's log (default: a temporary
    directory, removed).
    """
    if rate <= 0 or duration <= 0:
        raise ValueError(f"rate and duration must be positive, got rate={rate!r}, duration={duration!r}")
    cache = DEFAULT_CACHE_SIZE if token_cache_size is None else token_cache_size
    pool = token_pool if token_pool is not None else (2 * cache if cache else 64)
    if pool < 1:
        raise ValueError(f"token_pool must be at least 1, got {pool}")
    own_dir = log_dir is None
    workdir = Path(tempfile.mkdtemp(prefix="worker-load-")) if log_dir is None else Path(log_dir)
    workdir.mkdir(parents=True, exist_ok=True)
    procs = loadgen.Processes()
    try:
        private_pem, certs_path = loadgen.make_key_material(workdir)
        tokens = loadgen.sign_tokens(private_pem, pool)
        cert_port, certs_url = loadgen.start_cert_server(procs, certs_path, workdir / "certs.log")
        port = loadgen.free_port()
        env = {key: value for key, value in os.environ.items() if not key.startswith("WORKER_")}
        env.update(
            PYTHONPATH=str(loadgen.REPO),
            PYTHONUNBUFFERED="1",
            WORKER_AUDIENCE=loadgen.AUDIENCE,
            WORKER_INVOKER_EMAIL=loadgen.INVOKER,
            WORKER_CERTS_URL=certs_url,
            WORKER_PROJECT_ID=loadgen.PROJECT,
            WORKER_LOG_LEVEL=log_level,
        )
        if token_cache_size is not None:
            env["WORKER_TOKEN_CACHE_SIZE"] = str(token_cache_size)
        worker = procs.start(loadgen.uvicorn_args("app.worker.main:app", port), env, workdir / "worker.log")
        loadgen.wait_http(port, "/healthz", worker)
        factory = loadgen.RequestFactory(port, tokens, f"load-{int(time.time())}", body=BODY)
        load_before = os.getloadavg()[0]
        measured = loadgen.measure(
            lambda: loadgen.fixed_rate(port, factory, rate, duration, connections), worker.pid
        )
        fetches = loadgen.cert_hits(cert_port)
        if worker.poll() is not None:
            raise RuntimeError(f"the worker exited during the run ({worker.returncode}); log in {workdir}")
    finally:
        procs.stop_all()
        if own_dir:
            shutil.rmtree(workdir, ignore_errors=True)
    answered = max(1, measured.ok + measured.errors)
    return LoadResult(
        rate=rate,
        duration=duration,
        sent=measured.sent,
        ok=measured.ok,
        errors=measured.errors,
        error_statuses=dict(sorted(measured.statuses.items())),
        achieved_rate=measured.throughput,
        p50_ms=measured.pct(0.5),
        p99_ms=measured.pct(0.99),
        max_ms=measured.max_ms,
        elapsed=measured.elapsed,
        token_pool=pool,
        token_cache_size=cache,
        server_cpu_us_per_task=measured.server_cpu / answered * 1e6,
        generator_cpu_us_per_request=measured.client_cpu / answered * 1e6,
        cert_fetches=fetches,
        connections=connections,
        host_load=(load_before, os.getloadavg()[0]),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Hold the worker at a fixed task rate with verification on.")
    parser.add_argument("--rate", type=float, default=DEFAULT_RATE, help="tasks per second (default 500)")
    parser.add_argument("--duration", type=float, default=DEFAULT_DURATION, help="seconds (default 60)")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_DURATION:.0f} s instead of --duration")
    parser.add_argument("--token-pool", type=int, help="distinct tokens (default: 2 x the token cache size)")
    parser.add_argument("--connections", type=int, default=64, help="keep-alive connections (default 64)")
    parser.add_argument("--log-dir", type=Path, help="keep the worker's log here")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    # Outside the load phase too, SIGTERM and Ctrl-C raise KeyboardInterrupt, so the finally
    # block in run_load stops what it started.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    duration = QUICK_DURATION if args.quick else args.duration
    try:
        result = run_load(
            args.rate, duration, token_pool=args.token_pool, connections=args.connections, log_dir=args.log_dir
        )
    except KeyboardInterrupt:
        print("interrupted: the worker and certificate endpoint have been stopped", file=sys.stderr)
        return 130
    print(json.dumps(result.to_dict(), indent=2) if args.json else result.summary())
    return 0 if result.kept_up else 1


if __name__ == "__main__":
    sys.exit(main())
