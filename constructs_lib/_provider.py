"""Load only the provider submodules the library uses (cdktf; nothing to do on cdktn).

The prebuilt google provider package ends its ``__init__`` by importing all 1,473 of
its submodules (about 10 s and 1 GB on a small machine), although a stack uses a
handful. :func:`install` registers the package module with that tail cut off and a
module ``__getattr__`` that imports a submodule on first use, so:

* ``from cdktf_cdktf_provider_google.cloud_run_v2_service import X`` loads one submodule;
* ``import cdktf_cdktf_provider_google as g; g.storage_bucket.StorageBucket`` still works
  (loaded lazily on attribute access), as does ``from cdktf_cdktf_provider_google import *``;
* if the package was already imported the normal way (before ``constructs_lib``), nothing
  can be trimmed: :func:`install` says so once with a :class:`ProviderImportWarning`
  (every synth then pays the full import: 12.3 s instead of 3.0 s and 983 MB instead of
  581 MB in docs/benchmarks.md), so the import order is never wrong silently.

Set ``CONSTRUCTS_LIB_EAGER_PROVIDER=1`` to skip this and import the package normally
(no warning: the eager import was asked for).
On cdktn the provider package already loads its submodules lazily: :func:`install` does
nothing there (it imports nothing and patches nothing).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import warnings
from collections.abc import Callable
from types import ModuleType

from ._framework import FRAMEWORK

PROVIDER_PACKAGE = FRAMEWORK.google
EAGER_ENV_VAR = "CONSTRUCTS_LIB_EAGER_PROVIDER"
# The generated __init__ announces its eager tail with this comment (jsii-pacmak output).
_EAGER_TAIL_MARKER = "# Loading modules to ensure their types are registered"
# Set on the package module this module registered (trimmed, lazy submodules).
_TRIMMED = "__constructs_lib_trimmed__"
_warned = False


class ProviderImportWarning(UserWarning):
    """The provider package was imported in full before ``constructs_lib``."""


def _warn_already_imported() -> None:
    global _warned
    if _warned:
        return
    _warned = True
    warnings.warn(
        f"{PROVIDER_PACKAGE} was imported before constructs_lib, so all of its submodules "
        f"were loaded (several seconds and hundreds of MB more per synth). Import "
        f"constructs_lib (or constructs_lib._framework) before {PROVIDER_PACKAGE} to load only "
        f"the submodules used, or set {EAGER_ENV_VAR}=1 to keep the full import and silence "
        f"this warning.",
        ProviderImportWarning, stacklevel=4)


def install() -> ModuleType | None:
    """Register the provider package with lazy submodules; return the package module
    (``None`` on a framework whose package is lazy already: nothing is done there)."""
    if FRAMEWORK.provider_loads_lazily:
        return None
    eager = os.environ.get(EAGER_ENV_VAR, "").strip() not in ("", "0")
    existing = sys.modules.get(PROVIDER_PACKAGE)
    if existing is not None:
        if not getattr(existing, _TRIMMED, False) and not eager:
            _warn_already_imported()
        return existing
    if eager:
        return importlib.import_module(PROVIDER_PACKAGE)

    spec = importlib.util.find_spec(PROVIDER_PACKAGE)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(
            f"{PROVIDER_PACKAGE} is not installed: pip install -r {FRAMEWORK.requirements}"
        )
    with open(spec.origin, encoding="utf-8") as source_file:
        source = source_file.read()
    head, marker, _tail = source.partition(_EAGER_TAIL_MARKER)
    if not marker:
        # A provider build without the eager tail: nothing to trim.
        return importlib.import_module(PROVIDER_PACKAGE)

    module = importlib.util.module_from_spec(spec)
    sys.modules[PROVIDER_PACKAGE] = module
    try:
        exec(compile(head, spec.origin, "exec"), module.__dict__)  # noqa: S102 - the package's own code
    except BaseException:
        sys.modules.pop(PROVIDER_PACKAGE, None)
        sys.modules.pop(PROVIDER_PACKAGE + "._private", None)
        raise
    # publication.publish() in the package swaps in a "public" module object: patch that one.
    module = sys.modules[PROVIDER_PACKAGE]
    submodules = frozenset(getattr(module, "__all__", ()))
    # PEP 562: a module's __getattr__ and __dir__ are looked up in its __dict__.
    module.__dict__["__getattr__"] = _lazy_submodule_getter(submodules)
    module.__dict__["__dir__"] = lambda: sorted(set(module.__dict__) | submodules)
    module.__dict__[_TRIMMED] = True
    return module


def _lazy_submodule_getter(submodules: frozenset[str]) -> Callable[[str], ModuleType]:
    def __getattr__(name: str) -> ModuleType:
        if name in submodules:
            return importlib.import_module(f"{PROVIDER_PACKAGE}.{name}")
        raise AttributeError(f"module {PROVIDER_PACKAGE!r} has no attribute {name!r}")

    return __getattr__


def loaded_submodules() -> list[str]:
    """Names of the provider submodules imported so far (for tests and benchmarks)."""
    prefix = PROVIDER_PACKAGE + "."
    return sorted(
        name[len(prefix):]
        for name in sys.modules
        if name.startswith(prefix) and "." not in name[len(prefix):]
        and not name[len(prefix):].startswith("_")
    )
