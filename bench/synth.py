#!/usr/bin/env python
"""Full-app synth: the library's provider loading against the normal full import.

Both variants run the same `main.py` (every environment stack) in fresh processes,
alternating, for several rounds; the synthesized stacks are compared byte for byte.
Prints median wall time, peak RSS of the whole process tree (Python + the jsii node
kernel), and the ratios. Usage: python bench/synth.py [--rounds N]
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
NORMAL_IMPORT = (
    "import cdktf_cdktf_provider_google, runpy; "  # the package's own __init__: all submodules
    f"runpy.run_path({str(ROOT / 'main.py')!r}, run_name='__main__')"
)
VARIANTS = {
    "library loading": [sys.executable, str(ROOT / "main.py")],
    "normal import": [sys.executable, "-c", NORMAL_IMPORT],
}


def synthesized(outdir: Path) -> dict[str, bytes]:
    return {p.parent.name: p.read_bytes() for p in sorted(outdir.glob("stacks/*/cdk.tf.json"))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GOOGLE_CLOUD_PROJECT": "bench-project",
           "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    env.pop("CONSTRUCTS_LIB_EAGER_PROVIDER", None)
    # main.py sets this too, but the normal-import variant starts jsii before main.py runs:
    # give both the same node flags so only the loading differs.
    env["NODE_OPTIONS"] = (env.get("NODE_OPTIONS", "") + " --max-semi-space-size=1").strip()
    walls: dict[str, list[float]] = {name: [] for name in VARIANTS}
    peaks: dict[str, list[int]] = {name: [] for name in VARIANTS}
    outputs: dict[str, dict[str, bytes]] = {}
    print(f"synth of every stack in main.py, {args.rounds} rounds, alternating", flush=True)
    for round_no in range(1, args.rounds + 1):
        order = list(VARIANTS) if round_no % 2 else list(reversed(VARIANTS))
        for name in order:
            with tempfile.TemporaryDirectory() as cwd:
                wall, peak, _ = run_measured(VARIANTS[name], cwd=cwd, env=env)
                outputs[name] = synthesized(Path(cwd) / "cdktf.out")
            walls[name].append(wall)
            peaks[name].append(peak)
            print(f"  round {round_no}: {name:16s} {wall:6.2f} s  {peak / 2**20:7.0f} MiB",
                  flush=True)
    same = outputs["library loading"] == outputs["normal import"] and outputs["normal import"]
    print()
    print(f"{'variant':18s} {'median wall':>12s} {'median peak RSS':>16s}")
    for name in VARIANTS:
        print(f"{name:18s} {statistics.median(walls[name]):10.2f} s "
              f"{statistics.median(peaks[name]) / 2**20:12.0f} MiB")
    wall_ratio = statistics.median(walls["library loading"]) / statistics.median(
        walls["normal import"])
    rss_ratio = statistics.median(peaks["library loading"]) / statistics.median(
        peaks["normal import"])
    print(f"ratio library/normal: wall {wall_ratio:.2f}x, peak RSS {rss_ratio:.2f}x")
    print(f"peak RSS limit 600 MB: library loading "
          f"{statistics.median(peaks['library loading']) / 1e6:.0f} MB")
    print(f"identical cdk.tf.json for {sorted(outputs['normal import'])}: {bool(same)}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
