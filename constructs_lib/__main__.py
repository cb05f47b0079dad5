"""Reference output built from the code:

* ``python -m constructs_lib limits > docs/limits.md``: the rules of every field written;
* ``python -m constructs_lib options``: the README's option and keyword tables.
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
        for marker, table in readme_blocks().items():
            kind = marker.partition(":")[0]
            sys.stdout.write(f"<!-- {marker} -->\n{table}\n<!-- /{kind} -->\n\n")
    else:
        sys.stderr.write("usage: python -m constructs_lib limits | options\n")
        raise SystemExit(2)
