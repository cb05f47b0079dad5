"""Where the stacks deploy: the fallbacks read from environment variables, and each
environment's resolved target (its own project, region and image, or these fallbacks).

These are the only inputs read from environment variables, so a fresh machine can synth
with none set (placeholders and one warning) and CI can point at real projects.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from constructs_lib import defaults
from constructs_lib.validation import (
    LOCATION,
    LOCATION_TEXT,
    PROJECT_ID,
    PROJECT_ID_TEXT,
    ConfigurationError,
    check_members,
    check_non_empty,
    check_string,
)

from .settings import EnvironmentSettings

PROJECT_ENV = "GOOGLE_CLOUD_PROJECT"
REGION_ENV = "GOOGLE_CLOUD_REGION"
IMAGE_ENV = "WORKER_IMAGE"
STATE_BUCKET_ENV = "TF_STATE_BUCKET"
STATE_PREFIX_ENV = "TF_STATE_PREFIX"
ENQUEUERS_ENV = "TASK_ENQUEUERS"

PLACEHOLDER_PROJECT = "replace-with-your-project"
PLACEHOLDER_IMAGE = defaults.IMAGE  # Google's public "hello" sample
DEFAULT_STATE_PREFIX = "cloud-tasks-cloud-run"


class PlaceholderWarning(UserWarning):
    """An environment names a placeholder project or image: fine for synth, not deploy."""


@dataclass(frozen=True)
class DeploySettings:
    """Fallbacks shared by every environment's stack, and the state backend."""

    project: str | None = None
    region: str | None = None
    image: str | None = None
    state_bucket: str | None = None
    state_prefix: str = DEFAULT_STATE_PREFIX
    extra_enqueuers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.project is not None:
            check_string(PROJECT_ENV, self.project, pattern=PROJECT_ID,
                         allowed=PROJECT_ID_TEXT)
        if self.region is not None:
            check_string(REGION_ENV, self.region, pattern=LOCATION, allowed=LOCATION_TEXT)
        if self.image is not None:
            check_non_empty(IMAGE_ENV, self.image)
        if self.state_bucket is not None:
            check_string(STATE_BUCKET_ENV, self.state_bucket,
                         pattern=r"[a-z0-9][-a-z0-9_.]{1,220}[a-z0-9]",
                         allowed="a Cloud Storage bucket name")
        check_string(STATE_PREFIX_ENV, self.state_prefix, pattern=r"[^\s/][^\s]*",
                     allowed="a path prefix without white space or a leading /")
        check_members(ENQUEUERS_ENV, self.extra_enqueuers)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> DeploySettings:
        """Read the fallbacks from the environment (unset or empty: no fallback)."""
        environ = os.environ if environ is None else environ

        def read(name: str) -> str | None:
            return environ.get(name, "").strip() or None

        enqueuers = tuple(
            m.strip() for m in environ.get(ENQUEUERS_ENV, "").split(",") if m.strip()
        )
        return cls(project=read(PROJECT_ENV), region=read(REGION_ENV), image=read(IMAGE_ENV),
                   state_bucket=read(STATE_BUCKET_ENV),
                   state_prefix=read(STATE_PREFIX_ENV) or DEFAULT_STATE_PREFIX,
                   extra_enqueuers=enqueuers)

    def target(self, env: EnvironmentSettings) -> Target:
        """Where ``env`` deploys: its own settings first, then these fallbacks."""
        project = env.project or self.project
        image = env.image or self.image
        target = Target(
            project=project or PLACEHOLDER_PROJECT,
            region=env.region or self.region or defaults.LOCATION,
            image=image or PLACEHOLDER_IMAGE,
            placeholder_project=project is None,
            placeholder_image=image is None,
        )
        # A protected environment is meant to live: it never gets the sample image by
        # accident. (With a placeholder project nothing can be deployed, so synth goes on.)
        protected = (env.service_name is not None and env.service.deletion_protection) or (
            env.job is not None and env.job.image is None and env.job.options.deletion_protection)
        if (target.placeholder_image and not target.placeholder_project
                and protected and not env.allow_placeholder_image):
            raise ConfigurationError(
                f"[{env.name}] image",
                f"set (or {IMAGE_ENV}) for an environment with deletion protection; "
                "allow_placeholder_image = true deploys Google's sample image on purpose",
                None)
        return target


@dataclass(frozen=True)
class Target:
    """One environment's resolved project, region and image."""

    project: str
    region: str
    image: str
    placeholder_project: bool
    placeholder_image: bool


def placeholder_message(targets: Mapping[str, Target]) -> str | None:
    """One plain sentence about every environment that uses a placeholder, or None."""
    parts = []
    projects = sorted(name for name, t in targets.items() if t.placeholder_project)
    images = sorted(name for name, t in targets.items() if t.placeholder_image)
    if projects:
        parts.append(f"no project for {', '.join(projects)} (set project in the environment's "
                     f"table or {PROJECT_ENV}); the stacks name {PLACEHOLDER_PROJECT!r}")
    if images:
        parts.append(f"no image for {', '.join(images)} (set image or {IMAGE_ENV}); the "
                     "stacks run Google's hello sample")
    if not parts:
        return None
    return "warning: " + "; ".join(parts) + ". Synth works; set them before deploy."
