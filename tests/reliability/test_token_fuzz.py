"""Property-based tests of the token check (issue 13), fixed seeds and bounded examples:

* the differential fuzz of ``reliability/token_fuzz.py`` over real HTTP: generated tokens to a
  worker with its verified-token cache and one without, each verdict against google-auth's
  ``jwt.decode`` plus the documented checks and the written list of deliberate differences
  (``make reliability`` runs the same with many more tokens);
* a state machine that rotates keys behind a kid, withdraws and republishes them, takes the
  certificate endpoint down and moves the clock, while the same tokens go to a cached and an
  uncached verifier sharing one certificate cache: their verdicts must never differ.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from google.auth import crypt, jwt
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    rule,
    run_state_machine_as_test,
)

from app.worker import auth
from app.worker.auth import AuthError, TokenVerifier
from app.worker.certs import CertCache, CertsUnavailableError, FetchResult
from app.worker.settings import Settings
from reliability import token_fuzz
from reliability.token_fuzz import (
    LOOSER,
    STRICTER,
    Comparison,
    FuzzTarget,
    Identity,
    Keys,
    Tally,
    explore,
)
from support.tokens import KeyPair, google_claims
from tests.plugins.worker import AUDIENCE, INVOKER, KID

EXAMPLES = 300
SEED = 13
SPARE_KID = "test-key-0"  # what conftest's cert_server publishes next to KID


@pytest.fixture
def fuzz_target(
    live_worker, cert_server, signing_key, spare_key, stranger_key
) -> Iterator[Any]:
    env = {
        "WORKER_AUDIENCE": AUDIENCE,
        "WORKER_INVOKER_EMAIL": INVOKER,
        "WORKER_CERTS_URL": cert_server.url,
        "WORKER_LOG_LEVEL": "WARNING",
    }
    cached = live_worker(**env)
    uncached = live_worker(WORKER_TOKEN_CACHE_SIZE="0", **env)
    keys = Keys(signing_key.private_pem, spare_key.private_pem, stranger_key.private_pem)
    identity = Identity(AUDIENCE, INVOKER, KID, SPARE_KID)
    with FuzzTarget(identity, keys, dict(cert_server.document), cached.url, uncached.url) as target:
        yield target, (cached, uncached)


def test_the_fuzz_spec_uses_the_workers_limits():
    assert token_fuzz.MAX_TOKEN_CHARS == auth.MAX_TOKEN_CHARS
    assert token_fuzz.MAX_JSON_DEPTH == auth.MAX_JSON_DEPTH
    assert token_fuzz.CLOCK_SKEW == Settings.model_fields["clock_skew_seconds"].default
    assert set(token_fuzz.ISSUERS) == auth.ALLOWED_ISSUERS


def test_worker_verdicts_match_google_auth_within_the_written_differences(fuzz_target):
    target, workers = fuzz_target
    tally = Tally()

    def check(comparison: Comparison) -> None:
        tally.add(comparison)
        problems = comparison.problems()
        assert not problems, "\n".join(problems)

    started = time.perf_counter()
    explore(target, EXAMPLES, SEED, check)
    elapsed = time.perf_counter() - started
    assert tally.tokens >= EXAMPLES and tally.tokens_with_problems == 0, tally.summary()
    # The generator must reach both verdicts and the size limit, and the differences it finds
    # must be the written ones, in both directions (else the list, or the generator, is stale).
    assert tally.both_accept >= EXAMPLES // 10 and tally.both_refuse >= EXAMPLES // 10, (
        tally.summary()
    )
    assert tally.at_limit > 0, tally.summary()
    seen = {rule for key in tally.differences for rule in key.split("+")}
    assert seen <= set(LOOSER) | set(STRICTER), tally.summary()
    assert seen & set(LOOSER) and seen & set(STRICTER), tally.summary()
    assert tally.server_errors == 0
    for worker in workers:
        assert "Traceback" not in worker.output()
    assert elapsed < 120, f"fuzz took {elapsed:.0f} s"  # about 5 s here; a hang shows


# --------------------------------------------------------------------------- cache vs keys

MACHINE_AUDIENCE = "https://worker-fuzz-abc123-uc.a.run.app"
MACHINE_INVOKER = "tasks-invoker@fuzz-project.iam.gserviceaccount.com"
KIDS = ("key-a", "key-b")


def verdict(verifier: TokenVerifier, token: str) -> tuple[Any, ...]:
    try:
        caller = asyncio.run(verifier.verify(token))
    except AuthError as exc:
        return ("refused", exc.status_code, exc.reason)
    except CertsUnavailableError:
        return ("unavailable",)
    return ("accepted", caller.email)


class KeyRotation(RuleBasedStateMachine):
    """One certificate cache behind two verifiers (cache on, cache off); the endpoint's
    document, its availability and the clocks change between requests. Tokens already sent
    are sent again more often than fresh ones: the cache only matters for those."""

    keys: tuple[KeyPair, ...] = ()
    tokens: tuple[str, ...] = ()
    minted = 0.0
    sent = Bundle("sent")

    def __init__(self) -> None:
        super().__init__()
        self.document: dict[str, KeyPair] = {}
        self.down = False
        self.monotonic = 1000.0
        self.shift = 0.0
        self.certs = CertCache(
            "https://certs.test/certs", fetcher=self.fetch, clock=lambda: self.monotonic
        )
        common = {
            "audience": MACHINE_AUDIENCE,
            "invoker_email": MACHINE_INVOKER,
            "clock": lambda: self.minted + self.shift,
        }
        self.cached = TokenVerifier(self.certs, cache_size=4, **common)
        self.uncached = TokenVerifier(self.certs, cache_size=0, **common)

    def fetch(self, url: str, timeout: float) -> FetchResult:
        if self.down:
            raise OSError("connection refused")
        body = json.dumps({kid: key.cert_pem for kid, key in self.document.items()}).encode()
        return FetchResult(200, body, "public, max-age=300", None)

    @initialize(key=st.integers(0, 2))
    def start(self, key: int) -> None:
        """The first document, fetched before any request (the worker's start-up warm-up)."""
        self.document = {KIDS[0]: self.keys[key]}
        assert asyncio.run(self.certs.refresh())

    @rule(kid=st.sampled_from(KIDS), key=st.integers(0, 2))
    def publish(self, kid: str, key: int) -> None:
        self.document[kid] = self.keys[key]  # a new kid, or a known kid mapped to another key

    @rule(kid=st.sampled_from(KIDS))
    def rotate(self, kid: str) -> None:
        """The same kid, another key: what the old cache missed (it watched only the kid set)."""
        if kid in self.document:
            self.document[kid] = self.keys[
                (self.keys.index(self.document[kid]) + 1) % len(self.keys)
            ]

    @rule(kid=st.sampled_from(KIDS))
    def withdraw(self, kid: str) -> None:
        self.document.pop(kid, None)

    @rule(down=st.booleans())
    def endpoint(self, down: bool) -> None:
        self.down = down

    @rule(seconds=st.sampled_from([1, 31, 301, 301, 3601]))
    def wait(self, seconds: int) -> None:
        self.monotonic += seconds
        self.shift += seconds

    @rule(target=sent, index=st.integers(0, 11))
    def send(self, index: int) -> str:
        self.compare(self.tokens[index])
        return self.tokens[index]

    @rule(token=sent)
    def send_again(self, token: str) -> None:
        self.compare(token)

    def compare(self, token: str) -> None:
        cached = verdict(self.cached, token)
        uncached = verdict(self.uncached, token)
        assert cached == uncached, f"cached {cached} but uncached {uncached}"


def test_cached_verdict_equals_uncached_through_key_rotation(signing_key, spare_key, stranger_key):
    keys = (signing_key, spare_key, stranger_key)
    minted = time.time()
    tokens = []
    for key in keys:
        for kid in KIDS:
            signer = crypt.RSASigner.from_string(key.private_pem, key_id=kid)
            for lifetime in (1000, 86_400 * 7):  # one expires within the waits, one outlives them
                claims = google_claims(
                    MACHINE_AUDIENCE, MACHINE_INVOKER, iat=int(minted), exp=int(minted) + lifetime
                )
                tokens.append(jwt.encode(signer, claims).decode())
    attributes = {"keys": keys, "tokens": tuple(tokens), "minted": minted}
    run_state_machine_as_test(
        type("Machine", (KeyRotation,), attributes),
        settings=settings(
            max_examples=100,
            stateful_step_count=30,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
