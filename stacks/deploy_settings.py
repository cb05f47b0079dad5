"""Where the stacks deploy: project, region, image, state backend; from the environment.

These are the only inputs read from environment variables, so a fresh machine can synth
with none set (a placeholder project and a warning) and CI can point at a real project.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

from constructs_lib import defaults
from constructs_lib.validation import (
    LOCATION,
    LOCATION_TEXT,
    PROJECT_ID,
    PROJECT_ID_TEXT,
    check_members,
    check_non_empty,
    check_string,
)

PROJECT_ENV = "GOOGLE_CLOUD_PROJECT"
REGION_ENV = "GOOGLE_CLOUD_REGION"
IMAGE_ENV = "WORKER_IMAGE"
STATE_BUCKET_ENV = "TF_STATE_BUCKET"
STATE_PREFIX_ENV = "TF_STATE_PREFIX"
ENQUEUERS_ENV = "TASK_ENQUEUERS"

PLACEHOLDER_PROJECT = "replace-with-your-project"
DEFAULT_STATE_PREFIX = "cloud-tasks-cloud-run"


class PlaceholderProjectWarning(UserWarning):
    """GOOGLE_CLOUD_PROJECT is unset: the stacks name a placeholder project."""


@dataclass(frozen=True)
class DeploySettings:
    """Deployment target shared by every environment's stack."""

    project: str = PLACEHOLDER_PROJECT
    region: str = defaults.LOCATION
    image: str = defaults.IMAGE
    state_bucket: str | None = None
    state_prefix: str = DEFAULT_STATE_PREFIX
    extra_enqueuers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_string(PROJECT_ENV, self.project, pattern=PROJECT_ID, allowed=PROJECT_ID_TEXT)
        check_string(REGION_ENV, self.region, pattern=LOCATION, allowed=LOCATION_TEXT)
        check_non_empty(IMAGE_ENV, self.image)
        if self.state_bucket is not None:
            check_string(STATE_BUCKET_ENV, self.state_bucket,
                         pattern=r"[a-z0-9][-a-z0-9_.]{1,220}[a-z0-9]",
                         allowed="a Cloud Storage bucket name")
        check_string(STATE_PREFIX_ENV, self.state_prefix, pattern=r"[^\s/][^\s]*",
                     allowed="a path prefix without white space or a leading /")
        check_members(ENQUEUERS_ENV, self.extra_enqueuers)

    @property
    def is_placeholder(self) -> bool:
        return self.project == PLACEHOLDER_PROJECT

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> DeploySettings:
        """Read the settings; warn (once per call) when the project is not set."""
        environ = os.environ if environ is None else environ
        project = environ.get(PROJECT_ENV, "").strip()
        if not project:
            warnings.warn(
                f"{PROJECT_ENV} is not set: the stacks use the placeholder project "
                f"{PLACEHOLDER_PROJECT!r}. Synth works; set {PROJECT_ENV} before deploy.",
                PlaceholderProjectWarning,
                stacklevel=2,
            )
            project = PLACEHOLDER_PROJECT
        enqueuers = tuple(
            m.strip() for m in environ.get(ENQUEUERS_ENV, "").split(",") if m.strip()
        )
        return cls(
            project=project,
            region=environ.get(REGION_ENV, "").strip() or defaults.LOCATION,
            image=environ.get(IMAGE_ENV, "").strip() or defaults.IMAGE,
            state_bucket=environ.get(STATE_BUCKET_ENV, "").strip() or None,
            state_prefix=environ.get(STATE_PREFIX_ENV, "").strip() or DEFAULT_STATE_PREFIX,
            extra_enqueuers=enqueuers,
        )
