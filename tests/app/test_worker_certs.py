"""The certificate cache: max-age, single flight, rate limits, failure handling, formats."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time

import pytest
from cryptography import x509

from app.worker.certs import (
    CertCache,
    CertsUnavailableError,
    FetchResult,
    parse_certs,
    parse_max_age,
)
from tests.plugins.worker import KID


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeEndpoint:
    """A fetcher returning a fixed document; counts calls, can fail or be slow."""

    def __init__(self, document: dict, cache_control: str | None = "public, max-age=600") -> None:
        self.document = document
        self.cache_control = cache_control
        self.calls = 0
        self.fail = False
        self.delay = 0.0
        self.lock = threading.Lock()

    def __call__(self, url: str, timeout: float) -> FetchResult:
        with self.lock:
            self.calls += 1
        if self.delay:
            time.sleep(self.delay)
        if self.fail:
            raise OSError("connection refused")
        return FetchResult(200, json.dumps(self.document).encode(), self.cache_control, None)


@pytest.fixture
def document(signing_key) -> dict:
    return {KID: signing_key.cert_pem}


def make_cache(endpoint, clock=None, **kwargs) -> CertCache:
    return CertCache("https://certs.example/certs", fetcher=endpoint, clock=clock or Clock(), **kwargs)


@pytest.mark.parametrize(
    ("header", "age", "expected"),
    [
        ("public, max-age=19569, must-revalidate, no-transform", None, 19569.0),
        ("max-age=600", "100", 500.0),
        ("max-age=60", "100", 0.0),
        ('max-age="30"', None, 30.0),
        ("public", None, None),
        (None, None, None),
        ("no-store", None, 0.0),
        ("s-maxage=100", None, None),
    ],
)
def test_parse_max_age(header, age, expected):
    assert parse_max_age(header, age) == expected


def test_pem_document_parses_into_verifiers(document):
    keys = parse_certs(json.dumps(document).encode())
    assert list(keys) == [KID]


def test_jwk_set_parses_too(signing_key, make_token):
    public = x509.load_pem_x509_certificate(signing_key.cert_pem.encode()).public_key().public_numbers()

    def b64(number: int) -> str:
        return base64.urlsafe_b64encode(number.to_bytes((number.bit_length() + 7) // 8, "big")).rstrip(b"=").decode()

    jwks = {"keys": [
        {"kty": "RSA", "alg": "RS256", "use": "sig", "kid": KID, "n": b64(public.n), "e": b64(public.e)},
        {"kty": "EC", "kid": "ec-key", "crv": "P-256", "x": "AA", "y": "AA"},
    ]}  # fmt: skip
    keys = parse_certs(json.dumps(jwks).encode())
    assert list(keys) == [KID]
    header, payload, signature = make_token().split(".")
    padded = signature + "=" * (-len(signature) % 4)
    assert keys[KID].verify(f"{header}.{payload}".encode(), base64.urlsafe_b64decode(padded))


@pytest.mark.parametrize("body", [b"[]", b"{}", b'{"keys": []}', b"not json", b'{"k": "not a pem"}'])
def test_unusable_documents_are_rejected(body):
    with pytest.raises(ValueError):
        parse_certs(body)


def test_cached_until_max_age_then_refreshed(document):
    endpoint, clock = FakeEndpoint(document), Clock()
    cache = make_cache(endpoint, clock)

    async def scenario():
        for _ in range(100):
            assert await cache.verifier_for(KID) is not None
        assert endpoint.calls == 1
        clock.now += 599
        await cache.verifier_for(KID)
        assert endpoint.calls == 1
        clock.now += 2
        await cache.verifier_for(KID)
        assert endpoint.calls == 2

    asyncio.run(scenario())


def test_max_age_is_clamped(document):
    endpoint, clock = FakeEndpoint(document, cache_control="max-age=0"), Clock()
    cache = make_cache(endpoint, clock, min_ttl=60)

    async def scenario():
        for _ in range(10):
            await cache.verifier_for(KID)
        assert endpoint.calls == 1  # max-age=0 does not mean "fetch per request"
        clock.now += 61
        await cache.verifier_for(KID)
        assert endpoint.calls == 2

    asyncio.run(scenario())


def test_concurrent_callers_share_one_fetch(document):
    endpoint = FakeEndpoint(document)
    endpoint.delay = 0.2
    cache = make_cache(endpoint)

    async def scenario():
        results = await asyncio.gather(*(cache.verifier_for(KID) for _ in range(50)))
        assert all(result is not None for result in results)

    asyncio.run(scenario())
    assert endpoint.calls == 1


def test_unknown_kid_refresh_is_rate_limited(document):
    endpoint, clock = FakeEndpoint(document), Clock()
    cache = make_cache(endpoint, clock, unknown_kid_interval=30)

    async def scenario():
        await cache.verifier_for(KID)
        for _ in range(20):
            assert await cache.verifier_for("nope") is None
        assert endpoint.calls == 1  # the first fetch was just now
        clock.now += 31
        for _ in range(20):
            assert await cache.verifier_for("nope") is None
        assert endpoint.calls == 2  # one refresh for the whole burst

    asyncio.run(scenario())


def test_nothing_cached_and_endpoint_down_fails_closed_with_backoff(document):
    endpoint, clock = FakeEndpoint(document), Clock()
    endpoint.fail = True
    cache = make_cache(endpoint, clock, failure_backoff=5)

    async def scenario():
        for _ in range(10):
            with pytest.raises(CertsUnavailableError):
                await cache.verifier_for(KID)
        assert endpoint.calls == 1
        clock.now += 6
        endpoint.fail = False
        assert await cache.verifier_for(KID) is not None
        assert endpoint.calls == 2

    asyncio.run(scenario())


def test_stale_keys_serve_for_a_grace_period_when_refresh_fails(document):
    endpoint, clock = FakeEndpoint(document), Clock()
    cache = make_cache(endpoint, clock, stale_grace=3600, failure_backoff=5)

    async def scenario():
        await cache.verifier_for(KID)
        endpoint.fail = True
        clock.now += 601  # expired
        assert await cache.verifier_for(KID) is not None  # stale but within grace
        assert not cache.fresh
        clock.now += 3600  # past the grace period
        with pytest.raises(CertsUnavailableError):
            await cache.verifier_for(KID)

    asyncio.run(scenario())


def test_http_error_status_counts_as_failure(document):
    def fetcher(url: str, timeout: float) -> FetchResult:
        return FetchResult(503, b"", None, None)

    cache = CertCache("https://x/certs", fetcher=fetcher, clock=Clock())
    with pytest.raises(CertsUnavailableError):
        asyncio.run(cache.verifier_for(KID))


def test_real_endpoint_over_http(cert_server):
    cache = CertCache(cert_server.url)

    async def scenario():
        for _ in range(20):
            assert await cache.verifier_for(KID) is not None

    asyncio.run(scenario())
    assert cert_server.hits == 1
    assert cache.kids == {"test-key-0", KID}


def _certificate(public_key, signing_key, name: str) -> str:
    """A self-signed-style certificate for ``public_key`` (signed by ``signing_key``)."""
    import datetime

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
        .public_key(public_key).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(signing_key, hashes.SHA256())
    )  # fmt: skip
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def test_key_version_follows_the_key_material_not_the_certificate(signing_key, spare_key):
    from cryptography.hazmat.primitives import serialization

    private = serialization.load_pem_private_key(signing_key.private_pem.encode(), None)
    endpoint, clock = FakeEndpoint({KID: signing_key.cert_pem}), Clock()
    cache = make_cache(endpoint, clock)

    async def refresh_to(document: dict) -> int:
        endpoint.document = document
        clock.now += 601
        assert await cache.refresh()
        return cache.key_version

    async def scenario():
        first = await refresh_to({KID: signing_key.cert_pem})
        renewed = _certificate(private.public_key(), private, "the same key, renewed")
        assert renewed != signing_key.cert_pem
        assert await refresh_to({KID: renewed}) == first  # same key: cached tokens stay
        assert await refresh_to({KID: spare_key.cert_pem}) == first + 1  # same kid, new key
        added = {KID: spare_key.cert_pem, "other": spare_key.cert_pem}
        assert await refresh_to(added) == first + 2  # a kid added

    asyncio.run(scenario())


def test_non_rsa_certificates_are_skipped(signing_key):
    from cryptography.hazmat.primitives.asymmetric import ec

    ec_key = ec.generate_private_key(ec.SECP256R1())
    ec_pem = _certificate(ec_key.public_key(), ec_key, "an EC key")
    keys = parse_certs(json.dumps({"ec-key": ec_pem, KID: signing_key.cert_pem}).encode())
    assert list(keys) == [KID]  # an EC key as an RSA verifier would raise TypeError per token
    with pytest.raises(ValueError, match="no RSA keys"):
        parse_certs(json.dumps({"ec-key": ec_pem}).encode())
