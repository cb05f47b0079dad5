"""Names derived from what a thing is, never from where it sits in a list.

Terraform addresses come from construct ids, so a grant's id must not depend on how many
grants came before it: removing the first of three members would otherwise rename (destroy
and re-create) the other two. :func:`stable_id` hashes what the resource *is* (its role and
member); a member that is a token (an account created in the same stack) is hashed as the
Terraform expression it resolves to, which is as stable as the referenced resource's address.

:func:`fitted_id` derives account ids that must fit in 30 characters: kept whole when they
fit, otherwise cut and made unique with a hash of the full name, so two long names that share
a prefix never collide.
"""

from __future__ import annotations

import hashlib

from constructs import Construct

from ._framework import DefaultTokenResolver, StringConcat, TerraformStack, Tokenization
from .validation import is_token

HASH_CHARS = 8  # 32 bits: a collision among the members of one resource is not a concern


def short_hash(text: str, length: int = HASH_CHARS) -> str:
    """The first ``length`` hex digits of the SHA-256 of ``text`` (stable across runs)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def identity(scope: Construct, value: str) -> str:
    """``value`` as Terraform will read it: tokens resolved to their expressions."""
    if not is_token(value):
        return value
    resolved = Tokenization.resolve(
        value, scope=TerraformStack.of(scope),
        resolver=DefaultTokenResolver(StringConcat()), preparing=False,
    )
    return str(resolved)


def stable_id(scope: Construct, prefix: str, *parts: str) -> str:
    """A construct id ``<prefix>-<hash>`` where the hash covers ``parts`` (resolved)."""
    text = "\n".join(identity(scope, part) for part in parts)
    return f"{prefix}-{short_hash(text)}"


def fitted_id(stem: str, suffix: str, *, max_length: int = 30) -> str:
    """``<stem><suffix>`` when it fits in ``max_length``; otherwise the stem is cut and a
    hash of the whole stem is added: ``<cut stem>-<hash6><suffix>``, unique per stem."""
    whole = f"{stem}{suffix}"
    if len(whole) <= max_length:
        return whole
    tag = f"-{short_hash(stem, 6)}"
    room = max_length - len(tag) - len(suffix)
    return f"{stem[:room].rstrip('-')}{tag}{suffix}"


def member_identity(scope: Construct, member: str) -> str:
    """A member as IAM compares it: the part after the type is case-insensitive except for
    principal:// and principalSet:// (the provider's iamMemberCaseDiffSuppress), so
    ``user:Alice@x.com`` and ``user:alice@x.com`` are one grant with one address."""
    resolved = identity(scope, member)
    kind, sep, rest = resolved.partition(":")
    if is_token(member) or not sep or kind in ("principal", "principalSet"):
        return resolved
    return f"{kind}:{rest.lower()}"
