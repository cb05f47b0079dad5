"""Start and stop the Cloud Tasks emulator (PyPI ``gcloud-tasks-emulator``) for local runs.

``Emulator`` is a context manager that runs the emulator in a subprocess bound to loopback on
a free port and stops it on exit (also on errors and Ctrl-C)::

    with Emulator(queues=["projects/p/locations/us-central1/queues/q"]) as emu:
        ...  # emu.address == "127.0.0.1:PORT"

Why not the emulator's own ``gcloud-tasks-emulator start``: it listens on ``[::]`` (every
interface) whatever host it is given and needs a port chosen in advance. ``python -m
app.emulator`` runs the same server classes (gcloud-tasks-emulator 0.6.2) bound to the given
host, on port 0 if asked, and prints ``READY <port> <certs port>`` once the gRPC server is up.

Two things Cloud Tasks does that the stock emulator does not are added by subclassing its
``QueueState`` (no patching of its module):

* OIDC tokens, always: each attempt of an HTTP task carrying an ``oidc_token`` is sent with
  ``Authorization: Bearer <JWT>`` signed by a local stand-in for Google's signer
  (:mod:`app.oidc_standin`: a key generated per emulator run, ``aud`` the token's audience or
  the task URL, ``email`` its service account, ``iss`` Google's). Its certificates are served
  on loopback for as long as the emulator runs: :attr:`Emulator.certs_url` is what the worker
  takes as ``WORKER_CERTS_URL``. Tasks without an ``oidc_token`` get no such header, as from
  Cloud Tasks; an ``oauth_token`` (the job path) is still ignored.
* ``dedup_task_names`` (optional): a second create with a task name seen before fails with
  ALREADY_EXISTS.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from concurrent import futures
from pathlib import Path
from typing import IO

import grpc

from app.oidc_standin import CERTS_PATH, CertsServer, OidcSigner
from app.processes import ReadProcess

READY_PREFIX = "READY "
AUTHORIZATION = "Authorization"
STARTUP_TIMEOUT_S = 20.0
_REPO_ROOT = Path(__file__).resolve().parent.parent


class EmulatorError(RuntimeError):
    """The emulator did not start (the message carries its last output lines)."""


class Emulator(ReadProcess):
    """A running emulator subprocess; use as a context manager or call start()/stop()."""

    def __init__(
        self,
        queues: Sequence[str] = (),
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        dedup_task_names: bool = False,
        max_retries: int = -1,
        log_level: str = "WARNING",
        startup_timeout: float = STARTUP_TIMEOUT_S,
    ) -> None:
        self.queues = list(queues)
        self.host = host
        self.port = port
        self.dedup_task_names = dedup_task_names
        self.max_retries = max_retries
        self.log_level = log_level
        self.startup_timeout = startup_timeout
        self.certs_port = 0
        self.process: subprocess.Popen[str] | None = None
        self.output: collections.deque[str] = collections.deque(maxlen=200)
        self._reader: threading.Thread | None = None

    @property
    def address(self) -> str:
        """``HOST:PORT`` for ``--emulator`` / ``grpc.insecure_channel``."""
        return f"{self.host}:{self.port}"

    @property
    def certs_url(self) -> str:
        """The OIDC stand-in's certificates (``{kid: PEM}``, as Google's
        https://www.googleapis.com/oauth2/v1/certs): the worker's ``WORKER_CERTS_URL``.
        Served while the emulator runs, gone when it stops."""
        if not self.certs_port:
            raise EmulatorError("the emulator is not running: no certificate URL yet")
        return f"http://{self.host}:{self.certs_port}{CERTS_PATH}"

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "app.emulator", "--host", self.host, "--port", str(self.port),
               "--max-retries", str(self.max_retries), "--log-level", self.log_level]
        for queue in self.queues:
            cmd += ["--queue", queue]
        if self.dedup_task_names:
            cmd.append("--dedup-task-names")
        return cmd

    def start(self) -> Emulator:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_REPO_ROOT), env.get("PYTHONPATH")]))
        self.process = subprocess.Popen(
            self.command(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            env=env,
            cwd=str(_REPO_ROOT),
        )
        try:
            self.port, self.certs_port = self._wait_ready()
            channel = grpc.insecure_channel(self.address)
            try:
                grpc.channel_ready_future(channel).result(timeout=self.startup_timeout)
            finally:
                channel.close()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the subprocess (and with it the gRPC server and the certificate server)."""
        super().stop()
        self.certs_port = 0

    def _wait_ready(self) -> tuple[int, int]:
        assert self.process is not None and self.process.stdout is not None
        found: list[tuple[int, int]] = []
        ready = threading.Event()
        self._reader = threading.Thread(
            target=self._drain,
            args=(self.process.stdout, found, ready),
            name="emulator-output",
            daemon=True,
        )
        self._reader.start()
        deadline = time.monotonic() + self.startup_timeout
        while not ready.wait(0.05):
            if self.process.poll() is not None or time.monotonic() > deadline:
                why = "exited" if self.process.poll() is not None else "did not start in time"
                tail = "\n".join(self.output)
                raise EmulatorError(f"Cloud Tasks emulator {why}: "
                                    f"{' '.join(self.command())}\n{tail}")
        return found[0]

    def _drain(self, stream: IO[str], found: list[tuple[int, int]], ready: threading.Event) -> None:
        """Keep reading the subprocess output so it never blocks on a full pipe."""
        for line in stream:
            line = line.rstrip("\n")
            if not ready.is_set() and line.startswith(READY_PREFIX):
                grpc_port, certs_port = line[len(READY_PREFIX):].split()
                found.append((int(grpc_port), int(certs_port)))
                ready.set()
            else:
                self.output.append(line)


# --- subprocess side: ``python -m app.emulator`` ---

def state_class(*, dedup_task_names: bool) -> type:
    """The emulator's ``QueueState`` with Cloud Tasks' OIDC tokens (always) and task-name dedup
    (if asked), as subclasses: the emulator's own dispatch code runs unchanged."""
    from gcloud_tasks_emulator import server as emu  # imported here: a test/dev-only dependency
    from google.api_core.exceptions import AlreadyExists

    class SigningQueueState(emu.QueueState):
        """Adds ``Authorization: Bearer <token>`` to each attempt of a task with an ``oidc_token``.

        The emulator builds the request from ``task.http_request.headers`` inside
        ``submit_task``, so the header is set on the task for that one call and removed after it
        (the token is never stored with the task, as Cloud Tasks never shows it).
        """

        def __init__(self, *args, signer: OidcSigner, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.signer = signer

        def submit_task(self, task_name: str, force_run: bool = False):  # the emulator's Task
            task = self._find(task_name.rsplit("?", 1)[0])
            oidc = (
                task.http_request.oidc_token if task is not None and task.http_request.url else None
            )
            if oidc is None or not oidc.service_account_email or not self._due(task, force_run):
                return super().submit_task(task_name, force_run)
            headers = task.http_request.headers
            previous = headers.get(AUTHORIZATION)
            # OidcToken.audience: "If not specified, the URI specified in target will be used."
            token = self.signer.token(audience=oidc.audience or task.http_request.url,
                                      email=oidc.service_account_email)
            headers[AUTHORIZATION] = f"Bearer {token}"
            try:
                return super().submit_task(task_name, force_run)
            finally:
                if previous is None:
                    headers.pop(AUTHORIZATION, None)
                else:
                    headers[AUTHORIZATION] = previous

        def _find(self, task_name: str):
            queue = task_name.rsplit("/", 2)[0]
            return next(
                (t for t in list(self._queue_tasks.get(queue, ())) if t.name == task_name), None
            )

        @staticmethod
        def _due(
            task, force_run: bool
        ) -> bool:  # the emulator's own test, so no token is minted for a task it will not send
            now = datetime.datetime.now(datetime.UTC)
            return force_run or not task.schedule_time or task.schedule_time < now

    class DedupQueueState(SigningQueueState):
        """Cloud Tasks' task-name de-duplication, which the emulator lacks (names kept forever)."""

        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self._seen: set[str] = set()
            self._seen_lock = threading.Lock()

        def create_task(self, queue, task):
            if not task.name:
                return super().create_task(queue, task)
            with self._seen_lock:
                if task.name in self._seen:
                    raise AlreadyExists(f"Requested entity already exists: {task.name}")
                created = super().create_task(
                    queue, task
                )  # may fail (no such queue): name stays free
                self._seen.add(task.name)
            return created

    return DedupQueueState if dedup_task_names else SigningQueueState


def serve(
    host: str, port: int, queues: Sequence[str], *, dedup_task_names: bool, max_retries: int
) -> None:
    """Run the emulator's server classes and the OIDC certificate server on ``host`` until
    SIGTERM or SIGINT."""
    from gcloud_tasks_emulator import server as emu
    from google.cloud.tasks_v2 import Queue

    signer = OidcSigner()  # a new key per emulator run
    state = state_class(dedup_task_names=dedup_task_names)(
        emu.DEFAULT_TARGET_HOST, emu.DEFAULT_TARGET_PORT, max_retries, signer=signer)
    for name in queues:
        state.create_queue(name.rsplit("/", 2)[0], Queue(name=name))

    grpc_server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))  # as the stock emulator
    emu.add_CloudTasksServicer_to_server(emu.Greeter(state), grpc_server)
    bound = grpc_server.add_insecure_port(f"{host}:{port}")
    if not bound:
        raise SystemExit(f"cannot listen on {host}:{port}")
    processor = emu.Processor(state)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    with CertsServer(signer, host=host) as certs:
        grpc_server.start()
        processor.start()
        print(f"{READY_PREFIX}{bound} {certs.port}", flush=True)
        try:
            stop.wait()
        finally:
            grpc_server.stop(grace=0)
            processor.join(timeout=2)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m app.emulator", description="Cloud Tasks emulator "
                                                                           "on loopback")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port (printed as READY "
                                                       "<port> <certs port>)")
    p.add_argument("--queue", action="append", default=[], help="projects/P/locations/L/queues/Q "
                                                                "(repeatable)")
    p.add_argument("--dedup-task-names", action="store_true", help="ALREADY_EXISTS on a reused "
                                                                   "task name")
    p.add_argument("--max-retries", type=int, default=-1, help="give up a failing task after N "
                                                               "retries (-1: never)")
    p.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    args = p.parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(name)s %(levelname)s "
                                                     "%(message)s",
                        stream=sys.stdout)
    serve(
        args.host,
        args.port,
        args.queue,
        dedup_task_names=args.dedup_task_names,
        max_retries=args.max_retries,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
