"""Property-based test of what an unauthenticated caller controls before (and around) the
token check: request headers, including the ``X-CloudTasks-*`` and ``X-Cloud-Trace-Context``
headers the worker parses before it looks at ``Authorization``, the ``Authorization`` header
itself, and the body's size and framing. Requests go as raw bytes over HTTP/1.1 to a live
worker (verification on, a project id so trace headers are parsed, a 1,000-byte body limit).

For every request: an answer comes back, it is one of 200, 400 (malformed HTTP, from the
server), 401, 403 or 413 (never a 5xx); without a valid ``Authorization`` nothing runs (never
200); with one, a body over the limit is never run either. Afterwards the worker has logged no
traceback and still serves a valid task. This is how the 500 on a huge trace span was found.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

import reliability.token_fuzz  # noqa: F401 - keeps Hypothesis' cache out of the repository
from reliability.worker_matrix import Request, exchange
from tests.plugins.worker import AUDIENCE, INVOKER

LIMIT = 1000
EXAMPLES = 250
SEED = 13
ANSWERS = {200, 400, 401, 403, 413}

TRACE = "105445aa7843bc8bf206b12000100000"
DIGITS = st.sampled_from([1, 10, 11, 19, 20, 21, 309, 4300, 4301, 6000]).flatmap(
    lambda n: st.sampled_from(["9" * n, "1" * n, "0" * n])
)
NUMBERS = st.one_of(
    st.integers().map(str),
    st.floats().map(repr),
    st.sampled_from(["nan", "inf", "-inf", "1e309", "1_000", "0x10", "+5", " 5 ", "5.", "-0"]),
    DIGITS,
)
ODD_TEXT = st.sampled_from(
    ["\u00b2", "\u00aa", "\u00bd", "\u0661\u0662", "\u212a", "\ufeff", "\u2028"]
)
TRACES = st.tuples(
    st.sampled_from([TRACE] * 5 + ["", "g" * 32, "x" * 65, "\u00aa" * 32, TRACE + "/"]),
    st.one_of(DIGITS, NUMBERS, st.just("")),
    st.sampled_from(["", ";o=1", ";o=0", ";", ";o=" + "1" * 5000, ";x"]),
).map(lambda t: f"{t[0]}/{t[1]}{t[2]}")
RAW = st.binary(max_size=48).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))
VALUES = st.one_of(
    NUMBERS.map(str.encode),
    ODD_TEXT.map(lambda t: t.encode("utf-8")),
    ODD_TEXT.map(lambda t: t.encode("latin-1", "replace")),
    st.text(max_size=32).map(lambda t: t.encode("utf-8").replace(b"\r", b"").replace(b"\n", b"")),
    st.sampled_from([b"q" * 501, b"t" * 10_000, b"", b" ", b"\t"]),
    RAW,
)
CLOUD_TASKS = [
    "X-CloudTasks-QueueName", "X-CloudTasks-TaskName", "X-CloudTasks-TaskRetryCount",
    "X-CloudTasks-TaskExecutionCount", "X-CloudTasks-TaskETA", "X-CloudTasks-TaskPreviousResponse",
    "X-CloudTasks-TaskRetryReason",
]  # fmt: skip
HEADER_VALUES = {
    "trace": st.tuples(st.just("X-Cloud-Trace-Context"), TRACES.map(str.encode)),
    "trace, any bytes": st.tuples(st.just("X-Cloud-Trace-Context"), VALUES),
    "cloud tasks": st.tuples(
        st.sampled_from(CLOUD_TASKS), st.one_of(NUMBERS.map(str.encode), VALUES)
    ),
    "other": st.tuples(
        st.sampled_from(["Content-Type", "User-Agent", "Content-Encoding", "X-Forwarded-For"]),
        VALUES,
    ),
    "made up": st.tuples(
        st.text("abcxyz-", min_size=1, max_size=8).map(lambda n: "X-" + n), VALUES
    ),
}
HEADERS = st.sampled_from(
    ["trace", "trace", "cloud tasks", "cloud tasks", "other", "made up"]
).flatmap(HEADER_VALUES.__getitem__)
"""A header line; the ones the worker parses before the token come up most."""


@dataclass(frozen=True)
class Auth:
    """How ``Authorization`` is written: ``valid`` ones carry the genuine token."""

    name: str
    valid: bool
    lines: Callable[[str], list[bytes]]


AUTHS = [
    Auth("bearer", True, lambda t: [b"Bearer " + t.encode()]),
    Auth("lower-case scheme", True, lambda t: [b"bearer " + t.encode()]),
    Auth("two spaces", True, lambda t: [b"Bearer  " + t.encode()]),
    Auth("missing", False, lambda t: []),
    Auth("twice", False, lambda t: [b"Bearer " + t.encode(), b"Bearer " + t.encode()]),
    Auth("scheme only", False, lambda t: [b"Bearer"]),
    Auth("basic", False, lambda t: [b"Basic dXNlcjpwYXNz"]),
    Auth("token cut", False, lambda t: [b"Bearer " + t[:-3].encode()]),
    Auth("token and more", False, lambda t: [b"Bearer " + t.encode() + b" x"]),
    Auth("huge", False, lambda t: [b"Bearer " + b"A" * 9000]),
    Auth("no dots", False, lambda t: [b"Bearer " + t.replace(".", "").encode()]),
]


@dataclass(frozen=True)
class Body:
    """The body and how its length is told; ``over``: more than the limit is sent or declared."""

    data: bytes
    framing: str  # "length", "chunked", or a Content-Length value written as is
    over: bool


def _task(size: int) -> bytes:
    """An echo task padded to ``size`` bytes (or as short as it gets)."""
    bare = b'{"kind":"echo","data":{"p":""}}'
    return bare[:-3] + b"x" * max(0, size - len(bare)) + bare[-3:]


def _body(size: int, kind: str, framing: str) -> Body:
    data = {"task": _task(size), "brace": b"{" * size, "raw": (bytes(range(256)) * 17)[:size]}[kind]
    return Body(data, framing, len(data) > LIMIT)


BODIES = st.one_of(
    st.builds(
        _body,
        st.sampled_from([0, 1, 999, 1000, 1001, 4096]),
        st.sampled_from(["task", "brace", "raw"]),
        st.sampled_from(["length", "chunked"]),
    ),
    # declared over the limit, the body never sent: answered before it is read
    st.sampled_from(["1001", "5000", "10485760"]).map(lambda n: Body(_task(10), n, True)),
    # not a length at all: the server refuses the request (400)
    st.sampled_from(["abc", "-1", "1,1", "9" * 30, "0x10"]).map(
        lambda n: Body(_task(10), n, False)
    ),
)


@st.composite
def requests(draw: st.DrawFn) -> tuple[Auth, list[tuple[str, bytes]], Body]:
    return draw(st.sampled_from(AUTHS)), draw(st.lists(HEADERS, max_size=6)), draw(BODIES)


@pytest.fixture
def project_worker(live_worker, cert_server) -> Any:
    return live_worker(
        WORKER_AUDIENCE=AUDIENCE,
        WORKER_INVOKER_EMAIL=INVOKER,
        WORKER_CERTS_URL=cert_server.url,
        WORKER_PROJECT_ID="test-project",
        WORKER_MAX_BODY_BYTES=str(LIMIT),
        WORKER_LOG_LEVEL="WARNING",
    )


def test_pre_auth_inputs_never_get_a_5xx(project_worker, make_token):
    token = make_token()
    seen: dict[int, int] = {}

    @seed(SEED)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(request=requests())
    def check(request: tuple[Auth, list[tuple[str, bytes]], Body]) -> None:
        auth, headers, body = request
        lines: list[tuple[str, bytes]] = [("Authorization", line) for line in auth.lines(token)]
        lines += headers
        if body.framing not in ("length", "chunked"):
            lines.append(("Content-Length", body.framing.encode()))
        answer = exchange(
            project_worker.port, Request(tuple(lines), body.data, body.framing == "chunked")
        )
        seen[answer.status] = seen.get(answer.status, 0) + 1
        size = f"{len(body.data)}-byte body ({body.framing})"
        described = f"{auth.name} auth, {size}, headers {headers!r:.300}"
        assert answer.status in ANSWERS, (
            f"answered {answer.status} {answer.error or ''} to {described}"
        )
        if answer.status == 200:
            assert auth.valid, f"ran without a valid token: {described}"
            assert not body.over, f"ran a body over {LIMIT} bytes: {described}"
            assert project_worker.process.poll() is None

    started = time.perf_counter()
    check()
    assert time.perf_counter() - started < 120
    # every kind of answer came up, so the properties above were exercised, not skipped
    assert {200, 400, 401, 413} <= set(seen), seen
    still = exchange(
        project_worker.port,
        Request(
            (("Authorization", f"Bearer {token}"), ("Content-Type", "application/json")), _task(50)
        ),
    )
    assert still.status == 200 and json.loads(still.body)["status"] == "done"
    assert "Traceback" not in project_worker.output()
