"""The worker as uvicorn runs it: a real process on 127.0.0.1, real HTTP/1.1."""

from __future__ import annotations

import json
import socket
import subprocess
import urllib.error
import urllib.request

from tests.plugins.worker import AUDIENCE, INVOKER, json_lines, task_headers


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict, dict]:
    request = urllib.request.Request(url + "/tasks", data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read() or b"{}")


def raw_exchange(port: int, parts: list[bytes]) -> bytes:
    """Send the parts in order (stopping early if the server has answered); return the answer head."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        for part in parts:
            sock.sendall(part)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
        return answer


def test_missing_identity_settings_stop_startup(live_worker):
    worker = live_worker(wait=False, WORKER_AUTH="required", WORKER_AUDIENCE="https://x-uc.a.run.app")
    try:
        code = worker.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        raise AssertionError("worker kept running with invalid settings") from None
    assert code != 0
    output = worker.output()
    critical = [r for r in json_lines(output) if r.get("severity") == "CRITICAL"]
    assert critical, output
    assert "WORKER_INVOKER_EMAIL must be set when WORKER_AUTH=required" in critical[0]["message"]
    assert "Application startup failed" in output


def test_invalid_value_stops_startup(live_worker):
    worker = live_worker(wait=False, WORKER_AUTH="disabled", WORKER_MAX_BODY_BYTES="-5")
    assert worker.process.wait(timeout=20) != 0
    assert "WORKER_MAX_BODY_BYTES: Input should be greater than or equal to 1 (got '-5')" in worker.output()


def test_auth_disabled_serves_without_token_and_warns(live_worker):
    worker = live_worker(WORKER_AUTH="disabled", WORKER_SOMETHING_ELSE="typo")
    status, _, body = post(worker.url, b'{"kind":"echo","data":{"hi":1}}', task_headers(None, name="live-1"))
    assert status == 200
    assert body["result"] == {"hi": 1}
    records = json_lines(worker.output())
    warnings = [r["message"] for r in records if r["severity"] == "WARNING"]
    assert any("WORKER_AUTH=disabled" in message for message in warnings)
    assert any("WORKER_SOMETHING_ELSE" in message for message in warnings)
    done = [r for r in records if r.get("status") == "done"]
    assert done and done[0]["task"] == "live-1"


def test_verification_over_real_http_fetches_certificates_once(live_worker, cert_server, make_token):
    worker = live_worker(WORKER_AUDIENCE=AUDIENCE, WORKER_INVOKER_EMAIL=INVOKER, WORKER_CERTS_URL=cert_server.url)
    body = b'{"kind":"echo","data":{}}'
    for i in range(25):
        status, _, _ = post(worker.url, body, task_headers(make_token(sub=f"s{i}"), name=f"t{i}"))
        assert status == 200
    assert cert_server.hits == 1
    status, headers, _ = post(worker.url, body, task_headers(make_token(aud="https://other.a.run.app"), name="x"))
    assert status == 403
    status, headers, _ = post(worker.url, body, task_headers(None, name="y"))
    assert status == 401
    assert headers["www-authenticate"].startswith("Bearer")
    status, _, answer = post(worker.url, body, task_headers(make_token(), name="t0"))
    assert (status, answer["status"]) == (200, "duplicate")


def test_declared_oversized_body_is_refused_before_it_is_sent(live_worker):
    worker = live_worker(WORKER_AUTH="disabled", WORKER_MAX_BODY_BYTES="1000")
    head = (
        f"POST /tasks HTTP/1.1\r\nHost: 127.0.0.1:{worker.port}\r\nContent-Type: application/json\r\n"
        "Content-Length: 10485760\r\n\r\n"
    ).encode()
    answer = raw_exchange(worker.port, [head, b"{"])  # the 10 MiB never follow
    assert answer.startswith(b"HTTP/1.1 413")


def test_chunked_body_is_counted_and_cut_off(live_worker):
    worker = live_worker(WORKER_AUTH="disabled", WORKER_MAX_BODY_BYTES="1000")
    head = (
        f"POST /tasks HTTP/1.1\r\nHost: 127.0.0.1:{worker.port}\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode()
    chunk = b"258\r\n" + b"x" * 600 + b"\r\n"
    answer = raw_exchange(worker.port, [head, chunk, chunk])  # 1200 bytes, the body never ends
    assert answer.startswith(b"HTTP/1.1 413")


def test_sigterm_stops_the_worker_cleanly(live_worker):
    worker = live_worker(WORKER_AUTH="disabled")
    worker.process.terminate()
    # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit status says why it stopped.
    assert worker.process.wait(timeout=15) in (0, -15)
    assert "Finished server process" in worker.output()
