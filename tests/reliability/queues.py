"""Cloud Tasks clients and stack outputs for the fault tests' paused queues."""

from __future__ import annotations

import grpc
from google.auth.credentials import AnonymousCredentials
from google.cloud import tasks_v2
from google.cloud.tasks_v2.services.cloud_tasks.transports import CloudTasksGrpcTransport

from app.enqueue import StackOutputs

PROJECT, LOCATION = "fault-tests", "us-central1"


def client_for(address: str, interceptor: grpc.UnaryUnaryClientInterceptor | None = None
               ) -> tuple[tasks_v2.CloudTasksClient, grpc.Channel]:
    """A Cloud Tasks client over an insecure channel (optionally intercepted); close the channel."""
    channel = grpc.insecure_channel(address)
    if interceptor is not None:
        channel = grpc.intercept_channel(channel, interceptor)
    transport = CloudTasksGrpcTransport(channel=channel, credentials=AnonymousCredentials())
    return tasks_v2.CloudTasksClient(transport=transport), channel


def outputs_for(queue_path: str) -> StackOutputs:
    """Outputs for a paused queue: the URL is never called."""
    return StackOutputs(service_url="http://127.0.0.1:9", audience="http://127.0.0.1:9", queue_path=queue_path,
                        invoker_email=f"invoker@{PROJECT}.iam.gserviceaccount.com",
                        dispatch_deadline_seconds=600, stack="faults")
