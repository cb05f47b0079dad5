"""``python -m constructs_lib limits``: print docs/limits.md (the rules of every field)."""

from __future__ import annotations

import sys

from .limits import markdown

if __name__ == "__main__":
    if sys.argv[1:] != ["limits"]:
        sys.stderr.write("usage: python -m constructs_lib limits > docs/limits.md\n")
        raise SystemExit(2)
    sys.stdout.write(markdown())
