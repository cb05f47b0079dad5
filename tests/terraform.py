"""Terraform as the judge of a synthesized stack, without a provider registry.

``terraform init -backend=false`` reads and checks the whole configuration (references,
``depends_on``, ``moved`` blocks, expressions, backend and provider blocks) before it looks
for providers. With a CLI configuration whose only provider source is an empty filesystem
mirror, a valid stack then fails with exactly one kind of error: the provider was not found.
Every other error is a stack Terraform refuses, so it cannot be deployed.

What init does not check (measured with Terraform 1.11.4): references to undeclared
resources and attribute names, which need the provider schema (``terraform validate``, run
by the CI workflow where the registry is reachable).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

INSTALL_HINT = (
    "terraform (>= 1.5; cdktf deploy/diff need it too) is not on PATH. Install it: "
    "https://developer.hashicorp.com/terraform/install (for example "
    "`sudo apt-get install terraform` from HashiCorp's apt repository, or unzip the "
    "release binary into a folder on PATH), then run `make test` again."
)
_ERROR_BLOCK = re.compile(r"^(?:│ )?Error: (.*)$", re.MULTILINE)
# The only error a valid configuration may end with here: no provider in the empty mirror.
_PROVIDER_NOT_FOUND = re.compile(r"provider registry\.terraform\.io/\S+ was not\s+found",
                                 re.MULTILINE)


@dataclass(frozen=True)
class Verdict:
    """What ``terraform init`` said about one configuration."""

    returncode: int
    output: str

    @property
    def errors(self) -> list[str]:
        """Each ``Error:`` block, summary and detail, as Terraform printed it."""
        starts = [m.start() for m in _ERROR_BLOCK.finditer(self.output)]
        return [self.output[a:b].strip() for a, b in zip(starts, [*starts[1:], None], strict=True)]

    @property
    def configuration_errors(self) -> list[str]:
        """Errors other than the expected "provider not found"."""
        return [e for e in self.errors if not _PROVIDER_NOT_FOUND.search(e)]

    @property
    def accepted(self) -> bool:
        """Terraform read the whole configuration and only missed the providers."""
        return (not self.configuration_errors
                and "Initializing provider plugins" in self.output)


def terraform_binary() -> str:
    """The terraform on PATH; an AssertionError saying how to install it otherwise (the
    Terraform checks are part of the suite: never skipped)."""
    binary = shutil.which("terraform")
    if binary is None:
        raise AssertionError(INSTALL_HINT)
    return binary


def judge(terraform: Mapping[str, Any] | Path) -> Verdict:
    """Run ``terraform init -backend=false`` on a stack (its JSON, or a cdk.tf.json path)."""
    document = (json.loads(terraform.read_text()) if isinstance(terraform, Path)
                else terraform)
    with tempfile.TemporaryDirectory(prefix="tf-judge-") as scratch:
        root = Path(scratch)
        (root / "mirror").mkdir()
        (root / "stack").mkdir()
        (root / "terraformrc").write_text(
            'provider_installation {\n  filesystem_mirror {\n'
            f'    path = "{root / "mirror"}"\n  }}\n}}\n')
        (root / "stack" / "cdk.tf.json").write_text(json.dumps(document, indent=2))
        env = {key: value for key, value in os.environ.items()
               if not key.startswith("TF_")}
        env.update(TF_CLI_CONFIG_FILE=str(root / "terraformrc"), TF_IN_AUTOMATION="1",
                   CHECKPOINT_DISABLE="1", TF_DATA_DIR=str(root / "data"))
        result = subprocess.run(
            [terraform_binary(), "init", "-backend=false", "-input=false", "-no-color"],
            cwd=root / "stack", env=env, capture_output=True, text=True, timeout=120,
            check=False,
        )
    return Verdict(result.returncode, result.stdout + result.stderr)
