"""Bad input against a live worker: hostile and malformed requests as data, and their runner.

:data:`CASES` lists each request (how to build it) with the answer ``docs/worker.md``
("Responses and what Cloud Tasks does with them") documents for it. :func:`run_matrix` starts,
on 127.0.0.1, a certificate endpoint and one uvicorn worker process with token verification ON
(uvloop + httptools, as the image runs it), sends every case over real HTTP/1.1 (raw sockets,
so duplicate, huge or non-ASCII headers and chunked bodies go out as written), and stops both
processes again, also on errors and Ctrl-C.

For each case it checks:

* the status (and, for 200 answers, the body's ``status``) is the documented one, and the
  answer is JSON (401s also carry ``WWW-Authenticate``), except for malformed HTTP, which the
  server (uvicorn/httptools) answers before the app with its plain-text 400;
* no 5xx;
* how many times a handler ran. The worker serves :func:`create_matrix_app`: the shipped app
  with its handler registry replaced by one whose handlers count their runs (each example kind
  wrapped, plus ``matrix.probe``, which also returns the Cloud Tasks headers it saw). For auth,
  body and payload cases no handler may run. For the ``X-CloudTasks-*`` cases the documented
  behaviour is different: an unusable header is *treated as absent*, the task runs once and the
  handler sees ``None`` for that header, so those cases expect one run and check what was seen;
  for ``http`` cases the request never reaches the app, so no handler may run either;
* the worker still serves a valid task correctly afterwards (200 ``done``, the right result,
  exactly one more handler run, process alive).

What "rejected" means per group:

=============  ==========================================================================
group          rejected as documented
=============  ==========================================================================
token          401 (+ ``WWW-Authenticate``) or 403, no handler ran
authorization  401 (+ ``WWW-Authenticate``), no handler ran
body           413, or 200 ``dead_letter`` (acknowledged, not retried), no handler ran
payload        200 ``dead_letter``, no handler ran
headers        the bad header is ignored: 200 ``done``, the handler ran once and saw it as
               absent (``None``); the task is not refused for it
http           malformed HTTP (a C0 control character or DEL in a header value, a negative
               or duplicated Content-Length): 400 ``text/plain`` "Invalid HTTP request
               received." from the server before the app, no handler ran
=============  ==========================================================================

Run it on its own::

    .venv/bin/python -m reliability.worker_matrix          # prints one line per case + totals
"""

from __future__ import annotations

import base64
import dataclasses
import gzip
import hashlib
import hmac
import itertools
import json
import os
import select
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from support import loadgen
from support.tokens import google_claims

AUDIENCE = loadgen.AUDIENCE
INVOKER = loadgen.INVOKER
KID = loadgen.KID
SPARE_KID = "bench-key-0"
"""The other key the certificate endpoint publishes (see ``loadgen.make_key_material``)."""
MAX_BODY = 1024 * 1024
CLOCK_SKEW = 30

HeaderValue = str | bytes


# --------------------------------------------------------------------------- the worker side


def create_matrix_app():  # uvicorn factory
    """The shipped worker app with a counting registry (``uvicorn --factory``).

    Settings come from the ``WORKER_*`` environment as in production; only the handler registry
    is overridden (``app.dependency_overrides[get_registry]``, the documented hook).
    """
    from app.worker.dependencies import get_registry
    from app.worker.main import create_app

    application = create_app()
    registry = recording_registry()

    async def matrix_registry():
        return registry

    application.dependency_overrides[get_registry] = matrix_registry
    return application


def recording_registry():
    """Every example kind, wrapped to count its runs, plus ``matrix.probe`` (counts, and returns
    the Cloud Tasks headers it saw) and ``matrix.runs`` (answers the count; not counted)."""
    from pydantic import BaseModel, ConfigDict

    from app.worker.handlers import HandlerRegistry, TaskContext
    from app.worker.handlers import registry as shipped

    runs = {"count": 0}
    registry = HandlerRegistry()

    for kind in shipped.kinds:
        handler = shipped.get(kind)
        assert handler is not None

        async def counted(payload: Any, ctx: TaskContext, _handler: Any = handler) -> Any:
            runs["count"] += 1
            return await _handler.run(payload, ctx)

        registry.register(kind, counted, model=handler.model)

    class Anything(BaseModel):
        model_config = ConfigDict(extra="allow")

    async def probe(payload: Anything, ctx: TaskContext) -> dict[str, Any]:
        runs["count"] += 1
        return {"seen": {name: _plain(value) for name, value in _headers_dict(ctx.headers).items()}}

    async def count(payload: Anything, ctx: TaskContext) -> dict[str, Any]:
        return {"runs": runs["count"]}

    registry.register("matrix.probe", probe, model=Anything)
    registry.register("matrix.runs", count, model=Anything)
    return registry


def _headers_dict(headers: Any) -> dict[str, Any]:
    return {f.name: getattr(headers, f.name) for f in dataclasses.fields(headers)}


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


# --------------------------------------------------------------------------- HTTP on a raw socket


@dataclass(frozen=True)
class Request:
    """One ``POST /tasks``, sent exactly as written (header values may be raw bytes)."""

    headers: tuple[tuple[str, HeaderValue], ...]
    body: bytes = b""
    chunked: bool = False
    """Send the body with ``Transfer-Encoding: chunked`` (64 KiB chunks) instead of Content-Length."""


@dataclass(frozen=True)
class Answer:
    status: int
    """0 when no HTTP answer came back."""
    headers: dict[str, str]
    body: bytes
    error: str | None = None

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None


def exchange(port: int, request: Request, timeout: float = 10.0) -> Answer:
    """Send ``request`` on a fresh connection (``Connection: close``) and read the answer. The
    body goes out in pieces; once the server has answered (say 413 on the declared length),
    sending stops, as a real client's would."""
    head = [b"POST /tasks HTTP/1.1", f"Host: 127.0.0.1:{port}".encode(), b"Connection: close"]
    for name, value in request.headers:
        head.append(name.encode("latin-1") + b": " + (value if isinstance(value, bytes) else value.encode("latin-1")))
    names = {name.lower() for name, _ in request.headers}
    if request.chunked:
        head.append(b"Transfer-Encoding: chunked")
        pieces = [b"%x\r\n%s\r\n" % (len(c), c) for c in _chunks(request.body, 64 * 1024)] + [b"0\r\n\r\n"]
    else:
        if "content-length" not in names:
            head.append(f"Content-Length: {len(request.body)}".encode())
        pieces = list(_chunks(request.body, 64 * 1024))
    data = b"\r\n".join(head) + b"\r\n\r\n"
    received = b""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(data)
            for piece in pieces:
                if select.select([sock], [], [], 0)[0]:
                    break  # the server answered before reading everything
                try:
                    sock.sendall(piece)
                except (BrokenPipeError, ConnectionResetError):
                    break
            try:
                while True:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    received += chunk
                    if _complete(received):
                        break
            except ConnectionResetError:
                pass  # keep whatever arrived before the reset
    except OSError as exc:
        return _parse(received, f"{type(exc).__name__}: {exc}")
    return _parse(received, None)


def _chunks(data: bytes, size: int) -> Iterable[bytes]:
    return (data[i : i + size] for i in range(0, len(data), size))


def _complete(received: bytes) -> bool:
    head, sep, body = received.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit():
            return len(body) >= int(value)
    return False


def _parse(received: bytes, error: str | None) -> Answer:
    head, sep, body = received.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    try:
        status = int(lines[0].split()[1]) if sep else 0
    except (IndexError, ValueError):
        status = 0
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    if status == 0 and error is None:
        error = "no HTTP answer"
    return Answer(status, headers, body, error)


# --------------------------------------------------------------------------- building requests


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class CaseMaterial:
    """What a case's ``build`` gets: keys, the token and body helpers, fresh task names."""

    audience = AUDIENCE
    invoker = INVOKER
    kid = KID

    def __init__(self, signing_pem: str, cert_pem: str, public_pem: str) -> None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec, rsa

        self.signing_key = serialization.load_pem_private_key(signing_pem.encode(), None)
        self.cert_pem = cert_pem
        self.public_pem = public_pem
        self.stranger_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec_key = ec.generate_private_key(ec.SECP256R1())
        self._names = itertools.count(1)
        self.run_id = b64url(os.urandom(4))

    # ---- names, bodies, headers

    def task_name(self, label: str) -> str:
        return f"matrix-{self.run_id}-{next(self._names)}-{label}"[:480]

    @staticmethod
    def body(kind: str = "echo", data: Any = None, **extra: Any) -> bytes:
        task: dict[str, Any] = {"kind": kind, "data": {"note": "valid task"} if data is None else data}
        task.update(extra)
        return json.dumps(task).encode()

    def cloud_tasks(self, label: str, **overrides: HeaderValue | None) -> tuple[tuple[str, HeaderValue], ...]:
        """The headers Cloud Tasks sends; ``overrides`` by suffix (``TaskRetryCount=...``, None drops)."""
        values: dict[str, HeaderValue | None] = {
            "QueueName": "matrix-queue",
            "TaskName": self.task_name(label),
            "TaskRetryCount": "0",
            "TaskExecutionCount": "0",
            "TaskETA": f"{time.time():.6f}",
        }
        values.update(overrides)
        return tuple((f"X-CloudTasks-{key}", value) for key, value in values.items() if value is not None)

    def headers(self, label: str, token: str | None = None, **overrides: HeaderValue | None) -> tuple:
        """Content-Type, ``Authorization: Bearer`` (a valid token unless given) and Cloud Tasks headers."""
        return (
            ("Content-Type", "application/json"),
            ("Authorization", f"Bearer {self.token() if token is None else token}"),
            *self.cloud_tasks(label, **overrides),
        )

    # ---- tokens

    def claims(self, **overrides: Any) -> dict[str, Any]:
        """Claims of a valid Cloud Tasks OIDC token; an override of None removes the claim."""
        return google_claims(self.audience, self.invoker, **overrides)

    def token(self, **claim_overrides: Any) -> str:
        """A genuine RS256 token from the published key (claims overridable)."""
        return self.jws({"alg": "RS256", "typ": "JWT", "kid": KID}, self.claims(**claim_overrides))

    def jws(self, header: dict[str, Any], claims: dict[str, Any], sign: str = "rs256", key: Any = None) -> str:
        """A compact JWS with any header, signed by ``sign``: ``rs256``/``rs512``/``ps256`` (with
        ``key``, the published key by default), ``es256``, ``hs256`` (``key`` = secret bytes) or
        ``none`` (empty signature)."""
        signing_input = f"{b64url(_json(header))}.{b64url(_json(claims))}".encode()
        return f"{signing_input.decode()}.{b64url(self._sign(signing_input, sign, key))}"

    def _sign(self, data: bytes, how: str, key: Any) -> bytes:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec, padding
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        if how == "none":
            return b""
        if how == "hs256":
            return hmac.new(key, data, hashlib.sha256).digest()
        if how == "es256":
            r, s = decode_dss_signature(self.ec_key.sign(data, ec.ECDSA(hashes.SHA256())))
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")
        rsa_key = key or self.signing_key
        if how == "rs256":
            return rsa_key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        if how == "rs512":
            return rsa_key.sign(data, padding.PKCS1v15(), hashes.SHA512())
        if how == "ps256":
            return rsa_key.sign(data, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())
        raise ValueError(how)

    def stranger_jwk(self) -> dict[str, Any]:
        numbers = self.stranger_key.public_key().public_numbers()
        return {
            "kty": "RSA",
            "kid": "attacker-key",
            "n": b64url(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
            "e": b64url(numbers.e.to_bytes(3, "big")),
        }


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


# --------------------------------------------------------------------------- the cases


Build = Callable[[CaseMaterial], Request]


@dataclass(frozen=True)
class Case:
    """One hostile or malformed request and the documented answer to it."""

    name: str
    group: str
    """token, authorization, body, payload, headers or http (see the module docstring)."""
    build: Build
    status: int
    """The documented HTTP status."""
    outcome: str | None = None
    """The documented body ``status`` for 200 answers (``dead_letter``, ``done``)."""
    runs: int = 0
    """Handler runs the documented behaviour implies (0: the handler must not run)."""
    seen: dict[str, Any] | None = None
    """For header cases: what the handler must have seen (``field: value``; ``invalid`` lists
    the header names that must be reported as ignored)."""
    note: str = ""
    check: Callable[[Request, Answer, MatrixWorker], str | None] | None = None
    """Anything else to check: returns what is wrong, or None."""


def _with_token(token: Callable[[CaseMaterial], str]) -> Build:
    """A valid task whose Authorization is ``Bearer <token(material)>``."""
    return lambda k: Request(k.headers("tok", token=token(k)), k.body())


def _claims(**overrides: Any) -> Build:
    return _with_token(lambda k: k.token(**overrides))


def _relative(**offsets: int | None) -> Build:
    """Token with time claims relative to now (``iat=-7200`` means two hours ago)."""
    return _with_token(
        lambda k: k.token(**{name: None if delta is None else int(time.time()) + delta for name, delta in offsets.items()})
    )


def _authorization(*values: Callable[[CaseMaterial], HeaderValue] | None) -> Build:
    """A valid task with the given Authorization header values (none: header absent)."""

    def build(k: CaseMaterial) -> Request:
        auth = tuple(("Authorization", value(k)) for value in values if value is not None)
        return Request((("Content-Type", "application/json"), *auth, *k.cloud_tasks("auth")), k.body())

    return build


def _body(body: bytes | Callable[[CaseMaterial], bytes], content_type: str = "application/json") -> Build:
    """A valid token and Cloud Tasks headers around ``body``."""

    def build(k: CaseMaterial) -> Request:
        raw = body(k) if callable(body) else body
        headers = tuple(h for h in k.headers("body") if h[0] != "Content-Type")
        return Request((("Content-Type", content_type), *headers), raw)

    return build


def _task(kind: Any = "echo", data: Any = None, **top: Any) -> Build:
    """A valid token around the JSON task ``{"kind": kind, "data": data, **top}`` (``...`` omits)."""
    document: dict[str, Any] = {}
    if kind is not ...:
        document["kind"] = kind
    if data is not ...:
        document["data"] = {"note": "x"} if data is None else data
    document.update(top)
    return _body(json.dumps(document).encode())


def _nested(depth: int, opener: bytes, closer: bytes, inner: bytes = b"1") -> bytes:
    return opener * depth + inner + closer * depth


def _ct_headers(**overrides: HeaderValue | None) -> Build:
    """A valid token and probe task with Cloud Tasks headers overridden (None drops one)."""
    return lambda k: Request(k.headers("hdr", **overrides), k.body("matrix.probe"))


def _no_ct_headers(k: CaseMaterial) -> Request:
    return Request((("Content-Type", "application/json"), ("Authorization", f"Bearer {k.token()}")), k.body("matrix.probe"))


_IGNORED = "X-CloudTasks-"
_HS256_HEADER = {"alg": "HS256", "typ": "JWT", "kid": KID}


def _ignored(field_name: str, header: str) -> dict[str, Any]:
    return {field_name: None, "invalid": [_IGNORED + header]}


def _tampered(k: CaseMaterial) -> str:
    header, _, signature = k.token().split(".")
    payload = b64url(_json(k.claims(email="attacker@evil.example.com")))
    return f"{header}.{payload}.{signature}"


def _spliced_signature(k: CaseMaterial) -> str:
    header, payload, _ = k.token(aud="https://other-service.a.run.app").split(".")
    signature = k.token().split(".")[2]
    return f"{header}.{payload}.{signature}"


def _answered_without_result(request: Request, answer: Answer, worker: MatrixWorker) -> str | None:
    document = answer.json() or {}
    if "result" in document or "result_error" not in document:
        return f"expected the answer without its result, with result_error: {answer.body[:200]!r}"
    return None


def _small_answer_and_log(request: Request, answer: Answer, worker: MatrixWorker) -> str | None:
    """The answer and the task's log lines stay small (a Cloud Logging entry is at most 256 KB)."""
    if len(answer.body) > 4096:
        return f"answer is {len(answer.body)} bytes"
    name = dict(request.headers)["X-CloudTasks-TaskName"]
    lines = [line for line in worker.log().splitlines() if f'"task":"{name}"' in line]
    if not lines:
        return "no log line for the task"
    if max(map(len, lines)) > 16_384:
        return f"a log line of {max(map(len, lines))} bytes"
    return None


def _answered_by_server(request: Request, answer: Answer, worker: MatrixWorker) -> str | None:
    """Uvicorn's own answer to a request httptools cannot parse (the app never saw it)."""
    content_type = answer.headers.get("content-type", "")
    if not content_type.startswith("text/plain") or answer.body != b"Invalid HTTP request received.":
        return f"expected the server's plain-text 400, got {content_type!r} {answer.body[:200]!r}"
    return None


def _http(**extra: HeaderValue) -> Build:
    """A valid task (token, Cloud Tasks headers) with raw header lines added as written."""
    return lambda k: Request((*k.headers("http"), *extra.items()), k.body())


def _content_length(*values: Callable[[int], str]) -> Build:
    """A valid task with the given Content-Length lines (each from the body's real length)."""

    def build(k: CaseMaterial) -> Request:
        body = k.body()
        return Request((*k.headers("http"), *(("Content-Length", value(len(body))) for value in values)), body)

    return build


_ABSURD_HEADERS = {
    "QueueName": "q" * 10_000,
    "TaskName": "t" * 10_000,
    "TaskRetryCount": "-1",
    "TaskExecutionCount": "99999999999999999999",
    "TaskETA": "NaN",
    "TaskPreviousResponse": "abc",
    "TaskRetryReason": "r" * 10_000,
}

CASES: list[Case] = [
    # ---- tokens: forged, expired, future, wrong claims (401 / 403)
    Case("forged-by-another-key", "token", _with_token(lambda k: k.jws(
        {"alg": "RS256", "typ": "JWT", "kid": KID}, k.claims(), key=k.stranger_key)), 401),
    Case("forged-claiming-spare-kid", "token", _with_token(lambda k: k.jws(
        {"alg": "RS256", "kid": SPARE_KID}, k.claims(), key=k.stranger_key)), 401),
    Case("forged-own-kid", "token", _with_token(lambda k: k.jws(
        {"alg": "RS256", "kid": "attacker-key"}, k.claims(), key=k.stranger_key)), 401),
    Case("tampered-payload-kept-signature", "token", _with_token(_tampered), 401),
    Case("signature-spliced-from-other-token", "token", _with_token(_spliced_signature), 401),
    Case("signature-stripped", "token", _with_token(lambda k: k.token().rsplit(".", 1)[0] + "."), 401),
    Case("extra-segment", "token", _with_token(lambda k: k.token() + ".eyJ4IjoxfQ"), 401),
    Case("jwe-shaped-five-segments", "token", _with_token(lambda k: "eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d"), 401),
    Case("expired-an-hour-ago", "token", _relative(iat=-7200, exp=-3600), 401),
    Case("expired-just-past-skew", "token", _relative(iat=-3600 - CLOCK_SKEW - 5, exp=-CLOCK_SKEW - 5), 401),
    Case("issued-in-the-future", "token", _relative(iat=3600, exp=7200), 401),
    Case("not-before-in-the-future", "token", _relative(nbf=3600), 401),
    Case("exp-missing", "token", _claims(exp=None), 401),
    Case("exp-not-a-number", "token", _claims(exp="9999999999"), 401),
    Case("iat-missing", "token", _claims(iat=None), 401),
    Case("nbf-not-a-number", "token", _claims(nbf="soon"), 401),
    Case("nbf-boolean", "token", _claims(nbf=True), 401),
    Case("wrong-issuer", "token", _claims(iss="https://evil.example.com"), 401),
    Case("issuer-lookalike", "token", _claims(iss="https://accounts.google.com.evil.example"), 401),
    Case("issuer-missing", "token", _claims(iss=None), 401),
    Case("issuer-as-list", "token", _claims(iss=["https://accounts.google.com"]), 401),
    Case("wrong-audience", "token", _claims(aud="https://another-service-xyz-uc.a.run.app"), 403),
    Case("audience-with-trailing-path", "token", _claims(aud=AUDIENCE + "/tasks"), 403),
    Case("audience-list-without-ours", "token", _claims(aud=["https://a.example", "https://b.example"]), 403),
    Case("audience-list-with-ours", "token", _claims(aud=[AUDIENCE, "https://other.example"]), 403,
         note="Google's ID tokens carry one audience string; a list would make the token good elsewhere too"),
    Case("audience-missing", "token", _claims(aud=None), 403),
    Case("wrong-account", "token", _claims(email="someone-else@other-project.iam.gserviceaccount.com"), 403),
    Case("account-lookalike", "token", _claims(email=INVOKER + ".evil.example"), 403),
    Case("email-missing", "token", _claims(email=None), 403),
    Case("email-unverified", "token", _claims(email_verified=False), 403),
    Case("email-verified-string-false", "token", _claims(email_verified="false"), 403),
    Case("email-verified-missing", "token", _claims(email_verified=None), 403),
    Case("email-verified-number", "token", _claims(email_verified=1), 403),
    # ---- algorithm tricks (all 401, refused before any key is looked up)
    Case("alg-none-unsigned", "token", _with_token(lambda k: k.jws({"alg": "none", "typ": "JWT"}, k.claims(), "none")), 401),
    Case("alg-None-with-kid", "token", _with_token(lambda k: k.jws({"alg": "None", "kid": KID}, k.claims(), "none")), 401),
    Case("alg-hs256-cert-as-secret", "token", _with_token(lambda k: k.jws(
        _HS256_HEADER, k.claims(), "hs256", k.cert_pem.encode())), 401),
    Case("alg-hs256-public-key-as-secret", "token", _with_token(lambda k: k.jws(
        _HS256_HEADER, k.claims(), "hs256", k.public_pem.encode())), 401),
    Case("alg-rs512-real-key", "token", _with_token(lambda k: k.jws({"alg": "RS512", "kid": KID}, k.claims(), "rs512")), 401),
    Case("alg-ps256-real-key", "token", _with_token(lambda k: k.jws({"alg": "PS256", "kid": KID}, k.claims(), "ps256")), 401),
    Case("alg-es256", "token", _with_token(lambda k: k.jws({"alg": "ES256", "kid": KID}, k.claims(), "es256")), 401),
    Case("alg-missing", "token", _with_token(lambda k: k.jws({"typ": "JWT", "kid": KID}, k.claims())), 401),
    Case("alg-lowercase", "token", _with_token(lambda k: k.jws({"alg": "rs256", "kid": KID}, k.claims())), 401),
    Case("alg-as-list", "token", _with_token(lambda k: k.jws({"alg": ["RS256"], "kid": KID}, k.claims())), 401),
    Case("kid-pointing-nowhere", "token", _with_token(lambda k: k.jws({"alg": "RS256", "kid": "no-such-key"}, k.claims())), 401),
    Case("kid-path-traversal", "token", _with_token(lambda k: k.jws({"alg": "RS256", "kid": "../../x"}, k.claims())), 401),
    Case("kid-sql-injection", "token", _with_token(lambda k: k.jws({"alg": "RS256", "kid": "' OR '1'='1"}, k.claims())), 401),
    Case("kid-missing", "token", _with_token(lambda k: k.jws({"alg": "RS256"}, k.claims())), 401),
    Case("kid-not-a-string", "token", _with_token(lambda k: k.jws({"alg": "RS256", "kid": 1}, k.claims())), 401),
    Case("jku-to-attacker-keys", "token", _with_token(lambda k: k.jws(
        {"alg": "RS256", "kid": "attacker-key", "jku": "http://127.0.0.1:9/jwks.json"}, k.claims(), key=k.stranger_key)), 401),
    Case("x5u-to-attacker-cert", "token", _with_token(lambda k: k.jws(
        {"alg": "RS256", "kid": KID, "x5u": "http://127.0.0.1:9/cert.pem"}, k.claims(), key=k.stranger_key)), 401),
    Case("embedded-jwk", "token", _with_token(lambda k: k.jws(
        {"alg": "RS256", "kid": KID, "jwk": k.stranger_jwk()}, k.claims(), key=k.stranger_key)), 401),
    Case("header-not-json", "token", _with_token(lambda k: b64url(b"not json") + "." + k.token().split(".", 1)[1]), 401),
    # ---- the Authorization header itself (401)
    Case("authorization-missing", "authorization", _authorization(), 401),
    Case("authorization-empty", "authorization", _authorization(lambda k: ""), 401),
    Case("authorization-basic", "authorization", _authorization(lambda k: "Basic dGFza3M6aHVudGVyMg=="), 401),
    Case("bearer-without-token", "authorization", _authorization(lambda k: "Bearer"), 401),
    Case("bearer-blank-token", "authorization", _authorization(lambda k: "Bearer    "), 401),
    Case("bearer-garbage", "authorization", _authorization(lambda k: "Bearer !!$$%%^^&&**"), 401),
    Case("bearer-not-a-jwt", "authorization", _authorization(lambda k: "Bearer abc.def.ghi"), 401),
    Case("bearer-two-tokens", "authorization", _authorization(lambda k: f"Bearer {k.token()} {k.token()}"), 401),
    Case("bearer-comma-two-tokens", "authorization", _authorization(lambda k: f"Bearer {k.token()}, Bearer {k.token()}"), 401),
    Case("two-authorization-headers", "authorization", _authorization(
        lambda k: f"Bearer {k.token()}", lambda k: f"Bearer {k.token()}"), 401,
        note="a request may carry one Authorization field (RFC 9110 5.3); two are ambiguous, so refused"),
    Case("valid-token-wrong-scheme", "authorization", _authorization(lambda k: f"Token {k.token()}"), 401),
    Case("token-not-ascii", "authorization", _authorization(lambda k: b"Bearer " + k.token().encode()[:-4] + b"\xc3\xa9\xc3\xa9"), 401),
    Case("huge-authorization-64k", "authorization", _authorization(lambda k: "Bearer " + "A" * 65_536), 401),
    # ---- body (valid token): size and syntax
    Case("oversized-declared", "body", _body(b"{" + b" " * MAX_BODY + b"}"), 413),
    Case("oversized-chunked", "body", lambda k: dataclasses.replace(
        _body(b'{"kind":"echo","data":"' + b"x" * MAX_BODY + b'"}')(k), chunked=True), 413),
    Case("empty-body", "body", _body(b""), 200, "dead_letter"),
    Case("not-json", "body", _body(b"kind=echo&data=1", "application/x-www-form-urlencoded"), 200, "dead_letter"),
    Case("truncated-json", "body", _body(b'{"kind": "echo", "data": {'), 200, "dead_letter"),
    Case("invalid-utf8", "body", _body(b'{"kind": "echo", "data": {"x": "\xff\xfe"}}'), 200, "dead_letter"),
    Case("nan-literal", "body", _body(b'{"kind": "echo", "data": {"x": NaN}}'), 200, "dead_letter"),
    Case("number-overflow", "body", _body(b'{"kind": "echo", "data": {"x": 1e999}}'), 200, "dead_letter"),
    Case("gzip-encoded-body", "body", lambda k: Request(
        (*k.headers("gz"), ("Content-Encoding", "gzip")), gzip.compress(k.body())), 200, "dead_letter",
        note="bodies are never decompressed (no decompression bombs)"),
    Case("nested-arrays-100k", "body", _body(_nested(100_000, b"[", b"]")), 200, "dead_letter"),
    Case("nested-objects-100k-in-data", "body", _body(
        b'{"kind":"echo","data":' + _nested(100_000, b'{"a":', b"}") + b"}"), 200, "dead_letter"),
    # ---- payload (valid token, valid JSON): wrong shapes
    Case("body-array", "payload", _body(b'[{"kind": "echo", "data": {}}]'), 200, "dead_letter"),
    Case("body-string", "payload", _body(b'"echo"'), 200, "dead_letter"),
    Case("body-number", "payload", _body(b"42"), 200, "dead_letter"),
    Case("body-null", "payload", _body(b"null"), 200, "dead_letter"),
    Case("body-true", "payload", _body(b"true"), 200, "dead_letter"),
    Case("kind-missing", "payload", _task(...), 200, "dead_letter"),
    Case("kind-not-a-string", "payload", _task(123), 200, "dead_letter"),
    Case("kind-a-list", "payload", _task(["echo"]), 200, "dead_letter"),
    Case("kind-an-object", "payload", _task({"name": "echo"}), 200, "dead_letter"),
    Case("kind-empty", "payload", _task(""), 200, "dead_letter"),
    Case("kind-unknown", "payload", _task("drop_database"), 200, "dead_letter"),
    Case("kind-900kb", "payload", _body(lambda k: json.dumps({"kind": "k" * 900_000}).encode()), 200, "dead_letter",
         check=_small_answer_and_log),
    Case("kind-path-traversal", "payload", _task("../../etc/passwd"), 200, "dead_letter"),
    Case("kind-case-variant", "payload", _task("ECHO"), 200, "dead_letter"),
    Case("data-an-array", "payload", _task("echo", [1, 2, 3]), 200, "dead_letter"),
    Case("data-a-string", "payload", _task("echo", "hello"), 200, "dead_letter"),
    Case("data-a-number", "payload", _task("echo", 7), 200, "dead_letter"),
    Case("data-null", "payload", _body(b'{"kind":"echo","data":null}'), 200, "dead_letter"),
    Case("send-email-no-recipients", "payload", _task("send_email", {"to": [], "subject": "hi"}), 200, "dead_letter"),
    Case("send-email-header-injection", "payload", _task(
        "send_email", {"to": ["a@example.com"], "subject": "hi\r\nBcc: everyone@example.com"}), 200, "dead_letter"),
    Case("send-email-unknown-field", "payload", _task(
        "send_email", {"to": ["a@example.com"], "subject": "hi", "bcc": ["x@example.com"]}), 200, "dead_letter"),
    Case("resize-absurd-size", "payload", _task(
        "resize_image", {"source": "gs://b/i.png", "width": 10**12, "height": -1}), 200, "dead_letter"),
    Case("resize-file-url", "payload", _task(
        "resize_image", {"source": "file:///etc/passwd", "width": 1, "height": 1}), 200, "dead_letter"),
    Case("deep-but-parseable-data", "payload", _body(
        b'{"kind":"echo","data":{"a":' + _nested(400, b'{"a":', b"}") + b"}}"), 200, "done", runs=1,
        note="a valid echo task nested deeper than the JSON encoder's limit: runs once, answered 200, never 5xx",
        check=_answered_without_result),
    # ---- X-CloudTasks-* headers: unusable values are ignored (the task runs, the handler sees None)
    Case("cloud-tasks-headers-missing", "headers", _no_ct_headers, 200, "done", runs=1, seen={
        "queue_name": None, "task_name": None, "retry_count": None, "eta": None, "invalid": []}),
    Case("retry-count-negative", "headers", _ct_headers(TaskRetryCount="-1"), 200, "done", 1,
         _ignored("retry_count", "TaskRetryCount")),
    Case("retry-count-huge", "headers", _ct_headers(TaskRetryCount="99999999999999999999999"), 200, "done", 1,
         _ignored("retry_count", "TaskRetryCount")),
    Case("retry-count-non-numeric", "headers", _ct_headers(TaskRetryCount="three"), 200, "done", 1,
         _ignored("retry_count", "TaskRetryCount")),
    Case("retry-count-unicode-digits", "headers", _ct_headers(TaskRetryCount="１２".encode()), 200, "done", 1,
         _ignored("retry_count", "TaskRetryCount")),
    Case("execution-count-float", "headers", _ct_headers(TaskExecutionCount="1.5"), 200, "done", 1,
         _ignored("execution_count", "TaskExecutionCount")),
    Case("eta-nan", "headers", _ct_headers(TaskETA="NaN"), 200, "done", 1, _ignored("eta", "TaskETA")),
    Case("eta-inf", "headers", _ct_headers(TaskETA="inf"), 200, "done", 1, _ignored("eta", "TaskETA")),
    Case("eta-minus-inf", "headers", _ct_headers(TaskETA="-inf"), 200, "done", 1, _ignored("eta", "TaskETA")),
    Case("eta-overflow", "headers", _ct_headers(TaskETA="1e400"), 200, "done", 1, _ignored("eta", "TaskETA")),
    Case("eta-garbage", "headers", _ct_headers(TaskETA="tomorrow at noon"), 200, "done", 1, _ignored("eta", "TaskETA")),
    Case("eta-negative", "headers", _ct_headers(TaskETA="-5"), 200, "done", 1, _ignored("eta", "TaskETA")),
    Case("task-name-10kb", "headers", _ct_headers(TaskName="t" * 10_240), 200, "done", 1,
         _ignored("task_name", "TaskName")),
    Case("task-name-unicode", "headers", _ct_headers(TaskName="tâche-✓-タスク".encode()), 200, "done", 1,
         _ignored("task_name", "TaskName")),
    Case("task-name-c1-control", "headers", _ct_headers(TaskName=b"task-\x9b2J-1"), 200, "done", 1,
         _ignored("task_name", "TaskName"), note="bytes 0x80-0x9f pass the HTTP parser: ignored by the app"),
    Case("queue-name-10kb", "headers", _ct_headers(QueueName="q" * 10_240), 200, "done", 1,
         _ignored("queue_name", "QueueName")),
    Case("previous-response-not-a-status", "headers", _ct_headers(TaskPreviousResponse="1000"), 200, "done", 1,
         _ignored("previous_response", "TaskPreviousResponse")),
    Case("retry-reason-10kb", "headers", _ct_headers(TaskRetryReason="r" * 10_240), 200, "done", 1,
         _ignored("retry_reason", "TaskRetryReason")),
    Case("all-headers-absurd", "headers", _ct_headers(**_ABSURD_HEADERS), 200, "done", 1, {
        "queue_name": None, "task_name": None, "retry_count": None, "execution_count": None, "eta": None,
        "previous_response": None, "retry_reason": None,
        "invalid": sorted(_IGNORED + name for name in _ABSURD_HEADERS)}),
    Case("absurd-headers-without-token", "headers", lambda k: Request(
        (("Content-Type", "application/json"), *k.cloud_tasks("x", **_ABSURD_HEADERS)), k.body("matrix.probe")), 401),
    # ---- malformed HTTP: answered 400 by uvicorn/httptools before the app (Cloud Tasks never sends it)
    Case("control-char-nul-in-header", "http", _ct_headers(TaskName=b"task\x00name"), 400,
         check=_answered_by_server),
    Case("control-char-escape-in-header", "http", _http(**{"X-Note": b"\x1b[2Jcleared"}), 400,
         check=_answered_by_server),
    Case("content-length-negative", "http", _content_length(lambda n: "-1"), 400, check=_answered_by_server),
    Case("content-length-duplicated", "http", _content_length(str, lambda n: str(n - 1)), 400,
         check=_answered_by_server),
]  # fmt: skip


# --------------------------------------------------------------------------- running


@dataclass
class CaseResult:
    case: Case
    status: int
    outcome: str | None
    runs: int
    as_documented: bool
    still_serving: bool
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class MatrixResult:
    """Totals over the matrix; ``ok`` when every case was answered as documented."""

    cases: int = 0
    rejected_as_documented: int = 0
    """Cases answered exactly as documented for them (status, body status, runs, what was seen)."""
    handler_runs: int = 0
    """Handler runs the documented behaviour does not allow (must be 0)."""
    documented_runs: int = 0
    """Handler runs the documentation implies (``headers`` cases: the bad header is ignored, the
    task runs once), which are not counted in ``handler_runs``."""
    server_errors: int = 0
    """Answers 500-599 (must be 0)."""
    no_answer: int = 0
    """Requests that got no HTTP answer at all (must be 0)."""
    still_serving: int = 0
    """Cases after which a valid task was still served correctly (must equal ``cases``)."""
    seconds: float = 0.0
    results: list[CaseResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            self.cases > 0
            and self.rejected_as_documented == self.cases
            and self.still_serving == self.cases
            and self.handler_runs == 0
            and self.server_errors == 0
            and self.no_answer == 0
        )

    @property
    def failures(self) -> list[str]:
        return [f"{r.case.name}: {'; '.join(r.problems)}" for r in self.results if r.problems]

    def add(self, result: CaseResult) -> None:
        self.results.append(result)
        self.cases += 1
        self.rejected_as_documented += result.as_documented
        self.still_serving += result.still_serving
        self.handler_runs += max(0, result.runs - result.case.runs)
        self.documented_runs += min(result.runs, result.case.runs)
        self.server_errors += 500 <= result.status <= 599
        self.no_answer += result.status == 0

    def summary(self) -> str:
        return (
            f"{self.cases} cases: {self.rejected_as_documented} answered as documented, "
            f"{self.handler_runs} unexpected handler runs ({self.documented_runs} documented runs for ignored headers), "
            f"{self.server_errors} 5xx, {self.no_answer} without answer, still serving after {self.still_serving}; "
            f"{self.seconds:.1f} s"
        )


class MatrixWorker:
    """Certificate endpoint + one live worker (verification on) for the matrix; a context manager."""

    def __init__(self, log_dir: Path | None = None) -> None:
        self._own_dir = log_dir is None
        self.workdir = Path(tempfile.mkdtemp(prefix="worker-matrix-")) if log_dir is None else Path(log_dir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.procs = loadgen.Processes()
        self.port = 0
        self.material: CaseMaterial | None = None
        self.process: Any = None

    def __enter__(self) -> MatrixWorker:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        private_pem, certs_path = loadgen.make_key_material(self.workdir)
        cert_pem = json.loads(certs_path.read_text())[KID]
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization

        public_pem = (
            x509.load_pem_x509_certificate(cert_pem.encode())
            .public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )
        _, certs_url = loadgen.start_cert_server(self.procs, certs_path, self.workdir / "certs.log")
        self.port = loadgen.free_port()
        env = {key: value for key, value in os.environ.items() if not key.startswith("WORKER_")}
        env.update(
            PYTHONPATH=str(loadgen.REPO),
            PYTHONUNBUFFERED="1",
            WORKER_AUTH="required",
            WORKER_AUDIENCE=AUDIENCE,
            WORKER_INVOKER_EMAIL=INVOKER,
            WORKER_CERTS_URL=certs_url,
            WORKER_CLOCK_SKEW_SECONDS=str(CLOCK_SKEW),
            WORKER_MAX_BODY_BYTES=str(MAX_BODY),
        )
        args = loadgen.uvicorn_args("reliability.worker_matrix:create_matrix_app", self.port, "--factory")
        self.process = self.procs.start(args, env, self.workdir / "worker.log")
        self.material = CaseMaterial(private_pem, cert_pem, public_pem)
        loadgen.wait_http(self.port, "/healthz", self.process)

    def stop(self) -> None:
        self.procs.stop_all()
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def log(self) -> str:
        path = self.workdir / "worker.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # ---- checks

    def runs(self) -> int:
        """Handler runs so far (asked through an authenticated ``matrix.runs`` task)."""
        assert self.material is not None
        answer = exchange(self.port, Request(self._auth_only(), self.material.body("matrix.runs", {})))
        document = answer.json()
        if answer.status != 200 or not isinstance(document, dict) or document.get("status") != "done":
            raise RuntimeError(f"cannot read the handler run count: {answer.status} {answer.body[:200]!r}")
        return int(document["result"]["runs"])

    def _auth_only(self) -> tuple[tuple[str, HeaderValue], ...]:
        assert self.material is not None
        return (("Content-Type", "application/json"), ("Authorization", f"Bearer {self.material.token()}"))

    def serves_valid_task(self) -> str | None:
        """None if a valid task is served correctly now; otherwise what went wrong."""
        assert self.material is not None
        if self.process.poll() is not None:
            return f"worker process exited with {self.process.returncode}"
        data = {"check": "still serving", "n": time.time_ns()}
        headers = self.material.headers("valid")
        name = dict(headers)["X-CloudTasks-TaskName"]
        before = self.runs()
        answer = exchange(self.port, Request(headers, self.material.body("echo", data)))
        document = answer.json()
        expected = {"status": "done", "task": name, "kind": "echo", "result": data}
        if answer.status != 200 or document != expected:
            return f"valid task answered {answer.status} {answer.body[:300]!r}"
        after = self.runs()
        if after != before + 1:
            return f"valid task ran the handler {after - before} times"
        return None

    def check(self, case: Case) -> CaseResult:
        """Send one case, then check the answer, the handler runs and a valid task after it."""
        assert self.material is not None
        started = time.perf_counter()
        problems: list[str] = []
        before = self.runs()
        request = case.build(self.material)
        answer = exchange(self.port, request)
        runs = self.runs() - before
        document = answer.json()
        outcome = document.get("status") if isinstance(document, dict) else None
        if answer.status == 0:
            problems.append(f"no HTTP answer ({answer.error})")
        elif answer.status >= 500:
            problems.append(f"server error {answer.status}: {answer.body[:300]!r}")
        if answer.status != case.status:
            problems.append(f"status {answer.status}, documented {case.status}: {answer.body[:300]!r}")
        if case.outcome is not None and outcome != case.outcome:
            problems.append(f"body status {outcome!r}, documented {case.outcome!r}")
        if answer.status and document is None and case.group != "http":
            problems.append(f"answer is not JSON: {answer.body[:200]!r}")
        if answer.status == 401 and not answer.headers.get("www-authenticate", "").startswith("Bearer"):
            problems.append("401 without WWW-Authenticate: Bearer")
        if runs != case.runs:
            problems.append(f"handler ran {runs} times, documented {case.runs}")
        if case.seen is not None:
            seen = (document or {}).get("result", {}).get("seen", {}) if isinstance(document, dict) else {}
            for key, value in case.seen.items():
                got = sorted(seen.get(key) or []) if key == "invalid" else seen.get(key)
                if got != value:
                    problems.append(f"handler saw {key}={str(got)[:120]}, documented {str(value)[:120]}")
        if case.check is not None:
            problem = case.check(request, answer, self)
            if problem:
                problems.append(problem)
        as_documented = not problems
        serving_problem = self.serves_valid_task()
        if serving_problem:
            problems.append(f"not serving afterwards: {serving_problem}")
        return CaseResult(
            case=case,
            status=answer.status,
            outcome=outcome,
            runs=runs,
            as_documented=as_documented,
            still_serving=serving_problem is None,
            problems=problems,
            seconds=time.perf_counter() - started,
        )


def run_matrix(
    cases: Sequence[Case] | None = None,
    *,
    log_dir: Path | None = None,
    progress: Callable[[CaseResult], None] | None = None,
) -> MatrixResult:
    """Start a certificate endpoint and a live worker (verification on), send every case, stop
    both; ``log_dir`` keeps the worker's log there. ``progress`` is called after each case."""
    result = MatrixResult()
    started = time.perf_counter()
    with MatrixWorker(log_dir) as worker:
        for case in CASES if cases is None else cases:
            case_result = worker.check(case)
            result.add(case_result)
            if progress is not None:
                progress(case_result)
    result.seconds = time.perf_counter() - started
    return result


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Hostile and malformed requests against a live worker.")
    parser.add_argument("--log-dir", type=Path, help="keep the worker's log here")
    parser.add_argument("-k", dest="select", help="only cases whose name contains this")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # so the finally blocks stop the servers
    cases = [c for c in CASES if not args.select or args.select in c.name]

    def show(r: CaseResult) -> None:
        mark = "ok  " if r.ok else "FAIL"
        print(f"{mark} {r.case.group:13s} {r.case.name:36s} -> {r.status} {r.outcome or '':11s} runs={r.runs}"
              + (f"  {'; '.join(r.problems)}" if r.problems else ""), flush=True)

    try:
        result = run_matrix(cases, log_dir=args.log_dir, progress=show)
    except KeyboardInterrupt:
        print("interrupted: the worker and certificate endpoint have been stopped", file=sys.stderr)
        return 130
    print(result.summary())
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
