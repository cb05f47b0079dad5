"""The emulator signs OIDC tokens as Cloud Tasks does (app.emulator + app.oidc_standin).

Real gRPC to the emulator, real HTTP from it to a receiver or to the real worker (uvicorn,
``WORKER_AUTH=required``) on loopback; google-auth verifies the tokens independently.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from google.auth.transport.requests import Request
from google.cloud import tasks_v2
from google.oauth2 import id_token

from app.demo import HANDLED, REJECTED, WorkerProcess
from app.emulator import Emulator, EmulatorError
from app.oidc_standin import CERTS_PATH, OidcSigner, service_account_subject
from support.processes import live_children
from tests.plugins.emulator import PROJECT

INVOKER = f"invoker@{PROJECT}.iam.gserviceaccount.com"
AUDIENCE = "https://worker.example.test"


def http_task(queue: str, name: str, url: str, *, email: str | None = INVOKER,
              audience: str = AUDIENCE) -> tasks_v2.Task:
    request = tasks_v2.HttpRequest(url=url, body=json.dumps({"kind": "echo", "data": {"msg": name}}).encode(),
                                   headers={"Content-Type": "application/json"})
    if email is not None:
        request.oidc_token = tasks_v2.OidcToken(service_account_email=email, audience=audience)
    return tasks_v2.Task(name=f"{queue}/tasks/{name}", http_request=request)


def segment(token: str, index: int) -> dict:
    part = token.split(".")[index]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def bearer(headers: dict[str, str]) -> str:
    scheme, _, token = headers["authorization"].partition(" ")
    assert scheme == "Bearer"
    return token


def test_tokens_are_google_shaped_and_verify_against_the_served_certificates(
        emulator, admin_client, queue_path, receiver):
    url = f"{receiver.url}/tasks"
    admin_client.create_task(parent=queue_path, task=http_task(queue_path, "with-audience", url))
    admin_client.create_task(parent=queue_path, task=http_task(queue_path, "no-audience", url, audience=""))
    admin_client.create_task(parent=queue_path, task=http_task(queue_path, "no-token", url, email=None))
    got = {r.headers["x-cloudtasks-taskname"]: r for r in receiver.wait_for(3)}

    # Tasks without an oidc_token get no Authorization header, as from Cloud Tasks.
    assert "authorization" not in got["no-token"].headers
    certs = json.loads(urllib.request.urlopen(emulator.certs_url, timeout=5).read())
    for name, audience in (("with-audience", AUDIENCE), ("no-audience", url)):  # OidcToken: default is the task URL
        token = bearer(got[name].headers)
        header = segment(token, 0)
        assert (header["alg"], header["typ"]) == ("RS256", "JWT") and list(certs) == [header["kid"]]
        # google-auth, reading the emulator's certificate URL the way it reads Google's.
        claims = id_token.verify_token(token, Request(), audience=audience, certs_url=emulator.certs_url)
        assert claims["iss"] == "https://accounts.google.com"
        assert (claims["aud"], claims["email"], claims["email_verified"]) == (audience, INVOKER, True)
        assert claims["sub"] == claims["azp"] == service_account_subject(INVOKER)
        assert len(claims["sub"]) == 21 and claims["sub"].isdigit()
        assert claims["exp"] - claims["iat"] == 3600 and abs(claims["iat"] - time.time()) < 60


@pytest.fixture(scope="module")
def worker(emulator: Emulator) -> Iterator[WorkerProcess]:
    """The real worker with its token check on, trusting the emulator's signer only."""
    env = {"WORKER_AUTH": "required", "WORKER_AUDIENCE": AUDIENCE, "WORKER_INVOKER_EMAIL": INVOKER,
           "WORKER_CERTS_URL": emulator.certs_url, "WORKER_LOG_LEVEL": "INFO"}
    with WorkerProcess(env) as process:
        yield process


def test_the_real_worker_accepts_the_emulators_tokens_and_refuses_other_audiences_and_accounts(
        worker, admin_client, queue_path):
    url = f"{worker.url}/tasks"
    admin_client.create_task(parent=queue_path, task=http_task(queue_path, "ok-1", url))
    admin_client.create_task(parent=queue_path, task=http_task(queue_path, "aud-1", url,
                                                               audience="https://other.example.test"))
    admin_client.create_task(parent=queue_path, task=http_task(queue_path, "acct-1", url,
                                                               email=f"someone@{PROJECT}.iam.gserviceaccount.com"))
    admin_client.create_task(parent=queue_path, task=http_task(queue_path, "none-1", url, email=None))

    def outcomes(deliveries):
        return {d.task_id: d for d in deliveries if d.task_id in {"ok-1", "aud-1", "acct-1", "none-1"}}

    assert worker.wait_for(lambda ds: len(outcomes(ds)) == 4, 20), list(worker.tail)[-10:]
    seen = outcomes(worker.snapshot())
    assert seen["ok-1"].outcome == HANDLED and seen["ok-1"].record["http_status"] == 200
    refused = {name: (seen[name].outcome, seen[name].record["http_status"], seen[name].record["auth_reason"])
               for name in ("aud-1", "acct-1", "none-1")}
    assert refused == {"aud-1": (REJECTED, 403, "wrong_audience"), "acct-1": (REJECTED, 403, "wrong_account"),
                       "none-1": (REJECTED, 401, "missing_token")}
    # The refused ones are still queued (retried), and the token is never kept with the task.
    deadline, left = time.monotonic() + 5, {}
    while not {"aud-1", "acct-1"} <= set(left) and time.monotonic() < deadline:  # one may be mid-dispatch
        left = {t.name.rsplit("/", 1)[-1]: t for t in admin_client.list_tasks(parent=queue_path)}
    assert {"aud-1", "acct-1"} <= set(left)
    assert all("Authorization" not in t.http_request.headers for t in left.values())


def test_each_run_has_its_own_key_and_stop_takes_the_certificates_down(emulator):
    before = live_children()
    other = Emulator().start()
    try:
        url = other.certs_url
        assert url.startswith("http://127.0.0.1:") and url.endswith(CERTS_PATH)
        with urllib.request.urlopen(url, timeout=5) as response:
            assert "max-age=" in response.headers["Cache-Control"]
            kids = set(json.loads(response.read()))
        shared = set(json.loads(urllib.request.urlopen(emulator.certs_url, timeout=5).read()))
        assert len(kids) == 1 and kids.isdisjoint(shared)  # a new key per emulator run
        with pytest.raises(urllib.error.HTTPError) as elsewhere:
            urllib.request.urlopen(url.replace(CERTS_PATH, "/oauth2/v3/certs"), timeout=5)
        assert elsewhere.value.code == 404
    finally:
        other.stop()
    with pytest.raises(urllib.error.URLError) as gone:
        urllib.request.urlopen(url, timeout=5)
    assert isinstance(gone.value.reason, ConnectionRefusedError)
    with pytest.raises(EmulatorError, match="not running"):
        other.certs_url  # noqa: B018 - the property raises
    assert live_children() == before


def test_signer_reuses_a_token_until_near_expiry_and_checks_its_inputs():
    now = [1_000_000.0]
    signer = OidcSigner(clock=lambda: now[0], lifetime_s=3600, reuse_margin_s=300)
    first = signer.token(audience=AUDIENCE, email=INVOKER)
    now[0] += 3600 - 301
    assert signer.token(audience=AUDIENCE, email=INVOKER) == first
    assert signer.token(audience="https://b.example.test", email=INVOKER) != first  # per audience
    now[0] += 2
    renewed = signer.token(audience=AUDIENCE, email=INVOKER)
    assert renewed != first and segment(renewed, 1)["iat"] == int(now[0])
    assert signer.signed == 3
    with pytest.raises(ValueError, match="audience must be a non-empty string, but '' was given"):
        signer.token(audience="", email=INVOKER)
    with pytest.raises(ValueError, match=r"reuse_margin_s must be between 0 and lifetime_s - 1 \(59\), but 60 was given"):
        OidcSigner(key=signer.key, lifetime_s=60, reuse_margin_s=60)
