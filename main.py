#!/usr/bin/env python
"""cdktf entry point: synthesize one stack per environment into cdktf.out/."""

import os

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from stacks import build_app  # noqa: E402

if __name__ == "__main__":
    build_app().synth()
