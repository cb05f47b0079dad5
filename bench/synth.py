#!/usr/bin/env python
"""Full-app synth: the library's provider loading against the normal full import.

The variants run the same `main.py` (every environment stack) in fresh processes, in
rotating order, for several rounds; the synthesized stacks are compared byte for byte.
Both main variants get the same node flags (stacks/node_runtime.py), so only the Python
side's loading differs; a third variant shows the library without node's code cache.
Prints median wall time, peak RSS of the whole process tree (Python + the jsii node
processes), and the ratios. Usage: python bench/synth.py [--rounds N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _proctree import run_measured  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from stacks import node_runtime  # noqa: E402
NORMAL_IMPORT = (
    "import cdktf_cdktf_provider_google, runpy; "  # the package's own __init__: all submodules
    f"runpy.run_path({str(ROOT / 'main.py')!r}, run_name='__main__')"
)
VARIANTS = {
    "library loading": [sys.executable, str(ROOT / "main.py")],
    "normal import": [sys.executable, "-c", NORMAL_IMPORT],
    "library, no code cache": [sys.executable, str(ROOT / "main.py")],
}
VARIANT_ENV = {"library, no code cache": {"CDKTF_NODE_CODE_CACHE": "0",
                                          "CDKTF_NODE_CODE_CACHE_DIR": ""}}


def synthesized(outdir: Path) -> dict[str, bytes]:
    return {p.parent.name: p.read_bytes() for p in sorted(outdir.glob("stacks/*/cdk.tf.json"))}


def warm_up(env: dict[str, str]) -> None:
    """One untimed synth: fills jsii's package cache and node's code cache."""
    with tempfile.TemporaryDirectory() as cwd:
        run_measured(VARIANTS["library loading"], cwd=cwd, env=env)


def mib(values: list[int]) -> str:
    median = statistics.median(values)
    return f"{median / 2**20:5.0f} MiB ({median / 1e6:4.0f} MB)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GOOGLE_CLOUD_PROJECT": "bench-project",
           "WORKER_IMAGE": "us-docker.pkg.dev/bench-project/apps/worker:1",
           "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    env.pop("CONSTRUCTS_LIB_EAGER_PROVIDER", None)
    # main.py sets these too, but the normal-import variant starts jsii before main.py
    # runs: give every variant the same node flags, so only the Python loading differs.
    node_runtime.configure(env)
    warm_up(env)
    runs: dict[str, list] = {name: [] for name in VARIANTS}
    outputs: dict[str, dict[str, bytes]] = {}
    walls: dict[str, list[float]] = {name: [] for name in VARIANTS}
    print(f"synth of every stack in main.py, rotating order: {args.rounds} timed rounds "
          f"(nothing sampled), then {args.rounds} memory rounds (/proc sampled every 20 ms)",
          flush=True)
    for phase in ("time", "memory"):
        for round_no in range(1, args.rounds + 1):
            names = list(VARIANTS)
            shift = (round_no - 1) % len(names)
            for name in names[shift:] + names[:shift]:
                variant_env = {**env, **VARIANT_ENV.get(name, {})}
                if name in VARIANT_ENV:
                    variant_env["NODE_OPTIONS"] = node_runtime.SEMI_SPACE_FLAG
                with tempfile.TemporaryDirectory() as cwd:
                    run = run_measured(VARIANTS[name], cwd=cwd, env=variant_env,
                                       memory=phase == "memory")
                    outputs[name] = synthesized(Path(cwd) / "cdktf.out")
                if phase == "time":
                    walls[name].append(run.wall)
                    print(f"  time   {round_no}: {name:24s} {run.wall:6.2f} s", flush=True)
                else:
                    runs[name].append(run)
                    print(f"  memory {round_no}: {name:24s} RSS sum {run.rss_sum / 2**20:4.0f} MiB"
                          f"  PSS sum {run.pss_sum / 2**20:4.0f} MiB  largest process "
                          f"{run.rss_max / 2**20:4.0f} MiB", flush=True)
    same = bool(outputs["normal import"]) and all(
        out == outputs["normal import"] for out in outputs.values())
    wall = {name: statistics.median(values) for name, values in walls.items()}
    print()
    print(f"{'variant (medians)':24s} {'wall':>8s}   {'peak RSS, sum':>22s}   "
          f"{'peak PSS, sum':>22s}   {'largest process RSS':>22s}")
    for name, rs in runs.items():
        print(f"{name:24s} {wall[name]:6.2f} s   {mib([r.rss_sum for r in rs])}   "
              f"{mib([r.pss_sum for r in rs])}   {mib([r.rss_max for r in rs])}")
    lib, normal = runs["library loading"], runs["normal import"]
    print(f"ratio library/normal: wall {wall['library loading'] / wall['normal import']:.2f}x, "
          f"peak RSS sum {statistics.median(r.rss_sum for r in lib) / statistics.median(r.rss_sum for r in normal):.2f}x, "
          f"peak PSS sum {statistics.median(r.pss_sum for r in lib) / statistics.median(r.pss_sum for r in normal):.2f}x")
    print(f"ratio library without node code cache/normal: wall "
          f"{wall['library, no code cache'] / wall['normal import']:.2f}x")
    print(f"identical cdk.tf.json for {sorted(outputs['normal import'])}: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
