"""Node flags for the jsii kernel that runs behind cdktf; set before ``cdktf`` is imported.

* ``--max-semi-space-size=1``: the provider's JavaScript stays on node's heap whatever
  Python imports; a 1 MB young generation trims ~30 MB of peak RSS.
* ``--require stacks/node/code_cache.js``: a V8 code cache for the packages jsii loads, so a
  synth does not parse the provider's ~200 MB of JavaScript again (a synth takes 1.14x as
  long without it on cdktf, 1.10x on cdktn: docs/benchmarks.md; ~150 MB on disk under the
  cache directory). Used on Node 22 (cdktn) too: node's built-in
  compile cache (``NODE_COMPILE_CACHE``) is keyed by path and jsii extracts to a new
  /tmp/jsii-kernel-* directory in every process, so it never hits there and grows by ~215 MB
  per synth (measured: docs/cdktn.md, ``bench/synth.py``).

Environment: ``CDKTF_NODE_CODE_CACHE=0`` turns the code cache off;
``CDKTF_NODE_CODE_CACHE_DIR`` moves it (default ``$XDG_CACHE_HOME`` or ``~/.cache``, then
``cloud-tasks-cloud-run/v8-code-cache``; a directory that cannot be written turns the cache
off, never the synth). ``bench/synth.py`` measures both effects.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from pathlib import Path

CODE_CACHE_SCRIPT = Path(__file__).resolve().parent / "node" / "code_cache.js"
SWITCH_ENV = "CDKTF_NODE_CODE_CACHE"
DIR_ENV = "CDKTF_NODE_CODE_CACHE_DIR"
SEMI_SPACE_FLAG = "--max-semi-space-size=1"


def default_cache_dir(environ: MutableMapping[str, str]) -> Path:
    home = environ.get("HOME") or str(Path.home())
    base = environ.get("XDG_CACHE_HOME") or str(Path(home) / ".cache")
    return Path(base) / "cloud-tasks-cloud-run" / "v8-code-cache"


def configure(environ: MutableMapping[str, str] | None = None) -> None:
    """Add the flags to ``NODE_OPTIONS`` (idempotent; the caller's own flags are kept)."""
    environ = os.environ if environ is None else environ
    environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    options = environ.get("NODE_OPTIONS", "").split()
    if not any(o.startswith("--max-semi-space-size") for o in options):
        options.append(SEMI_SPACE_FLAG)
    if environ.get(SWITCH_ENV, "1").strip() not in ("0", "false", "off"):
        script = str(CODE_CACHE_SCRIPT)
        if script not in " ".join(options):
            # NODE_OPTIONS takes double quotes around a path with spaces.
            options += ["--require", f'"{script}"' if any(c.isspace() for c in script) else script]
        environ[DIR_ENV] = environ.get(DIR_ENV) or str(default_cache_dir(environ))
    environ["NODE_OPTIONS"] = " ".join(options)
