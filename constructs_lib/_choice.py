"""Which framework the library runs on: cdktf or cdktn (see ``_framework``).

Imports neither framework (only looks them up), so it can be read before either is loaded:
the test suite picks its snapshot folder with it (tests/conftest.py).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

ENV_VAR = "CONSTRUCTS_LIB_FRAMEWORK"
DEFAULT = "cdktf"


@dataclass(frozen=True, kw_only=True)
class Framework:
    """One framework's Python packages and how to install them."""

    name: str
    core: str  # the framework package: cdktf or cdktn
    google: str  # the prebuilt google provider package
    random: str  # the prebuilt random provider package
    requirements: str  # the pip requirements file that installs it
    cli: str  # the command that synthesizes, diffs and deploys
    # The google package's __init__ loads its submodules on first use by itself (cdktn's
    # jsii-pacmak output, PEP 562); cdktf's imports all 1,473 of them (see _provider).
    provider_loads_lazily: bool
    google_provider: str  # the hashicorp/google version the provider package wraps
    random_provider: str  # the hashicorp/random version

    @property
    def google_provider_major(self) -> int:
        return int(self.google_provider.split(".")[0])

    @property
    def packages(self) -> tuple[str, str, str]:
        return (self.core, self.google, self.random)


FRAMEWORKS: Mapping[str, Framework] = {
    "cdktf": Framework(name="cdktf", core="cdktf", google="cdktf_cdktf_provider_google",
                       random="cdktf_cdktf_provider_random", requirements="requirements.txt",
                       cli="npx cdktf", provider_loads_lazily=False,
                       google_provider="6.50.0", random_provider="3.7.2"),
    "cdktn": Framework(name="cdktn", core="cdktn", google="cdktn_provider_google",
                       random="cdktn_provider_random", requirements="requirements-cdktn.txt",
                       cli="tools/cdktn/node_modules/.bin/cdktn", provider_loads_lazily=True,
                       google_provider="8.7.0", random_provider="3.9.1"),
}


class FrameworkNotInstalled(ImportError):
    """The framework asked for (or any framework) is not installed."""


def _installed(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def choose(environ: Mapping[str, str] | None = None,
           installed: Callable[[str], bool] = _installed,
           imported: Collection[str] | None = None) -> Framework:
    """The framework to use: the asked one (``CONSTRUCTS_LIB_FRAMEWORK``); else the one
    installed; with both installed, the one the application imported already (an app that
    ran ``import cdktn`` first gets cdktn), else cdktf, the default."""
    environ = os.environ if environ is None else environ
    imported = sys.modules if imported is None else imported
    asked = environ.get(ENV_VAR, "").strip()
    if asked:
        if asked not in FRAMEWORKS:
            raise ValueError(
                f"{ENV_VAR} must be one of {', '.join(FRAMEWORKS)} (or unset), "
                f"but {asked!r} was given")
        framework = FRAMEWORKS[asked]
        missing = [p for p in framework.packages if not installed(p)]
        if missing:
            raise FrameworkNotInstalled(
                f"{ENV_VAR}={asked} asks for {asked}, but {', '.join(missing)} "
                f"{'is' if len(missing) == 1 else 'are'} not installed: "
                f"pip install -r {framework.requirements}")
        return framework
    complete = [f for f in FRAMEWORKS.values() if all(installed(p) for p in f.packages)]
    if not complete:
        raise FrameworkNotInstalled(
            "neither cdktf nor cdktn is installed with its google and random providers: "
            + " or ".join(f"pip install -r {f.requirements}" for f in FRAMEWORKS.values()))
    if len(complete) == 1:
        return complete[0]
    in_use = [f for f in complete if f.core in imported]
    return in_use[0] if len(in_use) == 1 else FRAMEWORKS[DEFAULT]
