"""TaskAlerts: opt-in monitoring of one queue and its worker.

One log-based metric counts the worker's dead-letter lines, and four alert policies watch
the queue. Metric types, kinds and labels (cloud.google.com/monitoring/api/metrics_gcp#gcp-
cloudtasks; resource cloud_tasks_queue, labels project_id, location, queue_id:
cloud.google.com/monitoring/api/resources#tag_cloud_tasks_queue):

* ``cloudtasks.googleapis.com/queue/depth``: GAUGE, INT64, tasks in the queue;
* ``cloudtasks.googleapis.com/queue/task_attempt_count``: DELTA, INT64, attempts, label
  ``response_code`` (we count every value that is not a success, see SUCCESS_CODES);
* ``cloudtasks.googleapis.com/queue/task_attempt_delays``: DELTA, DISTRIBUTION, in ms,
  scheduled time to actual attempt time;
* ``logging.googleapis.com/user/<metric name>``: our DELTA INT64 log-based metric.

The dead-letter filter matches the line the worker logs once per dead-lettered attempt
(contract of issue 9): on Cloud Run (``resource.type="cloud_run_revision"``), this service,
``severity=ERROR`` and ``jsonPayload.dead_letter=true``; tests/infra/test_alerts.py runs
the worker and checks its line against the parsed filter.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from constructs import Construct

from . import defaults
from ._framework import ITerraformDependable, newer_provider_fields
from .options import AlertOptions
from .policy import PolicyCheck
from .validation import (
    CLOUD_RUN_NAME,
    CLOUD_RUN_NAME_TEXT,
    PROJECT_ID,
    PROJECT_ID_TEXT,
    ConfigurationError,
    check_string,
)

QUEUE_RESOURCE = "cloud_tasks_queue"
DEPTH_METRIC = "cloudtasks.googleapis.com/queue/depth"
ATTEMPTS_METRIC = "cloudtasks.googleapis.com/queue/task_attempt_count"
DELAYS_METRIC = "cloudtasks.googleapis.com/queue/task_attempt_delays"
USER_METRIC_PREFIX = "logging.googleapis.com/user/"
# What the worker's dead-letter line carries (issue 9 contract), as filter conditions.
DEAD_LETTER_SEVERITY = "ERROR"
DEAD_LETTER_FIELD = "dead_letter"
# An answer that acknowledged the task. Sources disagree on how response_code is written
# (an HTTP status such as "200", or the canonical code "OK"/"ok" Cloud Tasks logs): the
# filter accepts each form of success, so every other value counts as a failing attempt.
SUCCESS_CODES = 'monitoring.regex.full_match("(?i)ok|2[0-9][0-9]")'


def dead_letter_filter(service_name: str) -> str:
    """The Cloud Logging filter of the worker's dead-letter lines on ``service_name``."""
    return " AND ".join((
        'resource.type="cloud_run_revision"',
        f'resource.labels.service_name="{service_name}"',
        f"severity={DEAD_LETTER_SEVERITY}",
        f"jsonPayload.{DEAD_LETTER_FIELD}=true",
    ))


class TaskAlerts(Construct):
    """``google_logging_metric`` for dead letters and ``google_monitoring_alert_policy``
    for backlog, failing attempts, dispatch lag and dead letters of one queue."""

    def __init__(self, scope: Construct, id_: str, *, project: str, service_name: str,
                 queue_name: str, options: AlertOptions,
                 depends_on: Sequence[ITerraformDependable] = ()) -> None:
        """
        :param project: project of the metric and the policies (the queue's).
        :param service_name: the worker service whose dead-letter lines are counted.
        :param queue_name: the queue id (``queue_id`` label; a token is fine).
        :param options: :class:`AlertOptions` with ``enabled=True`` and channels.
        :param depends_on: resources to create first (the Monitoring and Logging APIs).
        """
        check_string("project", project, pattern=PROJECT_ID, allowed=PROJECT_ID_TEXT)
        check_string("service_name", service_name, pattern=CLOUD_RUN_NAME,
                     allowed=CLOUD_RUN_NAME_TEXT)
        if not isinstance(options, AlertOptions) or not options.enabled:
            raise ConfigurationError("options", "an AlertOptions with enabled=True", options)
        # Imported here: a stack without alerts never loads these provider submodules.
        from ._framework import LoggingMetric, LoggingMetricMetricDescriptor
        from ._framework import (
            MonitoringAlertPolicyConditionsConditionThresholdAggregations as Aggregations,
        )

        super().__init__(scope, id_)
        self.options = options
        deps = list(depends_on) or None
        self.dead_letter_metric = LoggingMetric(
            self, "dead-letters", project=project,
            name=f"{defaults.DEAD_LETTER_METRIC_PREFIX}{service_name}",
            **newer_provider_fields(deletion_policy=defaults.DELETION_POLICY),
            description=f"Dead letters of the Cloud Run service {service_name}",
            filter=dead_letter_filter(service_name),
            metric_descriptor=LoggingMetricMetricDescriptor(
                metric_kind="DELTA", value_type="INT64", unit="1"),
            disabled=False, depends_on=deps)
        queue = (f'resource.type="{QUEUE_RESOURCE}" AND resource.labels.queue_id="{queue_name}"')
        period = f"{options.alignment_period_seconds}s"
        self.backlog = self._policy(
            "backlog", project, f"{service_name}: queue backlog",
            f'metric.type="{DEPTH_METRIC}" AND {queue}',
            threshold=options.backlog_threshold,
            duration=options.backlog_duration_seconds,
            aggregations=Aggregations(
                alignment_period=period, per_series_aligner="ALIGN_MAX"),
            text=f"More than {options.backlog_threshold} tasks wait in queue {queue_name}: "
                 "the worker is down, too slow, or refusing them.", deps=deps)
        self.failing_attempts = self._policy(
            "failing-attempts", project, f"{service_name}: failing attempts",
            f'metric.type="{ATTEMPTS_METRIC}" AND {queue} AND '
            f"NOT metric.labels.response_code={SUCCESS_CODES}",
            threshold=options.failing_attempts_threshold,
            duration=options.failing_attempts_duration_seconds,
            aggregations=Aggregations(
                alignment_period=period, per_series_aligner="ALIGN_SUM",
                cross_series_reducer="REDUCE_SUM", group_by_fields=["resource.label.queue_id"]),
            text=f"Attempts of queue {queue_name} get non-2xx answers: they are retried "
                 "and may end as dead letters.", deps=deps)
        self.dispatch_lag = self._policy(
            "dispatch-lag", project, f"{service_name}: dispatch lag",
            f'metric.type="{DELAYS_METRIC}" AND {queue}',
            threshold=options.dispatch_lag_threshold_seconds * 1000,  # the metric is in ms
            duration=options.dispatch_lag_duration_seconds,
            aggregations=Aggregations(
                alignment_period=period, per_series_aligner="ALIGN_PERCENTILE_99"),
            text=f"Tasks of queue {queue_name} start later than scheduled: the queue is "
                 "throttled (rate limits, or Cloud Tasks backing off after 429/503).",
            deps=deps)
        self.dead_letters = self._policy(
            "dead-letter-count", project, f"{service_name}: dead letters",
            f'metric.type="{USER_METRIC_PREFIX}{self.dead_letter_metric.name}" AND '
            'resource.type="cloud_run_revision"',
            threshold=options.dead_letter_threshold,
            duration=options.dead_letter_duration_seconds,
            aggregations=Aggregations(
                alignment_period=period, per_series_aligner="ALIGN_SUM",
                cross_series_reducer="REDUCE_SUM"),
            text=f"The worker {service_name} gave up on tasks: see the dead-letter store "
                 "(docs/stores.md) and replay them once fixed.", deps=deps)
        PolicyCheck.apply_to(self)

    def _policy(self, id_: str, project: str, title: str, filter_: str, *, threshold: float,
                duration: int, aggregations: Any, text: str, deps: Any) -> Any:
        """One ``google_monitoring_alert_policy`` with one threshold condition."""
        from ._framework import (
            MonitoringAlertPolicy,
            MonitoringAlertPolicyConditions,
            MonitoringAlertPolicyConditionsConditionThreshold,
            MonitoringAlertPolicyConditionsConditionThresholdTrigger,
            MonitoringAlertPolicyDocumentation,
        )

        options = self.options
        return MonitoringAlertPolicy(
            self, id_, project=project, display_name=title, combiner="OR", enabled=True,
            **newer_provider_fields(deletion_policy=defaults.DELETION_POLICY),
            severity=options.severity,
            notification_channels=list(options.notification_channels),
            documentation=MonitoringAlertPolicyDocumentation(content=text,
                                                             mime_type="text/markdown"),
            conditions=[MonitoringAlertPolicyConditions(
                display_name=title,
                condition_threshold=MonitoringAlertPolicyConditionsConditionThreshold(
                    filter=filter_, comparison="COMPARISON_GT", threshold_value=threshold,
                    duration=f"{duration}s", aggregations=[aggregations],
                    trigger=MonitoringAlertPolicyConditionsConditionThresholdTrigger(count=1)),
            )],
            depends_on=deps)
