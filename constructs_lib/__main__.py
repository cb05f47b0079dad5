"""Reference output built from the code:

* ``python -m constructs_lib limits > docs/limits.md``: the rules of every field written;
* ``python -m constructs_lib options``: the README's option tables.
"""

from __future__ import annotations

import sys

from .limits import markdown
from .reference import readme_blocks

if __name__ == "__main__":
    command = sys.argv[1:]
    if command == ["limits"]:
        sys.stdout.write(markdown())
    elif command == ["options"]:
        for name, table in readme_blocks().items():
            sys.stdout.write(f"<!-- options:{name} -->\n{table}\n<!-- /options -->\n\n")
    else:
        sys.stderr.write("usage: python -m constructs_lib limits | options\n")
        raise SystemExit(2)
