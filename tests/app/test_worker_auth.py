"""Token verification through the HTTP API: who gets 200, 401, 403 and 503."""

from __future__ import annotations

import json
import time

import pytest

from tests.plugins.worker import AUDIENCE, KID, b64url, claims, task_headers, unsigned_token

ECHO = {"kind": "echo", "data": {"n": 1}}


def post(worker, token=None, name="task-1", **headers):
    return worker.post("/tasks", json=ECHO, headers=task_headers(token, name=name, **headers))


def test_valid_token_runs_the_task(worker, make_token):
    response = post(worker, make_token())
    assert response.status_code == 200
    assert response.json() == {"status": "done", "task": "task-1", "kind": "echo", "result": {"n": 1}}


def test_either_google_issuer_form_is_accepted(worker, make_token):
    assert post(worker, make_token(iss="accounts.google.com"), name="a").status_code == 200
    assert post(worker, make_token(iss="https://accounts.google.com"), name="b").status_code == 200


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"exp": int(time.time()) - 120, "iat": int(time.time()) - 3720}, "expired"),
        ({"iat": int(time.time()) + 600, "exp": int(time.time()) + 4200}, "issued_in_future"),
        ({"iss": "https://evil.example.com"}, "bad_issuer"),
        ({"exp": None}, "malformed_token"),
        ({"exp": "tomorrow"}, "malformed_token"),
        ({"nbf": "soon"}, "malformed_token"),
        ({"nbf": True}, "malformed_token"),
        ({"nbf": int(time.time()) + 600}, "not_yet_valid"),
        ({"iss": ["https://accounts.google.com"]}, "bad_issuer"),
    ],
    ids=["expired", "iat-in-future", "other-issuer", "no-exp", "non-numeric-exp", "non-numeric-nbf",
         "boolean-nbf", "nbf-in-future", "issuer-as-list"],
)
def test_invalid_claims_are_401(worker, make_token, overrides, reason):
    response = post(worker, make_token(**overrides))
    assert response.status_code == 401
    assert reason in response.headers["WWW-Authenticate"]


def test_expiry_allows_small_clock_skew(worker, make_token):
    now = int(time.time())
    token = make_token(exp=now - 5, iat=now - 3605)  # 5 s late: within the 30 s default skew
    assert post(worker, token).status_code == 200


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"aud": "https://other-service-xyz-uc.a.run.app"}, "wrong_audience"),
        ({"email": "someone-else@test-project.iam.gserviceaccount.com"}, "wrong_account"),
        ({"email": None}, "wrong_account"),
        ({"email_verified": False}, "email_not_verified"),
        ({"email_verified": None}, "email_not_verified"),
        ({"email_verified": 1}, "email_not_verified"),
    ],
    ids=["other-audience", "other-account", "no-email", "unverified", "no-email-verified",
         "email-verified-number"],
)
def test_genuine_token_for_someone_else_is_403(worker, make_token, overrides, reason):
    response = post(worker, make_token(**overrides))
    assert response.status_code == 403
    assert reason in response.headers["WWW-Authenticate"]


def test_audience_list_is_403_even_with_ours_in_it(worker, make_token):
    # Google's ID tokens carry one audience string; a list would make the token good for others too
    response = post(worker, make_token(aud=[AUDIENCE, "https://other.a.run.app"]))
    assert response.status_code == 403
    assert "wrong_audience" in response.headers["WWW-Authenticate"]


def test_email_verified_as_the_string_true_is_accepted(worker, make_token):
    assert post(worker, make_token(email_verified="true")).status_code == 200  # older Google tokens


def test_signature_by_another_key_is_401(worker, make_token, stranger_key):
    response = post(worker, make_token(key=stranger_key))
    assert response.status_code == 401
    assert "bad_signature" in response.headers["WWW-Authenticate"]


def test_tampered_payload_is_401(worker, make_token):
    header, _, signature = make_token().split(".")
    forged = b64url(json.dumps(claims(email="attacker@evil.example")).encode())
    response = post(worker, f"{header}.{forged}.{signature}")
    assert response.status_code == 401
    assert "bad_signature" in response.headers["WWW-Authenticate"]


def test_alg_none_is_401(worker):
    token = unsigned_token({"alg": "none", "typ": "JWT", "kid": KID}, claims())
    response = post(worker, token)
    assert response.status_code == 401
    assert "unsupported_alg" in response.headers["WWW-Authenticate"]


def test_hs256_with_the_public_certificate_as_secret_is_401(worker, signing_key):
    """The classic key-confusion attack: HMAC keyed with the (public) certificate or key."""
    for secret in (signing_key.cert_pem.encode(), signing_key.public_pem.encode()):
        token = unsigned_token({"alg": "HS256", "typ": "JWT", "kid": KID}, claims(), secret=secret)
        response = post(worker, token)
        assert response.status_code == 401
        assert "unsupported_alg" in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize("alg", ["RS384", "ES256", "PS256", "rs256", None])
def test_other_algorithms_are_401(worker, make_token, alg):
    header, payload, signature = make_token().split(".")
    other = {"alg": alg, "kid": KID} if alg else {"kid": KID}
    token = f"{b64url(json.dumps(other).encode())}.{payload}.{signature}"
    assert post(worker, token).status_code == 401


def test_missing_authorization_is_401(worker):
    response = post(worker, None)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "missing_token" in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize(
    "value",
    [
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "Bearer ",
        "Bearer a b",
        "garbage",
        "Bearer not-a-jwt",
        "Bearer a.b",
        "Bearer a.b.c.d",
        "Bearer !!!.???.***",
        "Bearer e30.e30.",
        "Bearer W10.e30.c2ln",
    ],
)
def test_malformed_authorization_is_401(worker, value):
    headers = task_headers(None)
    headers["Authorization"] = value
    response = worker.post("/tasks", json=ECHO, headers=headers)
    assert response.status_code == 401


def test_scheme_is_case_insensitive(worker, make_token):
    headers = task_headers(None)
    headers["Authorization"] = "bearer " + make_token()
    assert worker.post("/tasks", json=ECHO, headers=headers).status_code == 200


def test_certificates_are_fetched_once_for_many_requests(worker, make_token, cert_server):
    # Different tokens (so the token cache does not hide the certificate lookups).
    for i in range(30):
        assert post(worker, make_token(sub=f"s{i}"), name=f"t{i}").status_code == 200
    assert cert_server.hits == 1  # the start-up warm-up fetch, nothing after


def test_token_cache_verifies_a_reused_token_once(worker, make_token):
    token = make_token()
    for i in range(20):
        assert post(worker, token, name=f"t{i}").status_code == 200
    verifier = worker.app.state.worker_components.verifier
    assert verifier.signature_checks == 1


def test_cached_token_is_still_checked_for_expiry(make_worker, worker_settings, make_token):
    worker = make_worker(worker_settings.model_copy(update={"clock_skew_seconds": 0}))
    now = int(time.time())
    token = make_token(exp=now + 60, iat=now - 10)
    assert post(worker, token, name="first").status_code == 200
    verifier = worker.app.state.worker_components.verifier
    verifier._clock = lambda: time.time() + 120  # two minutes later: the cached token has expired
    response = post(worker, token, name="second")
    assert response.status_code == 401
    assert "expired" in response.headers["WWW-Authenticate"]
    assert verifier.signature_checks == 1  # rejected from the cache, not re-verified


def test_token_cache_disabled_checks_every_signature(make_worker, worker_settings, make_token):
    worker = make_worker(worker_settings.model_copy(update={"token_cache_size": 0}))
    token = make_token()
    for i in range(5):
        assert post(worker, token, name=f"t{i}").status_code == 200
    assert worker.app.state.worker_components.verifier.signature_checks == 5


def test_unknown_kid_refreshes_at_most_once(worker, make_token, cert_server, signing_key):
    assert cert_server.hits == 1
    for i in range(10):
        response = post(worker, make_token(kid="rotated-key", sub=f"s{i}"), name=f"u{i}")
        assert response.status_code == 401
        assert "unknown_kid" in response.headers["WWW-Authenticate"]
    # The start-up fetch was moments ago, so the first unknown kid waits for the rate limit;
    # none of the ten requests may trigger a fetch of its own.
    assert cert_server.hits == 1


def test_key_rotation_is_picked_up_by_one_refresh(make_worker, worker_settings, make_token, cert_server, signing_key):
    worker = make_worker(worker_settings)
    certs = worker.app.state.worker_components.verifier.certs
    certs._unknown_kid_interval = 0.0  # as if the last fetch were long ago
    cert_server.document = {"rotated-key": signing_key.cert_pem}
    for i in range(5):
        assert post(worker, make_token(kid="rotated-key", sub=f"s{i}"), name=f"r{i}").status_code == 200
    assert cert_server.hits == 2  # warm-up + exactly one refresh for the new kid
    # The key that disappeared is no longer trusted.
    certs._unknown_kid_interval = 3600.0
    assert post(worker, make_token(sub="old"), name="old").status_code == 401


def test_cert_endpoint_down_with_nothing_cached_is_503(make_worker, worker_settings, make_token, cert_server, worker_logs):
    cert_server.status = 500
    worker = make_worker(worker_settings)
    response = post(worker, make_token())
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "7"
    records = worker_logs()
    assert any("not available yet" in r["message"] for r in records if r["severity"] == "WARNING")
    assert any(r["severity"] == "ERROR" and r.get("http_status") == 503 for r in records)
    hits = cert_server.hits
    for i in range(5):
        assert post(worker, make_token(), name=f"n{i}").status_code == 503
    assert cert_server.hits == hits, "a failing endpoint must not be fetched per request (backoff)"


def test_auth_failures_are_logged_with_reason(worker, worker_logs):
    post(worker, None)
    record = [r for r in worker_logs() if r.get("auth_reason")][-1]
    assert record["severity"] == "WARNING"
    assert record["auth_reason"] == "missing_token"
    assert record["http_status"] == 401
    assert record["task"] == "task-1" and record["queue"] == "default"
