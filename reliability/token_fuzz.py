"""Differential fuzz of the worker's token check against google-auth (issue 13).

Tokens are built from raw JSON text, so duplicate keys, ``\\u`` escapes, odd literals (``NaN``,
``1e400``, huge integers, lone surrogates), wrong types and deep nesting all occur, and from odd
encodings: padding, both base64 alphabets, stray characters, missing or extra segments, other
character sets, sizes around the worker's 8,192-character limit. Most are signed with a key the
certificate endpoint publishes, so the parsers, not the signature, decide. Each token goes over
HTTP to two live workers: one with the verified-token cache (the token is sent twice, so the
second verdict comes from the cache) and one with ``WORKER_TOKEN_CACHE_SIZE=0``.

The reference is google-auth: ``google.auth.jwt.decode(token, certs=..., audience=...)`` (RS256
signature, ``iat``/``exp``) plus the documented checks: ``iss`` in {accounts.google.com,
https://accounts.google.com}, ``email`` == the invoker exactly, ``email_verified`` is ``true``.
For every token:

* every answer is 200 ``done``, 401, 403 or 503: the worker's own refusals, never a 500;
* the cached answer, the cached answer again and the uncached answer are the same;
* the worker accepts exactly when the reference, adjusted by :data:`DIFFERENCES`, accepts. Each
  deliberate difference is a rule written down here, with its reason, and the worker may differ
  from google-auth only through one of them: it never accepts a token google-auth and the
  documented checks refuse except under a :data:`LOOSER` rule.

``make test`` runs a few hundred tokens from a fixed seed (tests/reliability/test_token_fuzz.py);
``make reliability`` runs the long one::

    .venv/bin/python -m reliability.token_fuzz                  # 10,000 tokens, seed 2026
    .venv/bin/python -m reliability.token_fuzz --examples 2000 --seed 7
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import math
import os
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Hypothesis caches what it learns about the code under ./.hypothesis (even with database=None);
# keep that out of the repository. Read lazily, so this must come before the first test runs.
os.environ.setdefault(
    "HYPOTHESIS_STORAGE_DIRECTORY", os.path.join(tempfile.gettempdir(), "hypothesis-fuzz")
)

import hypothesis.strategies as st
import orjson
from hypothesis import HealthCheck, Phase, given, seed, settings

DEFAULT_EXAMPLES = 10_000
QUICK_EXAMPLES = 2_000
DEFAULT_SEED = 2026
MAX_TOKEN_CHARS = 8192
"""The worker's limit (``app.worker.auth.MAX_TOKEN_CHARS``), written again: this is the spec."""
MAX_JSON_DEPTH = 32
CLOCK_SKEW = 30
ISSUERS = ("accounts.google.com", "https://accounts.google.com")
TASK = b'{"kind":"echo","data":{"fuzz":true}}'
SIGNATURE_BYTES = 256  # RSA-2048


# --------------------------------------------------------------------------- the written list


@dataclass(frozen=True)
class Difference:
    """A deliberate difference from google-auth + the documented checks."""

    looser: bool
    """True: the worker accepts what the reference refuses; False: it refuses what it accepts."""
    what: str
    why: str


LOOSER: dict[str, Difference] = {
    "email_verified_string": Difference(
        True,
        '`email_verified` as the string "true"',
        "older Google ID tokens carried it as a string; Google signed it and it means the same, "
        'while 1, "True" or anything else is still refused',
    ),
    "clock_skew": Difference(
        True,
        "`exp` up to 30 s past and `iat` up to 30 s ahead",
        "WORKER_CLOCK_SKEW_SECONDS (30 s by default, 0 to 300) absorbs clock drift between Google "
        "and the instance; google-auth's `jwt.decode` defaults to 0 s. The token is still "
        "Google-signed for this audience and account",
    ),
}
STRICTER: dict[str, Difference] = {
    "token_size": Difference(
        False,
        "tokens over 8,192 characters",
        "Google's ID tokens are about 1 KB; a bound keeps parsing cheap for unauthenticated "
        "callers",
    ),
    "strict_base64url": Difference(
        False,
        "segments that are not strict base64url (stray characters, spaces, misplaced padding)",
        "google-auth's decoder silently drops characters outside the alphabet, so many texts "
        "would decode to one token; the worker takes only the canonical spelling (both alphabets, "
        "optional padding)",
    ),
    "strict_json": Difference(
        False,
        "JSON that is not RFC 8259 (NaN, Infinity, numbers beyond a double, lone surrogates)",
        "Python's json module accepts these extensions and google-auth then compares NaN or "
        "infinity as times (an `exp` of NaN never expires); the worker's parser (orjson) "
        "refuses them",
    ),
    "json_depth": Difference(
        False,
        f"a header or claims nested deeper than {MAX_JSON_DEPTH} levels",
        "Google's claims are one or two levels deep; deep nesting only costs time, and made "
        "google-auth raise RecursionError",
    ),
    "key_id_required": Difference(
        False,
        "a `kid` that is missing, empty or not a string",
        "google-auth then tries every published key; Google always names the key, and naming "
        "it is what lets the worker refresh on rotation instead of guessing",
    ),
    "numeric_times": Difference(
        False,
        "an `iat` or `exp` that is not a finite number (a boolean, for one)",
        "google-auth does arithmetic on whatever is there (`true` counts as 1 s after the epoch)",
    ),
    "nbf": Difference(
        False,
        "an `nbf` that is not a number or is more than 30 s in the future",
        "google-auth ignores `nbf`; RFC 7519 says a token must not be accepted before it",
    ),
}
DIFFERENCES: dict[str, Difference] = {**LOOSER, **STRICTER}


# --------------------------------------------------------------------------- the reference


@dataclass(frozen=True)
class Identity:
    """What the workers under test are configured for."""

    audience: str
    invoker: str
    kid: str
    spare_kid: str
    """A second published key id (Google's endpoint lists two or more)."""


class Reference:
    """google-auth's ``jwt.decode`` plus the documented claim checks, and the written list."""

    def __init__(self, identity: Identity, certs: Mapping[str, str]) -> None:
        self.identity = identity
        self.certs = dict(certs)

    def accepts(self, token: str, *, skew: int = 0, string_verified: bool = False) -> bool:
        """The reference verdict; ``skew`` / ``string_verified`` apply the :data:`LOOSER` rules."""
        from google.auth import jwt

        try:
            payload = jwt.decode(
                token, certs=self.certs, audience=self.identity.audience, clock_skew_in_seconds=skew
            )
        except Exception:  # noqa: BLE001 - any exception (RecursionError included) is a refusal
            return False
        verified = payload.get("email_verified")
        return (
            payload.get("iss") in ISSUERS
            and payload.get("email") == self.identity.invoker
            and (verified is True or (string_verified and verified == "true"))
        )

    def looser_rules(self, token: str) -> list[str]:
        """The :data:`LOOSER` rules under which the reference accepts ``token``."""
        alone = {
            "clock_skew": {"skew": CLOCK_SKEW},
            "email_verified_string": {"string_verified": True},
        }
        rules = [name for name, options in alone.items() if self.accepts(token, **options)]
        if not rules and self.accepts(token, skew=CLOCK_SKEW, string_verified=True):
            rules = list(alone)  # needs both
        return rules

    @staticmethod
    def stricter_rules(token: str, now: float) -> list[str]:
        """The :data:`STRICTER` rules ``token`` falls under (read as google-auth reads it)."""
        from google.auth import jwt

        fired = []
        if len(token) > MAX_TOKEN_CHARS:
            fired.append("token_size")
        segments = token.split(".")
        if not all(_strict_base64url(segment) for segment in segments):
            fired.append("strict_base64url")
        decoded = [_loose_base64url(segment) for segment in segments[:2]]
        if any(raw is not None and _python_json(raw) and not _orjson(raw) for raw in decoded):
            fired.append("strict_json")
        header = _quietly(lambda: jwt.decode_header(token))
        payload = _quietly(lambda: jwt.decode(token, verify=False))
        if any(_depth(value) > MAX_JSON_DEPTH for value in (header, payload) if value is not None):
            fired.append("json_depth")
        if isinstance(header, Mapping):
            kid = header.get("kid")
            if not (isinstance(kid, str) and kid):
                fired.append("key_id_required")
        if isinstance(payload, Mapping):
            if any(not _finite(payload[name]) for name in ("iat", "exp") if name in payload):
                fired.append("numeric_times")
            if "nbf" in payload and not (
                _finite(payload["nbf"]) and payload["nbf"] <= now + CLOCK_SKEW
            ):
                fired.append("nbf")
        return fired

    def expects_acceptance(self, token: str, now: float) -> bool:
        """The reference with every deliberate difference applied: what the worker must say."""
        looser = self.accepts(token, skew=CLOCK_SKEW, string_verified=True)
        return looser and not self.stricter_rules(token, now)


def _strict_base64url(segment: str) -> bool:
    try:
        base64.b64decode(segment + "=" * (-len(segment) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _loose_base64url(segment: str) -> bytes | None:
    """The bytes google-auth decodes a segment to (its decoder drops stray characters)."""
    try:
        return base64.urlsafe_b64decode(segment.encode() + b"=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        return None


def _python_json(raw: bytes) -> bool:
    try:
        json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):
        return False
    return True


def _orjson(raw: bytes) -> bool:
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError:
        return False
    return True


def _quietly(read: Callable[[], Any]) -> Any:
    try:
        return read()
    except Exception:  # noqa: BLE001 - unreadable: the rule does not apply
        return None


def _depth(value: Any) -> int:
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        pending.extend((child, depth + 1) for child in children)
    return deepest


def _finite(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


# --------------------------------------------------------------------------- building tokens


@dataclass(frozen=True)
class Time:
    """A time claim: seconds from the moment the token is built, and how it is written."""

    offset: int
    form: str = "int"

    def render(self, now: float) -> str:
        value = now + self.offset
        if self.form == "float":
            return repr(round(value, 3))
        if self.form == "exponent":
            return f"{value:.12e}"
        if self.form == "string":
            return json.dumps(str(int(value)))
        return str(int(value))


Value = str | Time
Member = tuple[str, Value]
"""A member as raw JSON text: the name literal (quotes included) and the value."""


@dataclass(frozen=True)
class JsonText:
    """A JSON object written out by hand."""

    members: tuple[Member, ...]
    separators: tuple[str, str] = (",", ":")
    wrapper: str = "plain"
    charset: str = "utf-8"

    def render(self, now: float, extra: Sequence[Member] = ()) -> bytes:
        comma, colon = self.separators
        body = comma.join(
            f"{name}{colon}{value if isinstance(value, str) else value.render(now)}"
            for name, value in (*self.members, *extra)
        )
        text = {
            "plain": "{%s}",
            "bom": "\ufeff{%s}",
            "spaces": " \n\t{%s}\r\n ",
            "garbage": "{%s}x",
            "trailing_comma": "{%s,}",
            "array": "[{%s}]",
            "twice": "{%s}{%s}",
            "nul": "{%s}\x00",
        }[self.wrapper].replace("%s", body)
        if self.charset == "utf-16":
            return text.encode("utf-16")
        if self.charset == "latin-1":
            return text.encode("latin-1", "replace")
        if self.charset == "bad_byte":
            return text.encode() + b"\xff"
        return text.encode()


@dataclass(frozen=True)
class Encoding:
    """How one segment's bytes become text."""

    kind: str = "b64url"
    junk: str = ""
    position: float = 0.0

    def apply(self, data: bytes) -> str:
        url = base64.urlsafe_b64encode(data).decode()
        if self.kind == "padded":
            return url
        if self.kind == "standard":
            return base64.b64encode(data).decode().rstrip("=")
        if self.kind == "over_padded":
            return url + "="
        if self.kind == "empty":
            return ""
        text = url.rstrip("=")
        if self.kind == "junk":
            cut = int(self.position * len(text))
            if self.junk.isspace():  # inside only: around the token it is HTTP, not token, text
                cut = min(max(cut, 1), len(text) - 1)
                if cut < 1:
                    return text
            return text[:cut] + self.junk + text[cut:]
        return text


@dataclass(frozen=True)
class TokenSpec:
    """Everything drawn for one token; :meth:`Keys.build` turns it into text."""

    header: JsonText
    payload: JsonText
    encodings: tuple[Encoding, Encoding, Encoding]
    signature: str = "valid"
    layout: str = "three"
    target_chars: int | None = None
    """Pad the payload so the token has at least this many characters (sizes around the limit)."""


class Keys:
    """The signing keys: ``signing`` (published as ``kid``), ``spare`` (published as
    ``spare_kid``) and ``stranger`` (not published)."""

    def __init__(self, signing_pem: str, spare_pem: str, stranger_pem: str) -> None:
        from google.auth import crypt

        self.signers = {
            name: crypt.RSASigner.from_string(pem)
            for name, pem in (
                ("valid", signing_pem),
                ("spare", spare_pem),
                ("stranger", stranger_pem),
            )
        }

    def build(self, spec: TokenSpec, now: float) -> str:
        header = spec.encodings[0].apply(spec.header.render(now))
        sign_chars = len(spec.encodings[2].apply(bytes(SIGNATURE_BYTES)))

        def payload(pad: int) -> str:
            extra = [] if pad < 0 else [('"pad"', json.dumps("x" * pad))]
            return spec.encodings[1].apply(spec.payload.render(now, extra))

        body = payload(-1)
        if spec.target_chars is not None:
            low, high = 0, spec.target_chars  # smallest pad that reaches the target (bisection)
            while low < high:
                middle = (low + high) // 2
                if len(header) + len(payload(middle)) + sign_chars + 2 >= spec.target_chars:
                    high = middle
                else:
                    low = middle + 1
            body = payload(low)
        signing_input = f"{header}.{body}"
        signature = self._signature(spec.signature, signing_input)
        sig = spec.encodings[2].apply(signature)
        return {
            "three": f"{header}.{body}.{sig}",
            "two": f"{header}.{body}",
            "four": f"{header}.{body}.{sig}.{sig}",
            "trailing_dot": f"{header}.{body}.{sig}.",
            "leading_dot": f".{header}.{body}.{sig}",
        }[spec.layout]

    def _signature(self, how: str, signing_input: str) -> bytes:
        data = signing_input.encode()
        if how == "empty":
            return b""
        if how == "other_text":
            return self.signers["valid"].sign(data + b"x")
        if how == "truncated":
            return self.signers["valid"].sign(data)[:-1]
        return self.signers[how].sign(data)


# --------------------------------------------------------------------------- strategies


def _weighted(*groups: tuple[int, Sequence[Any]]) -> st.SearchStrategy:
    """A group chosen by its (small integer) weight, then one of its values; shrinks towards
    the first group's first value. Two short draws: Hypothesis favours small indexes in long
    lists, and ``one_of`` drops repeated branches, so neither can carry the weights."""
    picks = st.sampled_from(
        [index for index, (weight, _) in enumerate(groups) for _ in range(weight)]
    )
    members = [st.sampled_from(list(group)) for _, group in groups]

    @st.composite
    def weighted(draw: st.DrawFn) -> Any:
        return draw(members[draw(picks)])

    return weighted()


def _mostly(common: Sequence[Any], rare: Sequence[Any], odds: int = 12) -> st.SearchStrategy:
    """One of ``common`` about ``odds`` times in ``odds + 1``, else one of ``rare``."""
    return _weighted((odds, common), (1, rare))


def _escaped(text: str, every: bool = False) -> str:
    """A JSON string literal for ``text``, its first (or every) character written as an escape."""
    return (
        '"'
        + "".join(
            f"\\u{ord(c):04x}" if every or i == 0 else json.dumps(c)[1:-1]
            for i, c in enumerate(text)
        )
        + '"'
    )


def _deep(depth: int, as_object: bool = False) -> str:
    if as_object:
        return '{"a":' * depth + "1" + "}" * depth
    return "[" * depth + "1" + "]" * depth


DEPTHS = (2, 30, 31, 32, 33, 100, 990, 1000, 1023, 1024, 1025, 1100)
"""Around the worker's limit (a member's value at depth 31 sits at 32 in its object), Python's
recursion limit (about 1,000) and orjson's (1,024)."""
DEEP = tuple(_deep(depth, as_object) for depth in DEPTHS for as_object in (False, True))
ODD_LITERALS = (
    "NaN",
    "Infinity",
    "-Infinity",
    "1e400",
    "-1e400",
    "9" * 30,
    "18446744073709551616",
    "9" * 400,
    '"\\ud800"',
    '"\\udc00x"',
    "true",
    "false",
    "null",
    "[]",
    "{}",
    '""',
    "0",
    "-0",
    "1.5",
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)
"""Any JSON-ish value; floats include NaN and infinities, which ``json.dumps`` writes as the
non-standard literals, and integers are unbounded."""
EXTRA_MEMBER = st.tuples(st.text(max_size=6), JSON_VALUES, st.booleans()).map(
    lambda t: (json.dumps(t[0], ensure_ascii=t[2]), json.dumps(t[1], ensure_ascii=t[2]))
)


def _value(common: Sequence[str], rare: Sequence[str], odds: int = 12) -> st.SearchStrategy:
    """A member's raw JSON value: usually right, sometimes odd or deeply nested (one draw)."""
    return _mostly(common, [*rare, *ODD_LITERALS, *DEEP], odds)


def _time(common: Sequence[int], rare: Sequence[int]) -> st.SearchStrategy:
    """A time claim. Offsets stay at least 5 s from every boundary (0 s, and 30 s of skew), so
    the worker and google-auth, reading the clock a few milliseconds apart, see the same side."""
    forms = [
        Time(offset, form)
        for offset in (*common, *rare)
        for form in ("float", "exponent", "string")
    ]
    return _weighted(
        (24, [Time(offset) for offset in common]),
        (4, [Time(offset) for offset in rare]),
        (1, forms),
        (1, ['"soon"', *ODD_LITERALS, *DEEP]),
    )


def payload_claims(identity: Identity) -> dict[str, st.SearchStrategy]:
    """Each claim of a Cloud Tasks OIDC token and the odd values it may take instead."""
    aud, invoker = identity.audience, identity.invoker
    kelvin = invoker.replace("k", "\u212a")
    return {
        "iss": _value(
            ['"https://accounts.google.com"', '"accounts.google.com"'],
            [
                '"https:\\/\\/accounts.google.com"',
                _escaped("accounts.google.com", every=True),
                '"https://accounts.google.com/"',
                '"http://accounts.google.com"',
                '"HTTPS://ACCOUNTS.GOOGLE.COM"',
                '["https://accounts.google.com"]',
                '"https://accounts.google.com\\u0000"',
                '"https://evil.example.com"',
            ],
        ),
        "aud": _value(
            [json.dumps(aud)],
            [
                json.dumps(aud).replace("/", "\\/"),
                _escaped(aud),
                json.dumps(aud + "/"),
                json.dumps(aud.upper()),
                json.dumps([aud]),
                json.dumps([aud, "https://other.a.run.app"]),
                '"https://other.a.run.app"',
            ],
        ),
        "email": _value(
            [json.dumps(invoker)],
            [
                json.dumps(kelvin),
                json.dumps(kelvin, ensure_ascii=False),
                json.dumps(invoker.replace("k", "\u212a", 1)),
                json.dumps(invoker.replace("s", "\u017f")),
                json.dumps(invoker.replace("i", "\u0130")),
                json.dumps(invoker.upper()),
                json.dumps(invoker + " "),
                json.dumps(invoker.replace("@", "\uff20")),
                _escaped(invoker),
                _escaped(invoker, every=True),
                json.dumps([invoker]),
                json.dumps("someone-else@" + invoker.split("@", 1)[1]),
            ],
        ),
        "email_verified": _weighted(
            (24, ["true"]),
            (1, ['"true"']),
            (
                1,
                ['"True"', '"TRUE"', "1", "1.0", '"1"', "[true]", "True", '"true "', *ODD_LITERALS],
            ),
        ),
        "iat": _time([-5, -60, -3600], [10, 20, 45, 100, -7200, 86400]),
        "exp": _time([600, 3600], [8, -8, -20, -45, -100, -7200, 86400 * 3650]),
        "sub": _value(['"112233445566778899000"'], ["112233445566778899000"]),
        "azp": _value(['"112233445566778899000"'], ['""']),
    }


def header_members(identity: Identity) -> dict[str, st.SearchStrategy]:
    """The JOSE header's members and their odd values."""
    kid = identity.kid
    return {
        "alg": _value(
            ['"RS256"'],
            [
                _escaped("RS256", every=True),
                '"rs256"',
                '"RS256 "',
                '"none"',
                '"HS256"',
                '"ES256"',
                '"RS384"',
                '"PS256"',
                '["RS256"]',
                '{"RS256":1}',
                '"RS256\\u0000"',
            ],
        ),
        "kid": _value(
            [json.dumps(kid)],
            [
                _escaped(kid, every=True),
                json.dumps(identity.spare_kid),
                '"no-such-key"',
                json.dumps(kid + " "),
                json.dumps(kid.upper()),
                json.dumps([kid]),
            ],
        ),
        "typ": _value(['"JWT"'], ['"jwt"']),
    }


def _spellings(name: str) -> st.SearchStrategy[tuple[str, ...]]:
    """How a member name is written each time it appears: usually once, plainly; sometimes
    escaped, missing, or twice (a duplicate key: the last one counts in both parsers)."""
    plain, escaped = json.dumps(name), _escaped(name)
    return _mostly([(plain,)], [(escaped,), (), (plain, plain), (escaped, plain)], odds=30)


def json_text(
    members: dict[str, st.SearchStrategy], optional: Mapping[str, st.SearchStrategy] | None = None
) -> st.SearchStrategy[JsonText]:
    """An object with each member usually once, optional and stray members now and then, in
    any order, spaced and wrapped oddly, in an odd character set now and then."""
    spellings = {name: _spellings(name) for name in members}
    sometimes, now_and_then = _mostly([False], [True], odds=5), _mostly([False], [True], odds=8)
    extras = st.lists(EXTRA_MEMBER, min_size=1, max_size=2)

    @st.composite
    def build(draw: st.DrawFn) -> JsonText:
        written: list[Member] = []
        for name, values in members.items():
            written += [(spelling, draw(values)) for spelling in draw(spellings[name])]
        for name, values in (optional or {}).items():
            if draw(sometimes):
                written.append((json.dumps(name), draw(values)))
        if draw(now_and_then):
            written += draw(extras)
        if draw(now_and_then):
            written = list(draw(st.permutations(written)))
        return JsonText(tuple(written), *draw(_LAYOUTS))

    return build()


_LAYOUTS = _mostly(
    [((",", ":"), "plain", "utf-8")],
    [((", ", ": "), "plain", "utf-8"), ((" ,\n", " :\t"), "plain", "utf-8")]
    + [
        ((",", ":"), wrapper, "utf-8")
        for wrapper in ("bom", "spaces", "garbage", "trailing_comma", "array", "twice", "nul")
    ]
    + [((",", ":"), "plain", charset) for charset in ("utf-16", "latin-1", "bad_byte")],
    odds=6,
)
"""Separators, wrapper and character set, drawn together (one draw)."""
JUNK = ("!", "*", "~", "$", " ", "\t", "=", "==", "\\", "%2B", "-", "_", "+", "/")
ENCODING = _mostly(
    [Encoding()],
    [Encoding("padded"), Encoding("standard"), Encoding("over_padded"), Encoding("empty")]
    + [Encoding("junk", junk, where) for junk in JUNK for where in (0.0, 0.3, 0.7, 1.0)],
    odds=16,
)


def token_specs(identity: Identity) -> st.SearchStrategy[TokenSpec]:
    """Tokens near a valid one: each part is usually right and now and then odd."""
    nbf = {"nbf": _time([-100, 10], [45, 3600])}
    return st.builds(
        TokenSpec,
        header=json_text(header_members(identity)),
        payload=json_text(payload_claims(identity), nbf),
        encodings=st.tuples(ENCODING, ENCODING, ENCODING),
        signature=_mostly(
            ["valid"], ["spare", "stranger", "other_text", "empty", "truncated"], odds=16
        ),
        layout=_mostly(["three"], ["two", "four", "trailing_dot", "leading_dot"], odds=30),
        target_chars=_mostly(
            [None],
            [
                MAX_TOKEN_CHARS - 4,
                MAX_TOKEN_CHARS - 1,
                MAX_TOKEN_CHARS,
                MAX_TOKEN_CHARS + 1,
                MAX_TOKEN_CHARS + 3,
                4096,
            ],
            odds=12,
        ),
    )


# --------------------------------------------------------------------------- comparing


@dataclass(frozen=True)
class Answer:
    status: int
    reason: str | None
    done: bool

    @property
    def accepted(self) -> bool:
        return self.status == 200 and self.done

    def __str__(self) -> str:
        return f"{self.status} {'done' if self.done else self.reason or ''}".strip()


@dataclass
class Comparison:
    """One token: the three answers, the reference's verdict and the rules involved."""

    token: str
    answers: tuple[Answer, Answer, Answer]
    """Cached worker, the same again (from its cache), uncached worker."""
    reference: bool
    expected: bool
    rules: list[str] = field(default_factory=list)
    """The deliberate differences that separate the worker from the reference (if they differ)."""

    @property
    def accepted(self) -> bool:
        return self.answers[0].accepted

    def problems(self) -> list[str]:
        found = []
        for answer in self.answers:
            if not (answer.accepted or answer.status in (401, 403, 503)):
                found.append(f"answered {answer}")
        if len({str(answer) for answer in self.answers}) > 1:
            found.append(
                "cached and uncached verdicts differ: " + " / ".join(map(str, self.answers))
            )
        if self.accepted != self.expected:
            found.append(
                f"worker {_verb(self.accepted)} ({self.answers[0]}), google-auth "
                f"{_verb(self.reference)}, the written differences say it should "
                f"{_verb(self.expected, '')} ({', '.join(self.rules) or 'none apply'})"
            )
        if self.accepted and not self.reference and not self.rules:
            found.append("accepted a token google-auth refuses, under no written difference")
        return [f"{problem}; token {self.token[:300]!r}" for problem in found]


def _verb(accepts: bool, ending: str = "s") -> str:
    return ("accept" if accepts else "refuse") + ending


class FuzzTarget:
    """Two live workers (cached, uncached), the keys and the reference; sends and compares."""

    def __init__(
        self,
        identity: Identity,
        keys: Keys,
        certs: Mapping[str, str],
        cached_url: str,
        uncached_url: str,
    ) -> None:
        import httpx

        self.identity = identity
        self.keys = keys
        self.reference = Reference(identity, certs)
        self._cached = httpx.Client(base_url=cached_url, timeout=15)
        self._uncached = httpx.Client(base_url=uncached_url, timeout=15)

    def close(self) -> None:
        self._cached.close()
        self._uncached.close()

    def __enter__(self) -> FuzzTarget:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def compare(self, spec: TokenSpec) -> Comparison:
        now = time.time()
        token = self.keys.build(spec, now)
        answers = (
            self._ask(self._cached, token),
            self._ask(self._cached, token),
            self._ask(self._uncached, token),
        )
        reference = self.reference.accepts(token)
        expected = self.reference.expects_acceptance(token, now)
        comparison = Comparison(token, answers, reference, expected)
        if comparison.accepted and not reference:
            comparison.rules = self.reference.looser_rules(token)
        elif reference and not comparison.accepted:
            comparison.rules = self.reference.stricter_rules(token, now)
        return comparison

    @staticmethod
    def _ask(client: Any, token: str) -> Answer:
        """POST the token; status 0 when no HTTP answer came back (the connection dropped)."""
        import httpx

        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        try:
            response = client.post("/tasks", content=TASK, headers=headers)
        except httpx.HTTPError as exc:
            return Answer(0, f"no answer: {type(exc).__name__}", False)
        challenge = response.headers.get("www-authenticate", "")
        reason = None
        if 'error_description="' in challenge:
            reason = challenge.split('error_description="', 1)[1].split('"', 1)[0]
        done = False
        if response.status_code == 200:
            done = _quietly(lambda: response.json().get("status")) == "done"
        return Answer(response.status_code, reason, done)


def explore(
    target: FuzzTarget, examples: int, seed_value: int, check: Callable[[Comparison], None]
) -> None:
    """Run ``examples`` generated tokens from ``seed_value`` through ``target``; ``check`` sees each
    comparison (raise in it to make Hypothesis shrink to a smallest failing token)."""

    @seed(seed_value)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=False,
        phases=(Phase.explicit, Phase.generate, Phase.shrink),
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    @given(spec=token_specs(target.identity))
    def run(spec: TokenSpec) -> None:
        check(target.compare(spec))

    run()


@dataclass
class Tally:
    """Figures over many comparisons."""

    tokens: int = 0
    both_accept: int = 0
    both_refuse: int = 0
    differences: Counter = field(default_factory=Counter)
    """Tokens on which the worker and google-auth differ, by the written rule(s) responsible."""
    statuses: Counter = field(default_factory=Counter)
    reasons: Counter = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    tokens_with_problems: int = 0
    at_limit: int = 0
    """Tokens within 8 characters of the size limit."""

    def add(self, comparison: Comparison) -> None:
        self.tokens += 1
        if comparison.accepted == comparison.reference:
            if comparison.accepted:
                self.both_accept += 1
            else:
                self.both_refuse += 1
        else:
            self.differences["+".join(comparison.rules) or "unexplained"] += 1
        for answer in comparison.answers:
            self.statuses[answer.status] += 1
        self.reasons[str(comparison.answers[0])] += 1
        if abs(len(comparison.token) - MAX_TOKEN_CHARS) <= 8:
            self.at_limit += 1
        problems = comparison.problems()
        if problems:
            self.tokens_with_problems += 1
            if len(self.problems) < 20:
                self.problems.extend(problems)

    def by_rule(self) -> Counter:
        """Differing tokens per written rule (a token may fall under several)."""
        counts: Counter = Counter()
        for key, count in self.differences.items():
            for rule in key.split("+"):
                counts[rule] += count
        return counts

    def differences_text(self) -> str:
        """``N differ from google-auth (rule n, ...)``, or that none do."""
        total = sum(self.differences.values())
        rules = ", ".join(f"{rule} {count}" for rule, count in sorted(self.by_rule().items()))
        return f"{total} differ from google-auth" + (f" ({rules})" if rules else "")

    @property
    def server_errors(self) -> int:
        return sum(
            count for status, count in self.statuses.items() if status >= 500 and status != 503
        )

    @property
    def ok(self) -> bool:
        return self.tokens_with_problems == 0 and self.both_accept > 0 and self.both_refuse > 0

    def summary(self) -> str:
        return (
            f"{self.tokens} tokens ({self.at_limit} within 8 characters of the size limit): "
            f"{self.both_accept} accepted and {self.both_refuse} refused by both; "
            f"{self.differences_text()}, each under a written difference "
            f"(a token may fall under several); {self.tokens_with_problems} with a problem "
            f"(unexplained verdict, cached != uncached, or an answer other than 200/401/403/503); "
            f"{self.server_errors} 5xx over {sum(self.statuses.values())} requests"
        )


# --------------------------------------------------------------------------- the long run


@dataclass
class Workers:
    """A certificate endpoint and two workers (cached, uncached) on 127.0.0.1, all stopped by
    :meth:`stop`; built from ``support/loadgen.py``'s process helpers."""

    workdir: Path
    target: FuzzTarget | None = None
    logs: list[Path] = field(default_factory=list)

    def __post_init__(self) -> None:
        from support import loadgen

        self._loadgen = loadgen
        self.procs = loadgen.Processes()

    def start(self) -> FuzzTarget:
        from support.tokens import make_key

        loadgen = self._loadgen
        identity = Identity(loadgen.AUDIENCE, loadgen.INVOKER, loadgen.KID, "bench-key-0")
        signing, spare, stranger = (
            make_key("fuzz signing"),
            make_key("fuzz spare"),
            make_key("fuzz stranger"),
        )
        certs = {identity.spare_kid: spare.cert_pem, identity.kid: signing.cert_pem}
        certs_path = self.workdir / "certs.json"
        certs_path.write_text(json.dumps(certs))
        _, certs_url = loadgen.start_cert_server(self.procs, certs_path, self.workdir / "certs.log")
        urls = []
        for name, cache in (("cached", None), ("uncached", "0")):
            port = loadgen.free_port()
            env = {key: value for key, value in os.environ.items() if not key.startswith("WORKER_")}
            env.update(
                PYTHONPATH=str(loadgen.REPO),
                PYTHONUNBUFFERED="1",
                WORKER_AUDIENCE=identity.audience,
                WORKER_INVOKER_EMAIL=identity.invoker,
                WORKER_CERTS_URL=certs_url,
                WORKER_LOG_LEVEL="WARNING",
            )
            if cache is not None:
                env["WORKER_TOKEN_CACHE_SIZE"] = cache
            log = self.workdir / f"worker-{name}.log"
            self.logs.append(log)
            process = self.procs.start(loadgen.uvicorn_args("app.worker.main:app", port), env, log)
            loadgen.wait_http(port, "/healthz", process)
            urls.append(f"http://127.0.0.1:{port}")
        keys = Keys(signing.private_pem, spare.private_pem, stranger.private_pem)
        self.target = FuzzTarget(identity, keys, certs, urls[0], urls[1])
        return self.target

    def tracebacks(self) -> int:
        return sum(
            log.read_text(errors="replace").count("Traceback") for log in self.logs if log.exists()
        )

    def stop(self) -> None:
        if self.target is not None:
            self.target.close()
        self.procs.stop_all()


@dataclass
class FuzzResult:
    tally: Tally
    seed: int
    examples: int
    elapsed: float
    tracebacks: int

    @property
    def ok(self) -> bool:
        return self.tally.ok and self.tally.server_errors == 0 and self.tracebacks == 0


def run_fuzz(
    examples: int = DEFAULT_EXAMPLES, seed_value: int = DEFAULT_SEED, log_dir: Path | None = None
) -> FuzzResult:
    """The long run: start the endpoint and both workers, fuzz, stop everything."""
    workdir = Path(tempfile.mkdtemp(prefix="token-fuzz-")) if log_dir is None else log_dir
    workdir.mkdir(parents=True, exist_ok=True)
    workers = Workers(workdir)
    tally = Tally()
    started = time.perf_counter()
    try:
        explore(workers.start(), examples, seed_value, tally.add)
        tracebacks = workers.tracebacks()
    finally:
        workers.stop()
        if log_dir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    return FuzzResult(tally, seed_value, examples, time.perf_counter() - started, tracebacks)


def describe_differences() -> Iterator[str]:
    """The written list, one line per difference (for docs and the command line)."""
    for name, difference in DIFFERENCES.items():
        side = "accepts" if difference.looser else "refuses"
        yield f"{name}: the worker {side} {difference.what}. Why: {difference.why}."


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Differential token fuzz: the worker against google-auth."
    )
    parser.add_argument("--examples", type=int, default=DEFAULT_EXAMPLES, help="tokens to generate")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--log-dir", type=Path, help="keep the workers' logs here")
    parser.add_argument(
        "--list", action="store_true", help="print the written differences and exit"
    )
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(describe_differences()))
        return 0
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        result = run_fuzz(args.examples, args.seed, args.log_dir)
    except KeyboardInterrupt:
        print(
            "interrupted: the workers and certificate endpoint have been stopped", file=sys.stderr
        )
        return 130
    print(
        f"seed {result.seed}, {result.elapsed:.0f} s: {result.tally.summary()}; "
        f"{result.tracebacks} tracebacks in the worker logs"
    )
    for problem in result.tally.problems:
        print("  problem:", problem)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
