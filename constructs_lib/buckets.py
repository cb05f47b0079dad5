"""What the dead-letter store and the task-name store share: the bucket name rules, the
private bucket itself, and bucket-level grants.

Bucket names (cloud.google.com/storage/docs/buckets#naming): lowercase letters, digits,
``-``, ``_`` and ``.``; start and end with a letter or digit; 3 to 63 characters (names with
dots up to 222, each dot-separated part at most 63, and they need domain verification); not
an IP address in dotted-decimal form; not starting with ``goog``; not containing ``google``
or a close misspelling. Names are global and publicly visible, so a derived name carries a
hash of the project, not the project id itself.

Provider google 6.50.0 (``google/services/storage/resource_storage_bucket.go``) fills
unset fields: ``storage_class`` defaults to STANDARD, ``force_destroy`` to false,
``versioning``, ``public_access_prevention``, ``uniform_bucket_level_access`` and
``soft_delete_policy`` are computed (the API's or the organization's defaults), a lifecycle
condition's ``with_state`` is read back as ANY, and ``location`` is stored upper-case
(its StateFunc). Every one of them is written here as it will be read back.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from constructs import Construct

from . import defaults
from ._framework import (
    Fn,
    ITerraformDependable,
    StorageBucket,
    StorageBucketIamMember,
    StorageBucketLifecycleRule,
    StorageBucketLifecycleRuleAction,
    StorageBucketLifecycleRuleCondition,
    StorageBucketSoftDeletePolicy,
    StorageBucketVersioning,
    newer_provider_fields,
)
from .ids import identity, member_identity, short_hash, stable_id
from .validation import (
    CLOUD_RUN_NAME,
    CLOUD_RUN_NAME_TEXT,
    LOCATION,
    LOCATION_TEXT,
    PROJECT_ID,
    PROJECT_ID_TEXT,
    ConfigurationError,
    check_member,
    check_string,
    is_token,
)

BUCKET_NAME_TEXT = (
    "a bucket name: 3 to 63 lowercase letters, digits, '-' or '_' (up to 222 with dots, "
    "each dot-separated part at most 63), starting and ending with a letter or digit, not "
    "an IP address, not starting with 'goog', not containing 'google'")
_PLAIN = re.compile(r"[a-z0-9][a-z0-9_-]{1,61}[a-z0-9]")
_DOTTED = re.compile(r"[a-z0-9][a-z0-9_.-]{1,220}[a-z0-9]")
_IP = re.compile(r"[0-9]{1,3}(\.[0-9]{1,3}){3}")
_GOOGLE = re.compile(r"g[o0][o0]g[l1]e")  # "google" and close misspellings ("g00gle")
DAY_SECONDS = 86_400
PUBLIC_ACCESS_PREVENTION = "enforced"


def check_bucket_name(parameter: str, name: Any) -> None:
    """``name`` follows Cloud Storage's bucket name rules (a token is judged at apply)."""
    if is_token(name):
        return
    if not isinstance(name, str):
        raise ConfigurationError(parameter, BUCKET_NAME_TEXT, name)
    if "." in name:
        ok = (_DOTTED.fullmatch(name) is not None
              and all(0 < len(part) <= 63 for part in name.split("."))
              and _IP.fullmatch(name) is None)
    else:
        ok = _PLAIN.fullmatch(name) is not None
    if not ok or name.startswith("goog") or _GOOGLE.search(name):
        raise ConfigurationError(parameter, BUCKET_NAME_TEXT, name)


def derived_bucket_name(scope: Construct | None, *, project: str, service_name: str,
                        suffix: str) -> str:
    """``<service>-<hash8><suffix>``: the hash covers project and service name (so two
    projects' stores never collide, and the project id is not published in the name);
    a service name too long for 63 characters is cut."""
    # (without a scope, only to check the name's shape: a token project hashes as written)
    project_text = identity(scope, project) if scope is not None else project
    tag = short_hash(f"{project_text}/{service_name}")
    room = 63 - len(tag) - 1 - len(suffix)
    return f"{service_name[:room].rstrip('-_')}-{tag}{suffix}"


def private_bucket(scope: Construct, id_: str, *, name: str, location: str,
                   project: str | None, retention_days: int, soft_delete_days: int,
                   force_destroy: bool, labels: Mapping[str, str],
                   depends_on: Sequence[ITerraformDependable] = ()) -> StorageBucket:
    """A bucket nobody outside IAM can read: uniform bucket-level access, public access
    prevention enforced, no versioning, every object deleted ``retention_days`` after it
    was written."""
    return StorageBucket(
        scope, id_,
        name=name,
        # stored upper-case by the provider (StateFunc): written the way it is read back
        location=Fn.upper(location) if is_token(location) else location.upper(),
        project=project,
        storage_class=defaults.BUCKET_STORAGE_CLASS,
        uniform_bucket_level_access=True,
        public_access_prevention=PUBLIC_ACCESS_PREVENTION,
        versioning=StorageBucketVersioning(enabled=False),
        force_destroy=force_destroy,
        **newer_provider_fields(deletion_policy=defaults.DELETION_POLICY),
        soft_delete_policy=StorageBucketSoftDeletePolicy(
            retention_duration_seconds=soft_delete_days * DAY_SECONDS),
        lifecycle_rule=[StorageBucketLifecycleRule(
            action=StorageBucketLifecycleRuleAction(type="Delete"),
            condition=StorageBucketLifecycleRuleCondition(age=retention_days,
                                                          with_state="ANY"),
        )],
        labels=dict(labels) or None,
        depends_on=list(depends_on) or None,
    )


class BucketGrants:
    """Bucket-level, additive ``google_storage_bucket_iam_member`` grants, one per role
    and member, with ids derived from both (never a project role)."""

    bucket_name: str

    def _init_grants(self) -> None:
        self._grants: dict[tuple[str, str], StorageBucketIamMember] = {}

    def _grant(self, prefix: str, role: str, member: str) -> StorageBucketIamMember:
        check_member("member", member)
        scope: Construct = self  # type: ignore[assignment]
        # a role token (the custom role's name) is compared as the expression it becomes
        key = (identity(scope, role), member_identity(scope, member))
        if key not in self._grants:
            self._grants[key] = StorageBucketIamMember(
                scope, stable_id(scope, prefix, *key),
                bucket=self.bucket_name, role=role, member=member)
        return self._grants[key]


def check_store_arguments(*, scope: Construct | None, project: str, service_name: str,
                          location: str, options: object | None, existing_bucket: str | None,
                          kind: type, suffix: str) -> str:
    """Validate a store's keywords before anything is declared; return its bucket name."""
    check_string("project", project, pattern=PROJECT_ID, allowed=PROJECT_ID_TEXT)
    check_string("service_name", service_name, pattern=CLOUD_RUN_NAME,
                 allowed=CLOUD_RUN_NAME_TEXT)
    check_string("location", location, pattern=LOCATION, allowed=LOCATION_TEXT)
    if existing_bucket is not None:
        if options is not None:
            raise ConfigurationError(
                "options", f"left unset when existing_bucket is given (the bucket "
                f"{existing_bucket!r} is made elsewhere, with its own settings)", options)
        check_bucket_name("existing_bucket", existing_bucket)
        return existing_bucket
    if options is not None and not isinstance(options, kind):
        raise ConfigurationError("options", f"a {kind.__name__}", options)
    name = getattr(options, "bucket_name", None)
    if name is None:
        name = derived_bucket_name(scope, project=project, service_name=service_name,
                                   suffix=suffix)
        check_bucket_name("bucket_name (derived from the service name: set one)", name)
    return name
