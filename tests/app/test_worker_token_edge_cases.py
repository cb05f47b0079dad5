"""The token check at its edges, over real HTTP (uvicorn on 127.0.0.1, certificates from a
local endpoint the test controls); each was once a defect (issue 13):

1. a header whose ``alg`` is a list nested ~1,000 deep is a 401 (not a RecursionError in the
   refusal message: 500 and a traceback for an unauthenticated request);
2. the invoker e-mail is compared exactly, ASCII-lowered only (``str.lower()`` let U+212A
   KELVIN SIGN for "k" pass);
3. the verified-token cache follows key changes: a kid mapped to a new key drops cached
   tokens, and an entry whose re-verification failed is evicted.

Plus one the request fuzz found (tests/reliability/test_request_fuzz.py): an
``X-Cloud-Trace-Context`` span of more than 4,300 digits is ignored (``int()`` raised before
the token was looked at).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from pydantic import ValidationError

from app.processes import free_port
from app.worker.auth import AuthError, TokenVerifier
from app.worker.certs import parse_certs
from app.worker.main import create_app
from app.worker.settings import Settings, get_settings
from support.tokens import KeyPair
from tests.plugins.worker import AUDIENCE, INVOKER, KID, b64url, json_lines

TASK = b'{"kind":"echo","data":{"n":1}}'


def post(url: str, token: str | None, **headers: str) -> httpx.Response:
    """One POST /tasks over a fresh connection (no task name: nothing is deduplicated)."""
    sent = {"Content-Type": "application/json", **headers}
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    return httpx.post(url + "/tasks", content=TASK, headers=sent, timeout=10)


def reason(response: httpx.Response) -> str | None:
    """The ``error_description`` of a refusal's ``WWW-Authenticate``."""
    value = response.headers.get("www-authenticate", "")
    marker = 'error_description="'
    return value.split(marker, 1)[1].split('"', 1)[0] if marker in value else None


def nested(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


@pytest.fixture
def auth_worker(live_worker, cert_server) -> Any:
    """A uvicorn worker process with verification on, certificates from ``cert_server``."""
    return live_worker(
        WORKER_AUDIENCE=AUDIENCE,
        WORKER_INVOKER_EMAIL=INVOKER,
        WORKER_CERTS_URL=cert_server.url,
        WORKER_PROJECT_ID="test-project",
    )


# --------------------------------------------------------------------------- 1. deep alg


def raw_token(header_json: str, payload_json: str = "{}", signature: bytes = b"sig") -> str:
    parts = (header_json.encode(), payload_json.encode(), signature)
    return ".".join(b64url(part) for part in parts)


@pytest.mark.parametrize(
    "header_json",
    [
        '{"alg":' + nested(1000, "") + ',"kid":"x"}',  # the 2.7 KB header
        '{"alg":' + nested(1020, '"RS256"') + ',"kid":"x"}',
        '{"alg":"RS256","kid":' + nested(1000, '"test-key-1"') + "}",
        '{"alg":' + '{"a":' * 900 + "1" + "}" * 900 + ',"kid":"x"}',
    ],
    ids=["alg-list-1000", "alg-list-1020", "kid-list-1000", "alg-object-900"],
)
def test_deeply_nested_header_is_401_not_500(auth_worker, make_token, header_json):
    token = raw_token(header_json)
    response = post(auth_worker.url, token)
    assert response.status_code == 401
    assert reason(response) == "malformed_token"
    assert response.json()["detail"] == "token segment is nested too deeply"
    assert post(auth_worker.url, make_token()).status_code == 200  # still serving
    output = auth_worker.output()
    assert "Traceback" not in output and "RecursionError" not in output


def test_signed_token_with_deeply_nested_claim_is_401(auth_worker, make_token):
    deep: Any = 1
    for _ in range(40):
        deep = [deep]
    response = post(auth_worker.url, make_token(extra=deep))
    assert (response.status_code, reason(response)) == (401, "malformed_token")
    shallow: Any = 1
    for _ in range(20):
        shallow = [shallow]
    assert post(auth_worker.url, make_token(extra=shallow)).status_code == 200


@pytest.mark.parametrize(
    ("alg", "shown"),
    [(["RS256"], "an array"), ({"RS256": 1}, "an object"), (256, "int"), (None, "null"),
     ("x" * 5000, repr("x" * 20))],
    ids=["list", "object", "number", "null", "long-string"],
)
def test_refusal_message_names_only_the_type_of_a_non_string_alg(auth_worker, alg, shown):
    response = post(auth_worker.url, raw_token(json.dumps({"alg": alg, "kid": KID})))
    assert (response.status_code, reason(response)) == (401, "unsupported_alg")
    assert response.json()["detail"] == f"token algorithm must be RS256, got {shown}"


# --------------------------------------------------------------------------- 2. e-mail exactly


@pytest.mark.parametrize(
    "email",
    [
        lambda e: e.replace("k", "\u212a"),  # KELVIN SIGN: "\u212a".lower() == "k"
        lambda e: e.replace("k", "\u212a", 1),
        lambda e: e.upper(),  # Google signs the account's lowercase e-mail
        lambda e: e.replace("s", "\u017f"),  # LATIN SMALL LONG S: casefold() gives "s"
        lambda e: e.replace("i", "\u0130"),  # CAPITAL I WITH DOT: lower() gives "i" + U+0307
        lambda e: e + " ",
        lambda e: e.replace("@", "\uff20"),  # FULLWIDTH COMMERCIAL AT
    ],
    ids=["kelvin-all", "kelvin-one", "uppercase", "long-s", "dotted-i", "trailing-space",
         "fullwidth-at"],
)
def test_lookalike_invoker_email_is_403(auth_worker, make_token, email: Callable[[str], str]):
    lookalike = email(INVOKER)
    assert lookalike != INVOKER
    response = post(auth_worker.url, make_token(email=lookalike))
    assert (response.status_code, reason(response)) == (403, "wrong_account")


def test_exact_invoker_email_is_accepted(auth_worker, make_token):
    response = post(auth_worker.url, make_token(email=INVOKER))
    assert response.status_code == 200 and response.json()["status"] == "done"


def test_configured_invoker_is_ascii_lowered_only(signing_key, replacement_key):
    configured = Settings(audience=AUDIENCE, invoker_email=INVOKER.upper())
    assert configured.invoker_email == INVOKER
    with pytest.raises(ValidationError, match="must be ASCII"):
        Settings(audience=AUDIENCE, invoker_email=INVOKER.replace("k", "\u212a"))
    certs = SameVersionCerts(signing_key, replacement_key, KID)
    verifier = TokenVerifier(certs, audience=AUDIENCE, invoker_email="T\u212a@P.IAM.example")  # type: ignore[arg-type]
    assert verifier.invoker_email == "t\u212a@p.iam.example"  # only A-Z lowered


# --------------------------------------------------------------------------- 3. cache vs keys


@dataclass
class ServedWorker:
    """The worker app under uvicorn in a thread of the test process, so the test can move the
    certificate cache's clock (its max-age is at least 60 s: too long to wait for)."""

    url: str
    app: Any
    shift: list[float]

    @property
    def verifier(self) -> TokenVerifier:
        return self.app.state.worker_components.verifier

    def advance(self, seconds: float) -> None:
        self.shift[0] += seconds


@pytest.fixture
def served_worker(worker_settings: Settings) -> Iterator[ServedWorker]:
    application = create_app()
    application.dependency_overrides[get_settings] = lambda: worker_settings
    port = free_port()
    config = uvicorn.Config(
        application, host="127.0.0.1", port=port, log_config=None, access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-under-test", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 15
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        served = ServedWorker(f"http://127.0.0.1:{port}", application, [0.0])
        served.verifier.certs._clock = lambda: time.monotonic() + served.shift[0]
        yield served
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    assert not thread.is_alive(), "uvicorn did not stop"


@pytest.fixture(scope="session")
def replacement_key() -> KeyPair:
    from support.tokens import make_key

    return make_key("the key that replaces test-key-1")


def test_same_kid_mapped_to_a_new_key_drops_cached_tokens(
    served_worker, cert_server, make_token, replacement_key, spare_key
):
    old = make_token(sub="signed-by-the-old-key")
    assert post(served_worker.url, old).status_code == 200
    assert post(served_worker.url, old).status_code == 200
    assert served_worker.verifier.signature_checks == 1  # the second came from the cache

    cert_server.document = {"test-key-0": spare_key.cert_pem, KID: replacement_key.cert_pem}
    served_worker.advance(31)  # past the unknown-kid rate limit, well within the max-age
    unknown = post(served_worker.url, make_token(kid="no-such-key"))
    assert (unknown.status_code, reason(unknown)) == (401, "unknown_kid")
    assert cert_server.hits == 2 and served_worker.verifier.certs.fresh  # refreshed, still fresh

    refused = post(served_worker.url, old)
    assert (refused.status_code, reason(refused)) == (401, "bad_signature")
    assert post(served_worker.url, make_token(key=replacement_key)).status_code == 200


def test_cached_token_refused_after_stale_refresh_stays_refused(
    served_worker, cert_server, make_token, replacement_key, spare_key
):
    old = make_token(sub="signed-by-the-old-key")
    assert post(served_worker.url, old).status_code == 200
    cert_server.document = {"test-key-0": spare_key.cert_pem, KID: replacement_key.cert_pem}
    served_worker.advance(3601)  # the certificates (max-age 3600) are stale: no cache hit
    for attempt in range(3):
        refused = post(served_worker.url, old)
        assert (refused.status_code, reason(refused)) == (401, "bad_signature"), attempt
    assert cert_server.hits == 2  # one refresh; after it the certificates are fresh again
    assert old not in served_worker.verifier._cache


class SameVersionCerts:
    """A certificate cache that swaps the key behind a kid without changing ``key_version``
    (the old behaviour), to check the eviction on its own."""

    def __init__(self, first: KeyPair, then: KeyPair, kid: str) -> None:
        self.verifiers = [
            parse_certs(json.dumps({kid: key.cert_pem}).encode())[kid] for key in (first, then)
        ]
        self.key_version = 0
        self.fresh = True
        self.calls = 0

    async def verifier_for(self, kid: str) -> Any:
        self.calls += 1
        return self.verifiers[0 if self.calls == 1 else 1]


def test_failed_reverification_evicts_the_entry(signing_key, replacement_key, make_token):
    certs = SameVersionCerts(signing_key, replacement_key, KID)
    verifier = TokenVerifier(certs, audience=AUDIENCE, invoker_email=INVOKER)  # type: ignore[arg-type]
    token = make_token()
    assert asyncio.run(verifier.verify(token)).email == INVOKER
    certs.fresh = False  # stale: the hit is not trusted, the token is verified again
    with pytest.raises(AuthError, match="signature"):
        asyncio.run(verifier.verify(token))
    certs.fresh = True
    with pytest.raises(AuthError, match="signature"):
        asyncio.run(verifier.verify(token))  # before the fix: accepted from the cache
    assert certs.calls == 3


# --------------------------------------------------------------------------- trace header


def test_trace_header_with_a_huge_span_is_ignored_not_500(auth_worker, make_token):
    trace = "105445aa7843bc8bf206b12000100000"
    for i, span in enumerate(("1" * 5000, "9" * 21, "1" * 4301)):
        context = {
            "X-Cloud-Trace-Context": f"{trace}/{span};o=1", "X-CloudTasks-TaskName": f"span-{i}"
        }
        assert post(auth_worker.url, make_token(), **context).status_code == 200
    huge = {"X-Cloud-Trace-Context": f"{trace}/{'7' * 5000};o=1"}
    unauthenticated = post(auth_worker.url, None, **huge)
    assert unauthenticated.status_code == 401
    done = [r for r in json_lines(auth_worker.output()) if r.get("status") == "done"]
    assert [r["task"] for r in done] == ["span-0", "span-1", "span-2"]
    expected = f"projects/test-project/traces/{trace}"
    assert all(r["logging.googleapis.com/trace"] == expected for r in done)
    assert not any("logging.googleapis.com/spanId" in r for r in done)  # unusable span: left out
    assert "Traceback" not in auth_worker.output()
