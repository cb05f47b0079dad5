"""Build the one Cloud Tasks client and the explicit retry policy for ``create_task``."""

from __future__ import annotations

import os
import re

import grpc
from google.api_core import exceptions as gexc
from google.api_core import retry as gretry
from google.auth import exceptions as auth_exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import tasks_v2
from google.cloud.tasks_v2.services.cloud_tasks.transports import CloudTasksGrpcTransport

from app.enqueue import defaults
from app.enqueue.errors import EnqueueError

#: Transient failures worth another attempt. ALREADY_EXISTS, INVALID_ARGUMENT,
#: PERMISSION_DENIED, NOT_FOUND and FAILED_PRECONDITION are final and never retried.
RETRYABLE = (
    gexc.ServiceUnavailable,  # UNAVAILABLE
    gexc.DeadlineExceeded,  # DEADLINE_EXCEEDED
    gexc.ResourceExhausted,  # RESOURCE_EXHAUSTED (quota / rate)
    gexc.InternalServerError,  # INTERNAL
)

_HOST_PORT_RE = re.compile(r"^(\[[0-9A-Fa-f:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$")


def default_retry(total_s: float = defaults.RETRY_TOTAL_S) -> gretry.Retry:
    """Bounded exponential backoff (with jitter) on transient gRPC errors."""
    return gretry.Retry(
        predicate=gretry.if_exception_type(*RETRYABLE),
        initial=defaults.RETRY_INITIAL_S,
        maximum=defaults.RETRY_MAXIMUM_S,
        multiplier=defaults.RETRY_MULTIPLIER,
        timeout=total_s,
    )


def emulator_target(flag: str | None) -> str | None:
    """The emulator address from ``--emulator`` or ``$CLOUD_TASKS_EMULATOR_HOST``, validated."""
    target = flag if flag is not None else os.environ.get(defaults.EMULATOR_ENV) or None
    if target is None:
        return None
    m = _HOST_PORT_RE.match(target.strip())
    if not m or not 0 < int(m.group(2)) < 65536:
        raise EnqueueError(f"emulator address {target!r} must be HOST:PORT, e.g. 127.0.0.1:9022")
    return target.strip()


def make_client(emulator: str | None = None) -> tasks_v2.CloudTasksClient:
    """A client for the emulator (insecure gRPC, anonymous) or for Cloud Tasks (ADC)."""
    if emulator:
        channel = grpc.insecure_channel(emulator)
        transport = CloudTasksGrpcTransport(channel=channel, credentials=AnonymousCredentials())
        return tasks_v2.CloudTasksClient(transport=transport)
    try:
        return tasks_v2.CloudTasksClient()
    except auth_exceptions.DefaultCredentialsError as exc:
        raise EnqueueError(
            "no Google Cloud credentials found (Application Default Credentials): run "
            "`gcloud auth application-default login` or set GOOGLE_APPLICATION_CREDENTIALS; "
            f"for a local emulator pass --emulator HOST:PORT ({exc})"
        ) from None
