"""DeadLetterStore: the private bucket where the worker keeps every task it gives up on.

Cloud Tasks has no dead-letter queue: a task whose retries run out is deleted with no
record. The worker writes such a task (and every permanently failing one) as one object
under ``dead-letters/`` with a create-only precondition, then acknowledges; a person (or
CI) replays it later. The runtime account may only create objects here
(``roles/storage.objectCreator``: storage.objects.create, no get, list or delete; a create
with ifGenerationMatch=0 never overwrites, so it needs no storage.objects.delete); the
replay identity may read and update object metadata through a custom role with exactly
storage.objects.get, .list and .update (no predefined role has those without delete).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from constructs import Construct

from . import defaults
from ._framework import (
    ITerraformDependable,
    StorageBucket,
    StorageBucketIamMember,
    newer_provider_fields,
)
from .buckets import BucketGrants, check_store_arguments, private_bucket
from .ids import identity, short_hash
from .options import DeadLetterOptions
from .policy import PolicyCheck

if TYPE_CHECKING:
    from ._framework import ProjectIamCustomRole


class DeadLetterStore(BucketGrants, Construct):
    """One private ``google_storage_bucket`` for dead letters (or an existing bucket, by
    name, with ``existing_bucket``), and the grants on it: :meth:`grant_write` for the
    runtime account, :meth:`grant_replay` for people and CI."""

    def __init__(self, scope: Construct, id_: str, *, project: str, service_name: str,
                 location: str = defaults.LOCATION, options: DeadLetterOptions | None = None,
                 existing_bucket: str | None = None,
                 depends_on: Sequence[ITerraformDependable] = ()) -> None:
        """
        :param project: project of the bucket (and of the replay role).
        :param service_name: the worker service's name: the stem of the derived bucket name.
        :param location: the bucket's region (the pattern's location). Default: us-central1.
        :param options: how the bucket is made (:class:`DeadLetterOptions`).
            Default: ``DeadLetterOptions()``. Not with ``existing_bucket``.
        :param existing_bucket: use this bucket, created elsewhere, by name: only the grants
            (and the replay role) are declared. Default: none (a bucket is created).
        :param depends_on: resources to create first (the Storage API). Default: none.
        """
        name = check_store_arguments(
            scope=scope, project=project, service_name=service_name, location=location,
            options=options, existing_bucket=existing_bucket, kind=DeadLetterOptions,
            suffix=defaults.DEAD_LETTER_BUCKET_SUFFIX)
        super().__init__(scope, id_)
        self.project = project
        self.name = name
        """The bucket's name, as written (known at synth time)."""
        self.options = options if existing_bucket is None else None
        self.resource: StorageBucket | None = None
        if existing_bucket is None:
            options = DeadLetterOptions() if options is None else options
            self.options = options
            self.resource = private_bucket(
                self, "bucket", name=name, location=location, project=project,
                retention_days=options.retention_days,
                soft_delete_days=options.soft_delete_retention_days,
                force_destroy=options.force_destroy, labels=options.labels,
                depends_on=depends_on)
        # grants reference the resource, so Terraform creates the bucket first
        self.bucket_name = self.resource.name if self.resource is not None else name
        self.replay_role: ProjectIamCustomRole | None = None
        self._init_grants()
        PolicyCheck.apply_to(self)

    def grant_write(self, member: str) -> StorageBucketIamMember:
        """Let ``member`` (the runtime account) create dead letters:
        ``roles/storage.objectCreator`` on this bucket only."""
        return self._grant("writer", defaults.DEAD_LETTER_WRITER_ROLE, member)

    def grant_replay(self, member: str) -> StorageBucketIamMember:
        """Let ``member`` (a person, a group, CI) read dead letters and mark them replayed:
        a custom role with storage.objects.get, .list and .update, granted on this bucket
        only (re-enqueueing needs :meth:`CloudTasksToCloudRun.grant_enqueue` too)."""
        return self._grant("replayer", self._replay_role().name, member)

    def _replay_role(self) -> ProjectIamCustomRole:
        if self.replay_role is None:
            # imported on first use: a stack without replay grants never loads it
            from ._framework import ProjectIamCustomRole

            tag = short_hash(f"{identity(self, self.project)}/{identity(self, self.name)}")
            self.replay_role = ProjectIamCustomRole(
                self, "replay-role", project=self.project,
                role_id=f"{defaults.REPLAY_ROLE_PREFIX}{tag}",
                title="Dead-letter replay",
                description=f"Read dead letters in {self.name} and mark them replayed",
                permissions=list(defaults.REPLAY_PERMISSIONS), stage="GA",
                **newer_provider_fields(deletion_policy=defaults.DELETION_POLICY))
        return self.replay_role
