"""``reliability.load``: a 1.5 s smoke run of ``run_load`` (the 60 s run is
``python -m reliability.load``), and the token-pool claim it rests on."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

import reliability.load as load
from app.worker.auth import TokenVerifier
from app.worker.certs import CertCache, FetchResult
from support import loadgen


def test_run_load_smoke_and_stops_its_processes(monkeypatch):
    started = []

    class Recording(load.loadgen.Processes):
        def start(self, *args, **kwargs):
            process = super().start(*args, **kwargs)
            started.append(process)
            return process

    monkeypatch.setattr(load.loadgen, "Processes", Recording)
    result = load.run_load(rate=100, duration=1.5, token_cache_size=8)

    assert (result.sent, result.ok, result.errors, result.error_statuses) == (150, 150, 0, {})
    assert result.achieved_rate > 50  # loose: a short run on a shared machine; the real figure is the 60 s run's
    assert 0 < result.p50_ms <= result.p99_ms <= result.max_ms
    assert result.token_pool == 16 and result.every_request_verified  # 16 tokens round-robin, 8-entry cache
    assert result.cert_fetches == 1  # fetched at start-up, never per request
    json.dumps(result.to_dict())
    assert len(started) == 2 and all(process.poll() is not None for process in started)


@pytest.mark.parametrize(("pool", "checks"), [(16, 64), (8, 8)], ids=["pool-over-cache", "pool-fits-cache"])
def test_round_robin_pool_larger_than_the_cache_never_hits_it(tmp_path: Path, pool: int, checks: int):
    """The load run's token pool is twice the verified-token cache: with the worker's first-in
    first-out cache, every request then pays an RSA check (a pool that fits would hit it)."""
    private_pem, certs_path = loadgen.make_key_material(tmp_path)
    document = certs_path.read_bytes()
    certs = CertCache("https://certs.test/", fetcher=lambda url, timeout: FetchResult(200, document, "max-age=3600", None))
    verifier = TokenVerifier(certs, audience=loadgen.AUDIENCE, invoker_email=loadgen.INVOKER, cache_size=8)
    tokens = loadgen.sign_tokens(private_pem, pool)

    async def send_all() -> None:
        assert await certs.refresh()  # as the worker does at start-up
        for i in range(64):
            await verifier.verify(tokens[i % pool])

    asyncio.run(send_all())
    assert verifier.signature_checks == checks
