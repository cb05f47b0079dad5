"""Errors raised before any RPC is made: bad configuration or a bad task."""

from __future__ import annotations


class EnqueueError(ValueError):
    """Base class: something the caller gave is wrong; nothing was sent."""


class OutputsError(EnqueueError):
    """The outputs file is missing, malformed, or lacks an output."""


class TaskSpecError(EnqueueError):
    """A task is invalid (bad JSON, bad id, bad delay, over the size limit)."""
