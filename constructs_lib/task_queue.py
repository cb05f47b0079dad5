"""TaskQueue: the Cloud Tasks queue, its rate limits and retry policy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from constructs import Construct

from . import defaults
from ._framework import (
    CloudTasksQueue,
    CloudTasksQueueHttpTarget,
    CloudTasksQueueHttpTargetOidcToken,
    CloudTasksQueueHttpTargetUriOverride,
    CloudTasksQueueHttpTargetUriOverridePathOverride,
    CloudTasksQueueIamMember,
    CloudTasksQueueRateLimits,
    CloudTasksQueueRetryConfig,
    CloudTasksQueueStackdriverLoggingConfig,
    ITerraformDependable,
    newer_provider_fields,
)
from .ids import member_identity, stable_id
from .options import QueueOptions
from .policy import PolicyCheck
from .random_provider import RandomId, ensure_random_provider
from .validation import (
    LOCATION,
    LOCATION_TEXT,
    QUEUE_ID,
    QUEUE_ID_TEXT,
    ConfigurationError,
    check_email,
    check_member,
    check_non_empty,
    check_optional_project,
    check_string,
    is_token,
)

ENQUEUER_ROLE = "roles/cloudtasks.enqueuer"
NAME_SUFFIX_BYTES = 3  # 6 hex characters: 16 million names per base name


@dataclass(frozen=True)
class QueueRouting:
    """Queue-level routing (the queue's ``http_target``): every task is sent to ``host`` +
    ``path`` with an OIDC token for ``service_account_email`` and ``audience``, whatever URL
    or token the task itself names. Opt-in; the provider needs both email and audience."""

    host: str
    service_account_email: str
    audience: str
    path: str = defaults.TASK_PATH


class TaskQueue(Construct):
    """One ``google_cloud_tasks_queue`` with explicit rate limits, retries and logging."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        name: str,
        location: str = defaults.LOCATION,
        options: QueueOptions | None = None,
        routing: QueueRouting | None = None,
        project: str | None = None,
        depends_on: Sequence[ITerraformDependable] = (),
    ) -> None:
        """
        :param name: queue id, 1 to 100 letters, digits or hyphens (93 with
            ``options.name_suffix``).
        :param location: region. Default: ``us-central1``.
        :param options: rates, retries, logging (:class:`QueueOptions`).
            Default: ``QueueOptions()``.
        :param routing: queue-level routing override. Default: none (tasks name their URL).
        :param project: project. Default: the provider's project.
        :param depends_on: resources to create first (such as the APIs). Default: none.
        """
        options = QueueOptions() if options is None else options
        check_task_queue_arguments(name=name, location=location, options=options,
                                   routing=routing, project=project)
        max_dispatches_per_second = options.max_dispatches_per_second
        max_concurrent_dispatches = options.max_concurrent_dispatches
        max_attempts = options.max_attempts
        min_backoff_seconds = options.min_backoff_seconds
        max_backoff_seconds = options.max_backoff_seconds
        max_doublings = options.max_doublings
        max_retry_duration_seconds = options.max_retry_duration_seconds
        log_sampling_ratio = options.log_sampling_ratio
        name_suffix = options.name_suffix

        super().__init__(scope, id_)
        self.location = location
        self.options = options
        self.name_suffix: RandomId | None = None
        if name_suffix:
            ensure_random_provider(self)
            self.name_suffix = RandomId(self, "name-suffix", byte_length=NAME_SUFFIX_BYTES,
                                        prefix=f"{name}-", keepers={"name": name})
        self.resource = CloudTasksQueue(
            self,
            "queue",
            name=self.name_suffix.hex if self.name_suffix else name,
            location=location,
            project=project,
            **newer_provider_fields(deletion_policy=defaults.DELETION_POLICY,
                                    desired_state=defaults.QUEUE_DESIRED_STATE),
            rate_limits=CloudTasksQueueRateLimits(
                max_dispatches_per_second=max_dispatches_per_second,
                max_concurrent_dispatches=max_concurrent_dispatches,
            ),
            retry_config=CloudTasksQueueRetryConfig(
                max_attempts=max_attempts,
                min_backoff=_duration(min_backoff_seconds),
                max_backoff=_duration(max_backoff_seconds),
                max_doublings=max_doublings,
                max_retry_duration=_duration(max_retry_duration_seconds),
            ),
            # At 0 the block is left out: unset means "no logs", and the provider would
            # drop a 0 ratio and show the block as a change on every plan.
            stackdriver_logging_config=CloudTasksQueueStackdriverLoggingConfig(
                sampling_ratio=log_sampling_ratio
            ) if is_token(log_sampling_ratio) or log_sampling_ratio != 0 else None,
            http_target=_http_target(routing) if routing else None,
            depends_on=list(depends_on) or None,
        )
        self._enqueuers: dict[str, CloudTasksQueueIamMember] = {}
        PolicyCheck.apply_to(self)  # every stack using the library is checked at synth

    @property
    def name(self) -> str:
        """The queue id."""
        return self.resource.name

    @property
    def path(self) -> str:
        """``projects/P/locations/L/queues/Q``, as ``create_task`` wants it."""
        return self.resource.id

    def grant_enqueue(self, member: str) -> CloudTasksQueueIamMember:
        """Let ``member`` create tasks in this queue (``roles/cloudtasks.enqueuer`` on this
        queue only, additive ``google_cloud_tasks_queue_iam_member``)."""
        check_member("member", member)
        key = member_identity(self, member)
        if key not in self._enqueuers:
            # The id is derived from role and member: other grants keep their addresses.
            self._enqueuers[key] = CloudTasksQueueIamMember(
                self,
                stable_id(self, "enqueuer", ENQUEUER_ROLE, key),
                name=self.resource.name,
                location=self.resource.location,
                project=self.resource.project,
                role=ENQUEUER_ROLE,
                member=member,
            )
        return self._enqueuers[key]


def check_task_queue_arguments(*, name: str, location: str = defaults.LOCATION,
                               options: QueueOptions | None = None,
                               routing: QueueRouting | None = None,
                               project: str | None = None) -> None:
    """Validate :class:`TaskQueue` keywords without declaring anything."""
    check_optional_project("project", project)
    if options is not None and not isinstance(options, QueueOptions):
        raise ConfigurationError("options", "a QueueOptions", options)
    if options is not None and options.name_suffix:
        # <name>-<hex> must still be a queue id of at most 100 characters.
        room = 100 - 1 - 2 * NAME_SUFFIX_BYTES
        check_string("name", name, pattern=rf"[A-Za-z0-9-]{{1,{room}}}",
                     allowed=f"1 to {room} characters of letters, digits and hyphens (with "
                             f"name_suffix, {2 * NAME_SUFFIX_BYTES + 1} more are added)")
    check_string("name", name, pattern=QUEUE_ID, allowed=QUEUE_ID_TEXT)
    check_string("location", location, pattern=LOCATION, allowed=LOCATION_TEXT)
    if routing is not None:
        _check_routing(routing)


def _duration(seconds: float) -> str:
    """Seconds as a protobuf Duration string ("1.5s", "1000000.5s"), at most nanosecond
    precision and never in exponent form; tokens pass through."""
    if is_token(seconds):
        return f"{seconds}s"
    exact = Decimal(repr(float(seconds))).quantize(Decimal("1e-9"), rounding=ROUND_HALF_EVEN)
    text = format(exact, "f").rstrip("0").rstrip(".")
    return f"{text or '0'}s"


def _check_routing(routing: QueueRouting) -> None:
    if not isinstance(routing, QueueRouting):
        raise ConfigurationError("routing", "a QueueRouting", routing)
    check_non_empty("routing.host", routing.host)
    if not is_token(routing.host) and ("/" in routing.host or ":" in routing.host):
        raise ConfigurationError("routing.host", "a bare host name without scheme or path",
                                 routing.host)
    check_email("routing.service_account_email", routing.service_account_email)
    check_non_empty("routing.audience", routing.audience)
    check_string("routing.path", routing.path, pattern=r"/[^\s?#]*",
                 allowed="an absolute path starting with /")


def _http_target(routing: QueueRouting) -> CloudTasksQueueHttpTarget:
    return CloudTasksQueueHttpTarget(
        http_method="POST",
        uri_override=CloudTasksQueueHttpTargetUriOverride(
            scheme="HTTPS",
            host=routing.host,
            path_override=CloudTasksQueueHttpTargetUriOverridePathOverride(path=routing.path),
            uri_override_enforce_mode="ALWAYS",
        ),
        oidc_token=CloudTasksQueueHttpTargetOidcToken(
            service_account_email=routing.service_account_email,
            audience=routing.audience,
        ),
    )
