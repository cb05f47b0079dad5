"""A local stand-in for Google's OIDC signer, as Cloud Tasks uses it: loopback only, not Google's.

For an HTTP task carrying an ``oidc_token``, Cloud Tasks sends ``Authorization: Bearer <ID
token>``, a JWT Google signs for the token's service account (reference:
cloud.google.com/tasks/docs/reference/rest/v2/OidcToken, and the ``HttpRequest.oidc_token``
docstring of google-cloud-tasks 2.26). Locally nobody signs as Google, so the Cloud Tasks
emulator (``app.emulator``) uses :class:`OidcSigner`:

* a 2048-bit RSA key generated per signer (per emulator run), never written to disk, and a
  self-signed certificate for it; its key id (``kid``) is the SHA-1 of the public key, 40 hex
  characters like Google's;
* RS256 tokens signed with google-auth's ``RSASigner`` and ``jwt.encode``: header ``alg``,
  ``kid``, ``typ``; claims ``iss`` ``https://accounts.google.com``, ``aud`` (the token's
  audience, or the task URL when it names none, as the OidcToken reference says), ``azp`` and
  ``sub`` (Google puts the account's numeric unique id in both; here it is derived from the
  e-mail, see :func:`service_account_subject`), ``email``, ``email_verified`` true, ``iat`` and
  ``exp`` one hour later (Google's ID-token lifetime);
* its certificates served by :class:`CertsServer` on loopback in the format of
  https://www.googleapis.com/oauth2/v1/certs (``{kid: PEM certificate}``, with a
  ``Cache-Control: max-age``), which the worker's ``CertCache`` and google-auth's
  ``id_token.verify_token(certs_url=...)`` read: hand its URL to the worker as
  ``WORKER_CERTS_URL``.

What it does not model: Google's key rotation (one key per run); the real unique id of an
account; any check that the account exists, is in the queue's project or that the task's
creator may act as it (Cloud Tasks refuses such a task at create time; the emulator accepts
it); the queue-level ``http_target`` OIDC override; and OAuth access tokens (``oauth_token``,
the job path's token), which the emulator still does not send. A token is reused for the same
account and audience until ``reuse_margin`` seconds before it expires (whether Google reuses
its tokens is not documented; the worker accepts either).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from google.auth import jwt
from google.auth.crypt import RSASigner

ISSUER = "https://accounts.google.com"
TOKEN_LIFETIME_S = 3600
"""Google's ID tokens are valid for one hour."""
REUSE_MARGIN_S = 300
"""A cached token is re-minted once less than this is left of it."""
CERTS_PATH = "/oauth2/v1/certs"
"""The path of Google's PEM certificate document, kept so the URL reads like Google's."""
CERTS_MAX_AGE_S = 3600
"""``Cache-Control: max-age`` of the certificate document (the key never changes in a run)."""
CERT_VALIDITY = datetime.timedelta(days=2)
KEY_BITS = 2048


@dataclass(frozen=True, kw_only=True)
class SigningKey:
    """One RSA key: its ``kid``, the private key and its self-signed certificate (PEM)."""

    kid: str
    private_key: rsa.RSAPrivateKey
    cert_pem: str


def self_signed_certificate(
    key: rsa.RSAPrivateKey, common_name: str, *, not_before: datetime.datetime,
    not_after: datetime.datetime,
) -> x509.Certificate:
    """A self-signed certificate for ``key`` (what Google's certificate endpoint lists)."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )


def generate_key(*, common_name: str = "local OIDC stand-in") -> SigningKey:
    """A fresh RSA key with a self-signed certificate valid from an hour ago for two days."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    now = datetime.datetime.now(datetime.UTC)
    cert = self_signed_certificate(
        key, common_name, not_before=now - datetime.timedelta(hours=1),
        not_after=now + CERT_VALIDITY)
    public_der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return SigningKey(
        kid=hashlib.sha1(public_der).hexdigest(),
        private_key=key,  # an id, not security
        cert_pem=cert.public_bytes(serialization.Encoding.PEM).decode("ascii"),
    )


def service_account_subject(email: str) -> str:
    """A stable 21-digit numeric id for ``email``, shaped like a service account's unique id
    (what Google puts in ``sub`` and ``azp``); the real one is assigned by IAM."""
    digest = int.from_bytes(hashlib.sha256(email.encode("utf-8")).digest()[:16], "big")
    return "1" + str(digest % 10**20).zfill(20)


class OidcSigner:
    """Signs Google-shaped ID tokens with one local key; thread-safe."""

    def __init__(
        self,
        *,
        key: SigningKey | None = None,
        lifetime_s: int = TOKEN_LIFETIME_S,
        reuse_margin_s: int = REUSE_MARGIN_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not 0 <= reuse_margin_s < lifetime_s:
            raise ValueError(f"reuse_margin_s must be between 0 and lifetime_s - 1 "
                             f"({lifetime_s - 1}), "
                             f"but {reuse_margin_s} was given")
        self.key = key or generate_key()
        self.lifetime_s = lifetime_s
        self.reuse_margin_s = reuse_margin_s
        self._clock = clock
        self._signer = RSASigner(self.key.private_key, key_id=self.key.kid)
        self._tokens: dict[tuple[str, str], tuple[str, int]] = {}
        self._lock = threading.Lock()
        self.signed = 0
        """Tokens signed so far (reused ones are not counted again)."""

    @property
    def kid(self) -> str:
        return self.key.kid

    def certs_document(self) -> bytes:
        """``{kid: PEM certificate}``, as https://www.googleapis.com/oauth2/v1/certs serves it."""
        return json.dumps({self.key.kid: self.key.cert_pem}).encode("utf-8")

    def claims(self, *, audience: str, email: str) -> dict[str, Any]:
        """The claims of a token Google would issue now for ``email`` and ``audience``."""
        if not audience:
            raise ValueError("audience must be a non-empty string, but '' was given")
        if not email:
            raise ValueError("email must be a service account e-mail, but '' was given")
        now = int(self._clock())
        subject = service_account_subject(email)
        return {"aud": audience, "azp": subject, "email": email, "email_verified": True,
                "exp": now + self.lifetime_s, "iat": now, "iss": ISSUER, "sub": subject}

    def token(self, *, audience: str, email: str) -> str:
        """A signed token for ``email`` and ``audience`` (reused until near its expiry)."""
        with self._lock:
            cached = self._tokens.get((email, audience))
            if cached is not None and cached[1] - self._clock() > self.reuse_margin_s:
                return cached[0]
            claims = self.claims(audience=audience, email=email)
            token = jwt.encode(self._signer, claims).decode("ascii")
            self._tokens[(email, audience)] = (token, claims["exp"])
            self.signed += 1
            return token


class CertsServer:
    """Serves one signer's certificate document on ``host`` (loopback) at :data:`CERTS_PATH`;
    a context manager. Any other path gets 404."""

    def __init__(self, signer: OidcSigner, *, host: str = "127.0.0.1", port: int = 0) -> None:
        document = signer.certs_document()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # http.server's name
                if self.path.split("?", 1)[0] != CERTS_PATH:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Cache-Control", f"public, max-age={CERTS_MAX_AGE_S}, "
                                                  f"must-revalidate, no-transform")
                self.send_header("Content-Length", str(len(document)))
                self.end_headers()
                self.wfile.write(document)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None
        self.host = host

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """What to set ``WORKER_CERTS_URL`` to."""
        return f"http://{self.host}:{self.port}{CERTS_PATH}"

    def start(self) -> CertsServer:
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="oidc-certs",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket (idempotent)."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> CertsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
