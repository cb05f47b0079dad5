"""Benchmark the worker's ``POST /tasks`` with token verification on, against a baseline.

Run from the repository root with the project's virtualenv::

    .venv/bin/python -m bench.worker            # ~2 min: 10 s per fixed rate, 10 s saturation
    .venv/bin/python -m bench.worker --quick    # ~40 s

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
you can tell how much of the machine it took. The generator, the certificate endpoint and the
token helpers live in ``support/loadgen.py``, shared with ``reliability/load.py``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

from support.loadgen import (
    AUDIENCE,
    INVOKER,
    PROJECT,
    REPO,
    Processes,
    RequestFactory,
    Result,
    cert_hits,
    fixed_rate,
    free_port,
    make_key_material,
    measure,
    saturate,
    sign_token,
    start_cert_server,
    uvicorn_args,
    wait_http,
)

# --------------------------------------------------------------------------- baseline server


def create_baseline_app():  # uvicorn factory
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


# --------------------------------------------------------------------------- orchestration


def run(args: argparse.Namespace) -> int:
    duration = 3.0 if args.quick else args.duration
    saturation = 3.0 if args.quick else args.duration
    rates = [100, 500]
    procs = Processes()
    workdir = Path(tempfile.mkdtemp(prefix="worker-bench-"))
    rows: list[tuple[str, dict[str, Result], int]] = []
    try:
        private_pem, certs_path = make_key_material(workdir)
        token = sign_token(private_pem)
        cert_port, certs_url = start_cert_server(procs, certs_path, workdir / "certs.log")
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
                ("bench.worker:create_baseline_app", "--factory"),
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
                        lambda f=factory, r=rate, p=port: fixed_rate(p, f, r, duration, args.fixed_connections), proc.pid
                    )
                    print(f"  {name:15s} {rate:4d}/s  {_summary(results[f'{rate}/s'])}", flush=True)
                factory = RequestFactory(port, token, f"{name}-sat")
                results["sat"] = measure(
                    lambda f=factory, p=port: saturate(p, f, saturation, args.connections, warmup=1.0), proc.pid
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
