"""Process checks for tests and runs that start servers: every process a test starts, it stops."""

from __future__ import annotations

import os
from pathlib import Path


def live_children() -> set[int]:
    """Live (non-zombie) child processes of this test process (Linux /proc)."""
    me, found = os.getpid(), set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) == me and fields[0] != "Z":
                found.add(int(entry.name))
    return found
