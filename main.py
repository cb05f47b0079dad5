#!/usr/bin/env python
"""cdktf entry point: synthesize one stack per environment into cdktf.out/."""

from stacks import node_runtime

node_runtime.configure()  # before cdktf starts its node process (see stacks/node_runtime.py)

from stacks import build_app  # noqa: E402

if __name__ == "__main__":
    build_app().synth()
