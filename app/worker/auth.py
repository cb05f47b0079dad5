"""In-app check of the OIDC token Cloud Tasks sends (defence in depth behind Cloud Run IAM).

Signatures are checked with google-auth's ``RSAVerifier`` against keys that
:class:`~app.worker.certs.CertCache` parsed once; nothing is fetched per request. Only
``RS256`` is accepted: ``none``, ``HS256`` (the "public key as HMAC secret" confusion) and any
other algorithm are refused before a key is even looked up.

Outcomes: 401 when the token is missing, malformed, badly signed, expired, from another issuer
or signed by an unknown key; 403 when it is a genuine Google token meant for someone else
(other audience, other account, unverified email); :class:`CertsUnavailableError` (503) when no
keys can be had.

Tokens whose signature checked out are remembered (bounded, first-in first-out) until they
expire, so a token Cloud Tasks reuses costs one RSA verification, not one per task. The claims
are re-checked on every use, the cache is dropped when the key material changes (a key id
added, removed or mapped to another key), a hit is only trusted while the certificates
themselves are fresh, and an entry whose re-verification fails is evicted.

Nothing taken from the token is formatted into a message unless it is a short string, and its
JSON may nest at most :data:`MAX_JSON_DEPTH` levels: a header or claim built to be expensive to
print or walk (a list nested a thousand deep) is refused as malformed, never a 500.
"""

from __future__ import annotations

import base64
import binascii
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, overload

import orjson

from app.worker.certs import CertCache

ALLOWED_ISSUERS = frozenset({"accounts.google.com", "https://accounts.google.com"})
ALLOWED_ALGORITHM = "RS256"
MAX_TOKEN_CHARS = 8192
MAX_JSON_DEPTH = 32
"""Deepest nesting accepted in a token's header or claims (Google's are one or two levels)."""


class AuthError(Exception):
    """The request is not from the expected invoker: ``status_code`` is 401 or 403."""

    def __init__(self, status_code: int, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.reason = reason
        self.detail = detail


def _unauthenticated(reason: str, detail: str) -> AuthError:
    return AuthError(401, reason, detail)


def _forbidden(reason: str, detail: str) -> AuthError:
    return AuthError(403, reason, detail)


@dataclass(frozen=True, slots=True)
class Caller:
    """Who called, as proven by the token."""

    email: str
    subject: str | None
    expires_at: float


def bearer_token(authorization: str | None) -> str:
    """The token from ``Authorization: Bearer <token>``; 401 for anything else."""
    if not authorization:
        raise _unauthenticated("missing_token", "missing Authorization: Bearer token")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise _unauthenticated("malformed_header", "Authorization header must be 'Bearer <token>'")
    return token


class TokenVerifier:
    """Checks Google-signed ID tokens for one audience and one invoker account."""

    def __init__(
        self,
        certs: CertCache,
        *,
        audience: str,
        invoker_email: str,
        clock_skew: float = 30.0,
        cache_size: int = 1024,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.certs = certs
        self.audience = audience
        # Only the configured value is normalised, and only its ASCII letters: service-account
        # e-mails are lowercase ASCII, and the token's e-mail is compared exactly as Google signed
        # it (str.lower() would map U+212A KELVIN SIGN to "k" and let a look-alike through).
        self.invoker_email = _ascii_lower(invoker_email)
        self.clock_skew = clock_skew
        self.cache_size = cache_size
        self._clock = clock
        self._cache: dict[str, dict[str, Any]] = {}
        self._cache_version = certs.key_version
        self.signature_checks = 0

    async def authenticate(self, authorization: str | None) -> Caller:
        """Verify the ``Authorization`` header value and return the caller."""
        return await self.verify(bearer_token(authorization))

    async def verify(self, token: str) -> Caller:
        """Verify one compact JWS; raise :class:`AuthError` or ``CertsUnavailableError``."""
        if self.cache_size:
            if self._cache_version != self.certs.key_version:
                self._cache.clear()
                self._cache_version = self.certs.key_version
            claims = self._cache.get(token)
            if claims is not None and self.certs.fresh:
                return self._check_claims(claims)
        try:
            claims = await self._verify_signature(token)
        except AuthError:
            self._cache.pop(token, None)  # it no longer verifies: its old verdict must not return
            raise
        if self.cache_size and _number(claims.get("exp"), 0.0) > self._clock():
            if self._cache_version != self.certs.key_version:  # keys changed while we awaited them
                self._cache.clear()
                self._cache_version = self.certs.key_version
            if len(self._cache) >= self.cache_size:
                del self._cache[next(iter(self._cache))]
            self._cache[token] = claims
        return self._check_claims(claims)

    async def _verify_signature(self, token: str) -> dict[str, Any]:
        if len(token) > MAX_TOKEN_CHARS or not token.isascii():
            raise _unauthenticated("malformed_token", "token is not a compact JWT")
        parts = token.split(".")
        if len(parts) != 3:
            raise _unauthenticated("malformed_token", "token is not a compact JWT")
        header = _json_segment(parts[0])
        alg = header.get("alg")
        if alg != ALLOWED_ALGORITHM:
            raise _unauthenticated(
                "unsupported_alg", f"token algorithm must be RS256, got {_shown(alg)}"
            )
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise _unauthenticated("malformed_token", "token header has no key id")
        signature = _segment(parts[2])
        verifier = await self.certs.verifier_for(kid)
        if verifier is None:
            raise _unauthenticated("unknown_kid", "token is signed by an unknown key")
        self.signature_checks += 1
        if not signature or not verifier.verify(
            f"{parts[0]}.{parts[1]}".encode("ascii"), signature
        ):
            raise _unauthenticated("bad_signature", "token signature does not verify")
        return _json_segment(parts[1])

    def _check_claims(self, claims: dict[str, Any]) -> Caller:
        now = self._clock()
        iss = claims.get("iss")
        if not isinstance(iss, str) or iss not in ALLOWED_ISSUERS:  # a list is unhashable: no 500
            raise _unauthenticated("bad_issuer", "token issuer is not accounts.google.com")
        exp = _number(claims.get("exp"), None)
        iat = _number(claims.get("iat"), None)
        if exp is None or iat is None:
            raise _unauthenticated("malformed_token", "token lacks numeric exp/iat")
        if now > exp + self.clock_skew:
            raise _unauthenticated("expired", "token has expired")
        if iat > now + self.clock_skew:
            raise _unauthenticated("issued_in_future", "token is issued in the future")
        if "nbf" in claims:  # optional, but when present it must be a number (like exp/iat)
            nbf = _number(claims["nbf"], None)
            if nbf is None:
                raise _unauthenticated("malformed_token", "token has a non-numeric nbf")
            if nbf > now + self.clock_skew:
                raise _unauthenticated("not_yet_valid", "token is not valid yet")
        aud = claims.get("aud")
        if aud != self.audience:  # one string, as Google issues it; a list is refused
            raise _forbidden("wrong_audience", "token is for another audience")
        email = claims.get("email")
        if email != self.invoker_email:  # exactly: no case folding of what the token says
            raise _forbidden("wrong_account", "token is for another account")
        verified = claims.get("email_verified")  # true, or "true" as older Google tokens had it
        if verified is not True and verified != "true":  # not `in (True, "true")`: 1 == True
            raise _forbidden("email_not_verified", "token email is not verified")
        sub = claims.get("sub")
        return Caller(email=email, subject=sub if isinstance(sub, str) else None, expires_at=exp)


def _segment(value: str) -> bytes:
    try:
        return base64.b64decode(value + "=" * (-len(value) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise _unauthenticated("malformed_token", "token is not valid base64url") from None


def _json_segment(value: str) -> dict[str, Any]:
    try:
        decoded = orjson.loads(_segment(value))
    except orjson.JSONDecodeError:
        raise _unauthenticated("malformed_token", "token segment is not JSON") from None
    if not isinstance(decoded, dict):
        raise _unauthenticated("malformed_token", "token segment is not a JSON object")
    if not _nesting_within(decoded, MAX_JSON_DEPTH):
        raise _unauthenticated("malformed_token", "token segment is nested too deeply")
    return decoded


def _nesting_within(value: object, limit: int) -> bool:
    """True if ``value`` nests at most ``limit`` objects/arrays deep (iterative: no recursion)."""
    pending: list[tuple[object, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        children: Iterable[object]
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return False
        pending.extend((child, depth + 1) for child in children)
    return True


_JSON_TYPES = {dict: "an object", list: "an array", type(None): "null"}


def _shown(value: object) -> str:
    """A token value fit for a message: a short string's repr, otherwise only its JSON type."""
    if isinstance(value, str):
        return repr(value[:20])
    return _JSON_TYPES.get(type(value), type(value).__name__)


@overload
def _number(value: object, default: float) -> float: ...
@overload
def _number(value: object, default: None) -> float | None: ...
def _number(value: object, default: float | None) -> float | None:
    """``value`` as a finite float if it is a JSON number (not a boolean), else ``default``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return default
    try:
        number = float(value)
    except OverflowError:
        return default
    return number if math.isfinite(number) else default


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _ascii_lower(value: str) -> str:
    """``value`` with A-Z lowered and every other character left as it is."""
    return value.translate(_ASCII_LOWER)
