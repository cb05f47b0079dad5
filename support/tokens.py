"""Key material and Google-shaped ID-token claims for tests, benchmarks and reliability runs,
so the three build tokens one way."""

from __future__ import annotations

import datetime
import time
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from app.oidc_standin import self_signed_certificate

TEST_SUBJECT = "112233445566778899000"


@dataclass(frozen=True)
class KeyPair:
    """An RSA key, its self-signed certificate (what Google's certificate endpoint lists)
    and its public key, as PEM text."""

    private_pem: str
    cert_pem: str
    public_pem: str


def make_key(common_name: str) -> KeyPair:
    """A fresh 2048-bit RSA key with a certificate valid from a day ago to a day ahead."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.datetime.now(datetime.UTC)
    cert = self_signed_certificate(
        key, common_name, not_before=now - datetime.timedelta(days=1),
        not_after=now + datetime.timedelta(days=1))
    return KeyPair(
        private_pem=key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode(),
        cert_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
        public_pem=key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo,
        ).decode(),
    )


def google_claims(audience: str, email: str, /, **overrides: Any) -> dict[str, Any]:
    """Claims of a valid Cloud Tasks OIDC token for ``email`` and ``audience``, issued now
    for an hour; ``overrides`` replace claims, and an override of None removes one."""
    now = int(time.time())
    values: dict[str, Any] = {
        "iss": "https://accounts.google.com",
        "aud": audience,
        "email": email,
        "email_verified": True,
        "sub": TEST_SUBJECT,
        "azp": TEST_SUBJECT,
        "iat": now,
        "exp": now + 3600,
    }
    values.update(overrides)
    return {key: value for key, value in values.items() if value is not None}
