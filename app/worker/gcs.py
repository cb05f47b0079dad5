"""One Cloud Storage client for the worker's stores, and the thread pool its calls run on.

google-cloud-storage is a blocking (``requests``) client. Its calls run on a bounded pool of
``WORKER_STORAGE_THREADS`` threads, never on the event loop, with that many pooled HTTP
connections, each request bounded by ``WORKER_STORAGE_TIMEOUT_SECONDS`` and retried by the
library's retry policy for at most three timeouts. Every write the stores make carries a
generation precondition, so a retried write is safe: a retry of a write that had already
succeeded answers 412 and the stores read back what they wrote (see gcs_store.py).

``STORAGE_EMULATOR_HOST`` (``http://127.0.0.1:PORT``) points the client at a local emulator
with anonymous credentials (google-cloud-storage 3.17 ``Client.__init__``); otherwise it uses
Application Default Credentials (the Cloud Run service's runtime account).
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import functools
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class StorageRunner:
    """The client, its buckets and the pool that runs its calls (``await runner.run(fn, ...)``)."""

    def __init__(
        self,
        *,
        timeout_seconds: float,
        threads: int,
        project: str | None = None,
        client: Any = None,
    ) -> None:
        import google.cloud.storage as storage
        from google.api_core.retry import Retry
        from google.cloud.storage.retry import DEFAULT_RETRY
        from requests.adapters import HTTPAdapter

        self.timeout = timeout_seconds
        self.retry: Retry = DEFAULT_RETRY.with_timeout(3 * timeout_seconds)
        # project=None: object calls need no project, and no project lookup happens at start-up.
        self.client = client if client is not None else storage.Client(project=project)
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=threads)
        # The client's session keeps 10 connections per host by default; one per thread instead.
        self.client._http.mount("https://", adapter)  # the library's own session
        self.client._http.mount("http://", adapter)  # emulator on loopback
        self._pool = cf.ThreadPoolExecutor(max_workers=threads, thread_name_prefix="storage")

    def bucket(self, name: str) -> Any:
        """A bucket handle (no request is made)."""
        return self.client.bucket(name)

    async def run(self, func: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run a blocking call on the pool and await its result."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(func, *args, **kwargs))

    def close(self) -> None:
        """Wait for running calls, then close the HTTP session."""
        self._pool.shutdown(wait=True)
        self.client.close()
