"""Google's token-signing certificates, fetched rarely and parsed once.

The certificate document (``{kid: PEM certificate}`` or a JWK set) is fetched from the
configured URL, every key is parsed into a ready :class:`google.auth.crypt.RSAVerifier`, and
the result is kept for the response's ``Cache-Control: max-age`` (minus ``Age``), clamped to
[``min_ttl``, ``max_ttl``]. Rules that keep the endpoint from being hit per request:

* one refresh at a time (single flight): concurrent callers wait for the same fetch;
* an unknown ``kid`` (key rotation) triggers at most one refresh per ``unknown_kid_interval``;
* after a failed fetch, no new attempt for ``failure_backoff`` seconds;
* if a refresh fails, the previous keys stay usable for ``stale_grace`` seconds past expiry
  (Google publishes keys long before and after they sign); after that, and when nothing was
  ever fetched, :class:`CertsUnavailableError` is raised and the request gets 503: fail closed.

:attr:`CertCache.key_version` follows the key material itself (each kid's RSA modulus and
exponent), not just the set of key ids: a document that maps a known kid to another key is a
new version, and token caches keyed on it drop what the old key verified.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import orjson
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey, RSAPublicNumbers
from google.auth.crypt import RSAVerifier

logger = logging.getLogger("app.worker.certs")

DEFAULT_TTL = 300.0
"""Used when the response carries no usable max-age."""
MIN_TTL = 60.0
MAX_TTL = 24 * 3600.0
UNKNOWN_KID_INTERVAL = 30.0
FAILURE_BACKOFF = 5.0
STALE_GRACE = 3600.0
FETCH_TIMEOUT = 5.0
MAX_DOCUMENT_BYTES = 256 * 1024

_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)\"?\s*(?:,|$)", re.IGNORECASE)


class CertsUnavailableError(Exception):
    """No usable signing keys (endpoint down and nothing cached): the worker answers 503."""


@dataclass(frozen=True, slots=True)
class FetchResult:
    """One HTTP answer from the certificate endpoint."""

    status: int
    body: bytes
    cache_control: str | None
    age: str | None


Fetcher = Callable[[str, float], FetchResult]


def fetch_with_urllib(url: str, timeout: float) -> FetchResult:
    """Blocking GET (run in a thread); standard library only, so the image needs no HTTP client."""
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(
            request, timeout=timeout
        ) as response:  # URL validated in settings
            body = response.read(MAX_DOCUMENT_BYTES + 1)
            return FetchResult(
                response.status,
                body,
                response.headers.get("Cache-Control"),
                response.headers.get("Age"),
            )
    except urllib.error.HTTPError as exc:
        return FetchResult(exc.code, b"", None, None)


def parse_max_age(cache_control: str | None, age: str | None = None) -> float | None:
    """Seconds the document stays fresh per ``Cache-Control`` (``max-age`` minus ``Age``), or
    None."""
    if not cache_control:
        return None
    lowered = cache_control.lower()
    if "no-store" in lowered or "no-cache" in lowered:
        return 0.0
    match = _MAX_AGE.search(cache_control)
    if match is None:
        return None
    ttl = float(match.group(1))
    if age and age.strip().isdigit():
        ttl -= float(age.strip())
    return max(ttl, 0.0)


def parse_public_keys(body: bytes) -> dict[str, RSAPublicKey]:
    """Parse ``{kid: PEM}`` or a JWK set into RSA public keys by kid (other key types are
    skipped); raise ``ValueError`` if none are usable."""
    if len(body) > MAX_DOCUMENT_BYTES:
        raise ValueError("certificate document too large")
    document = orjson.loads(body)
    if not isinstance(document, dict):
        raise ValueError("certificate document is not a JSON object")
    keys: dict[str, RSAPublicKey] = {}
    if isinstance(document.get("keys"), list):
        for jwk in document["keys"]:
            if (
                isinstance(jwk, dict)
                and jwk.get("kty") == "RSA"
                and jwk.get("alg", "RS256") == "RS256"
                and jwk.get("use", "sig") == "sig"
                and isinstance(jwk.get("kid"), str)
            ):
                numbers = RSAPublicNumbers(_b64_int(jwk["e"]), _b64_int(jwk["n"]))
                keys[jwk["kid"]] = numbers.public_key()
    else:
        for kid, pem in document.items():
            if isinstance(kid, str) and isinstance(pem, str):
                key = _pem_public_key(pem)
                if isinstance(key, RSAPublicKey):
                    keys[kid] = key
    if not keys:
        raise ValueError("certificate document holds no RSA keys")
    return keys


def parse_certs(body: bytes) -> dict[str, RSAVerifier]:
    """Parse ``{kid: PEM}`` or a JWK set into verifiers; raise ``ValueError`` if none are usable."""
    return {kid: RSAVerifier(key) for kid, key in parse_public_keys(body).items()}


def key_material(keys: Mapping[str, RSAPublicKey]) -> dict[str, tuple[int, int]]:
    """What identifies each key: kid -> (modulus, exponent). A renewed certificate for the same
    key is the same material; the same kid for another key is not."""
    material = {}
    for kid, key in keys.items():
        numbers = key.public_numbers()
        material[kid] = (numbers.n, numbers.e)
    return material


def _pem_public_key(pem: str) -> object:
    """The public key of a PEM certificate or public key (as google-auth's ``from_string``)."""
    data = pem.encode()
    if b"-----BEGIN CERTIFICATE-----" in data:
        return x509.load_pem_x509_certificate(data).public_key()
    return serialization.load_pem_public_key(data)


class CertCache:
    """Signing keys by ``kid`` for one certificate URL, refreshed per the rules above."""

    def __init__(
        self,
        url: str,
        *,
        fetcher: Fetcher = fetch_with_urllib,
        clock: Callable[[], float] = time.monotonic,
        default_ttl: float = DEFAULT_TTL,
        min_ttl: float = MIN_TTL,
        max_ttl: float = MAX_TTL,
        unknown_kid_interval: float = UNKNOWN_KID_INTERVAL,
        failure_backoff: float = FAILURE_BACKOFF,
        stale_grace: float = STALE_GRACE,
        timeout: float = FETCH_TIMEOUT,
    ) -> None:
        self.url = url
        self._fetcher = fetcher
        self._clock = clock
        self._default_ttl = default_ttl
        self._min_ttl = min_ttl
        self._max_ttl = max_ttl
        self._unknown_kid_interval = unknown_kid_interval
        self._failure_backoff = failure_backoff
        self._stale_grace = stale_grace
        self._timeout = timeout
        self._keys: Mapping[str, RSAVerifier] = {}
        self._material: dict[str, tuple[int, int]] = {}
        self._expires_at = float("-inf")
        self._last_attempt = float("-inf")
        self._last_failed = False
        self._attempts = 0
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None
        self.key_version = 0
        """Bumped whenever a key id is added or removed or names another key (token caches
        drop their entries then)."""
        self.fetch_count = 0

    @property
    def fresh(self) -> bool:
        """True while the cached keys are within their max-age (cheap; used on the hot path)."""
        return self._clock() < self._expires_at

    @property
    def kids(self) -> frozenset[str]:
        return frozenset(self._keys)

    async def verifier_for(self, kid: str) -> RSAVerifier | None:
        """The verifier for ``kid``, refreshing when expired or on an unknown kid (rate-limited)."""
        now = self._clock()
        if now >= self._expires_at:
            await self.refresh()
            now = self._clock()
            if now >= self._expires_at + self._stale_grace or not self._keys:
                raise CertsUnavailableError(f"no usable signing certificates from {self.url}")
        verifier = self._keys.get(kid)
        if verifier is None and now - self._last_attempt >= self._unknown_kid_interval:
            logger.info("unknown key id %r: refreshing certificates", kid[:64])
            await self.refresh()
            verifier = self._keys.get(kid)
        return verifier

    async def refresh(self) -> bool:
        """Fetch once now unless a fetch is running (then wait for it) or failed moments ago."""
        seen = self._attempts  # completed attempts: one finishing while we wait is ours too
        async with self._get_lock():
            if self._attempts != seen:
                return not self._last_failed  # another caller fetched while we waited
            if self._last_failed and self._clock() - self._last_attempt < self._failure_backoff:
                return False
            self._last_attempt = self._clock()
            self.fetch_count += 1
            try:
                result = await asyncio.to_thread(self._fetcher, self.url, self._timeout)
                if result.status != 200:
                    raise ValueError(f"HTTP {result.status}")
                public_keys = parse_public_keys(result.body)
            except Exception as exc:  # noqa: BLE001 - any failure keeps the old keys and fails closed later
                self._attempts += 1
                self._last_failed = True
                logger.warning(
                    "could not refresh signing certificates from %s: %s",
                    self.url,
                    exc or type(exc).__name__,
                )
                return False
            ttl = parse_max_age(result.cache_control, result.age)
            ttl = self._default_ttl if ttl is None else min(max(ttl, self._min_ttl), self._max_ttl)
            material = key_material(public_keys)
            if material != self._material:
                self.key_version += 1
                self._keys = {kid: RSAVerifier(key) for kid, key in public_keys.items()}
                self._material = material
            self._expires_at = self._clock() + ttl
            self._last_failed = False
            self._attempts += 1
            logger.debug("fetched %d signing keys, fresh for %.0f s", len(public_keys), ttl)
            return True

    def _get_lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:
            self._lock = asyncio.Lock()
            self._lock_loop = loop
        return self._lock


def _b64_int(value: str) -> int:
    raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    return int.from_bytes(raw, "big")
