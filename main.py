#!/usr/bin/env python
"""cdktf entry point: synthesize one stack per environment into cdktf.out/."""

import sys

from stacks import node_runtime

node_runtime.configure()  # before cdktf starts its node process (see stacks/node_runtime.py)

from constructs_lib import ConfigurationError  # noqa: E402
from stacks import build_app  # noqa: E402

if __name__ == "__main__":
    try:
        app = build_app()
    except ConfigurationError as error:
        # A setting the user wrote is wrong: say which, without a traceback; nothing is synthesized.
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    app.synth()
