"""Run a task kind as a Cloud Run job task: ``python -m app.job`` (docs/job.md).

The same handlers as the worker (``app.worker.handlers.registry``): a kind runs as a request
(``POST /tasks``) or, for work longer than a dispatch deadline, as the tasks of a job
execution, each handling its share (``ctx.shard(items)``).
"""

from app.job.main import (
    EXIT_BAD_ENVIRONMENT,
    EXIT_FAILED,
    EXIT_INVALID_PAYLOAD,
    EXIT_OK,
    EXIT_TERMINATED,
    EXIT_UNKNOWN_KIND,
    PAYLOAD_ENV,
    JobEnvironmentError,
    configure_job_logging,
    job_run_from_env,
    main,
    run_job_task,
)

__all__ = [
    "EXIT_BAD_ENVIRONMENT",
    "EXIT_FAILED",
    "EXIT_INVALID_PAYLOAD",
    "EXIT_OK",
    "EXIT_TERMINATED",
    "EXIT_UNKNOWN_KIND",
    "PAYLOAD_ENV",
    "JobEnvironmentError",
    "configure_job_logging",
    "job_run_from_env",
    "main",
    "run_job_task",
]
